from protocol.proto.duet.v1 import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class DownloadRequest(_message.Message):
    __slots__ = ("total_bytes", "chunk_bytes")
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    total_bytes: int
    chunk_bytes: int
    def __init__(self, total_bytes: _Optional[int] = ..., chunk_bytes: _Optional[int] = ...) -> None: ...
