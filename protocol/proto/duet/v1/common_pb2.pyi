from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DataSplit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATA_SPLIT_UNSPECIFIED: _ClassVar[DataSplit]
    DATA_SPLIT_TRAIN: _ClassVar[DataSplit]
    DATA_SPLIT_VALIDATION: _ClassVar[DataSplit]
DATA_SPLIT_UNSPECIFIED: DataSplit
DATA_SPLIT_TRAIN: DataSplit
DATA_SPLIT_VALIDATION: DataSplit

class StreamHeader(_message.Message):
    __slots__ = ("kind", "session_id", "total_bytes", "item_bytes")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    ITEM_BYTES_FIELD_NUMBER: _ClassVar[int]
    kind: str
    session_id: str
    total_bytes: int
    item_bytes: int
    def __init__(self, kind: _Optional[str] = ..., session_id: _Optional[str] = ..., total_bytes: _Optional[int] = ..., item_bytes: _Optional[int] = ...) -> None: ...

class Chunk(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: StreamHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[StreamHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class TransferSummary(_message.Message):
    __slots__ = ("total_bytes", "chunks", "sha256")
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    total_bytes: int
    chunks: int
    sha256: bytes
    def __init__(self, total_bytes: _Optional[int] = ..., chunks: _Optional[int] = ..., sha256: _Optional[bytes] = ...) -> None: ...
