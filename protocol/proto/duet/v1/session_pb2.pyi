from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar

from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from google.protobuf.internal import containers as _containers

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
    def __init__(
        self,
        party_id: str | None = ...,
        protocol_version: int | None = ...,
        capabilities: _Iterable[str] | None = ...,
        software_version: str | None = ...,
    ) -> None: ...

class HelloReply(_message.Message):
    __slots__ = (
        "party_id",
        "protocol_version",
        "capabilities",
        "software_version",
        "shared_capabilities",
    )
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
    def __init__(
        self,
        party_id: str | None = ...,
        protocol_version: int | None = ...,
        capabilities: _Iterable[str] | None = ...,
        software_version: str | None = ...,
        shared_capabilities: _Iterable[str] | None = ...,
    ) -> None: ...
