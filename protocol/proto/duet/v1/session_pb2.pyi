from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class HelloRequest(_message.Message):
    __slots__ = ("party_id", "protocol_version", "capabilities", "software_version")
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    SOFTWARE_VERSION_FIELD_NUMBER: _ClassVar[int]
    party_id: str
    protocol_version: int
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    software_version: str
    def __init__(self, party_id: _Optional[str] = ..., protocol_version: _Optional[int] = ..., capabilities: _Optional[_Iterable[str]] = ..., software_version: _Optional[str] = ...) -> None: ...

class HelloReply(_message.Message):
    __slots__ = ("party_id", "protocol_version", "capabilities", "software_version", "shared_capabilities")
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    SOFTWARE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SHARED_CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    party_id: str
    protocol_version: int
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    software_version: str
    shared_capabilities: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, party_id: _Optional[str] = ..., protocol_version: _Optional[int] = ..., capabilities: _Optional[_Iterable[str]] = ..., software_version: _Optional[str] = ..., shared_capabilities: _Optional[_Iterable[str]] = ...) -> None: ...
