from protocol.proto.duet.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BinningMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BINNING_METHOD_UNSPECIFIED: _ClassVar[BinningMethod]
    BINNING_METHOD_QUANTILE: _ClassVar[BinningMethod]
    BINNING_METHOD_WIDTH: _ClassVar[BinningMethod]
BINNING_METHOD_UNSPECIFIED: BinningMethod
BINNING_METHOD_QUANTILE: BinningMethod
BINNING_METHOD_WIDTH: BinningMethod

class BinSumsRequest(_message.Message):
    __slots__ = ("job_id", "public_key", "features", "bins", "method")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    BINS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    public_key: bytes
    features: _containers.RepeatedScalarFieldContainer[int]
    bins: int
    method: BinningMethod
    def __init__(self, job_id: _Optional[str] = ..., public_key: _Optional[bytes] = ..., features: _Optional[_Iterable[int]] = ..., bins: _Optional[int] = ..., method: _Optional[_Union[BinningMethod, str]] = ...) -> None: ...

class BinSumsUpload(_message.Message):
    __slots__ = ("request", "labels")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    request: BinSumsRequest
    labels: _common_pb2.Chunk
    def __init__(self, request: _Optional[_Union[BinSumsRequest, _Mapping]] = ..., labels: _Optional[_Union[_common_pb2.Chunk, _Mapping]] = ...) -> None: ...

class FeatureBins(_message.Message):
    __slots__ = ("feature", "name", "bins", "labels")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BINS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    feature: int
    name: str
    bins: int
    labels: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, feature: _Optional[int] = ..., name: _Optional[str] = ..., bins: _Optional[int] = ..., labels: _Optional[_Iterable[str]] = ...) -> None: ...

class BinSumsLayout(_message.Message):
    __slots__ = ("features",)
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedCompositeFieldContainer[FeatureBins]
    def __init__(self, features: _Optional[_Iterable[_Union[FeatureBins, _Mapping]]] = ...) -> None: ...

class BinSumsDownload(_message.Message):
    __slots__ = ("layout", "sums")
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    SUMS_FIELD_NUMBER: _ClassVar[int]
    layout: BinSumsLayout
    sums: _common_pb2.Chunk
    def __init__(self, layout: _Optional[_Union[BinSumsLayout, _Mapping]] = ..., sums: _Optional[_Union[_common_pb2.Chunk, _Mapping]] = ...) -> None: ...
