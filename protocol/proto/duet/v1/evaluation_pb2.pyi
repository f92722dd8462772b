from protocol.proto.duet.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScoreKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCORE_KIND_UNSPECIFIED: _ClassVar[ScoreKind]
    SCORE_KIND_PARTIAL: _ClassVar[ScoreKind]
    SCORE_KIND_SHARE: _ClassVar[ScoreKind]
SCORE_KIND_UNSPECIFIED: ScoreKind
SCORE_KIND_PARTIAL: ScoreKind
SCORE_KIND_SHARE: ScoreKind

class EvaluateRequest(_message.Message):
    __slots__ = ("job_id", "split", "round", "kind", "public_key", "rows", "modulus", "bank_spread")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    MODULUS_FIELD_NUMBER: _ClassVar[int]
    BANK_SPREAD_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    split: _common_pb2.DataSplit
    round: int
    kind: ScoreKind
    public_key: bytes
    rows: int
    modulus: float
    bank_spread: float
    def __init__(self, job_id: _Optional[str] = ..., split: _Optional[_Union[_common_pb2.DataSplit, str]] = ..., round: _Optional[int] = ..., kind: _Optional[_Union[ScoreKind, str]] = ..., public_key: _Optional[bytes] = ..., rows: _Optional[int] = ..., modulus: _Optional[float] = ..., bank_spread: _Optional[float] = ...) -> None: ...

class EvaluateUpload(_message.Message):
    __slots__ = ("request", "values")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    request: EvaluateRequest
    values: _common_pb2.Chunk
    def __init__(self, request: _Optional[_Union[EvaluateRequest, _Mapping]] = ..., values: _Optional[_Union[_common_pb2.Chunk, _Mapping]] = ...) -> None: ...

class EvaluateLayout(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: int
    def __init__(self, rows: _Optional[int] = ...) -> None: ...

class EvaluateDownload(_message.Message):
    __slots__ = ("layout", "pairs")
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    layout: EvaluateLayout
    pairs: _common_pb2.Chunk
    def __init__(self, layout: _Optional[_Union[EvaluateLayout, _Mapping]] = ..., pairs: _Optional[_Union[_common_pb2.Chunk, _Mapping]] = ...) -> None: ...
