from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar

from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from google.protobuf.internal import containers as _containers

DESCRIPTOR: _descriptor.FileDescriptor

class StreamHeader(_message.Message):
    __slots__ = ("kind", "session_id", "total_bytes", "item_bytes", "params")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: str | None = ..., value: str | None = ...) -> None: ...

    KIND_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    ITEM_BYTES_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    session_id: str
    total_bytes: int
    item_bytes: int
    params: _containers.ScalarMap[str, str]
    def __init__(
        self,
        kind: str | None = ...,
        session_id: str | None = ...,
        total_bytes: int | None = ...,
        item_bytes: int | None = ...,
        params: _Mapping[str, str] | None = ...,
    ) -> None: ...

class Chunk(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: StreamHeader
    data: bytes
    def __init__(
        self, header: StreamHeader | _Mapping | None = ..., data: bytes | None = ...
    ) -> None: ...

class TransferSummary(_message.Message):
    __slots__ = ("total_bytes", "chunks", "sha256")
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    total_bytes: int
    chunks: int
    sha256: bytes
    def __init__(
        self,
        total_bytes: int | None = ...,
        chunks: int | None = ...,
        sha256: bytes | None = ...,
    ) -> None: ...
