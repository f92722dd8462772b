"""Handshake messages: proto <-> domain (the only module touching session_pb2)."""

from __future__ import annotations

import re

from protocol.errors import InvalidArgument
from protocol.proto.duet.v1 import session_pb2
from protocol.serde import check_party_id
from protocol.session.messages import Hello

_CAPABILITY_RE = re.compile(r"^[a-z0-9-]+/[a-z0-9.-]+/[0-9]+$")


def _hello_fields(
    msg: session_pb2.HelloRequest | session_pb2.HelloReply, name: str
) -> tuple[str, int, tuple[str, ...]]:
    party_id = check_party_id(msg.party_id, f"{name}.party_id")
    if msg.protocol_version == 0:
        raise InvalidArgument(f"{name}.protocol_version: missing (must be >= 1)")
    for i, cap in enumerate(msg.capabilities):
        if not _CAPABILITY_RE.match(cap):
            raise InvalidArgument(
                f"{name}.capabilities[{i}]: not of the form protocol/suite/version"
            )
    return party_id, int(msg.protocol_version), tuple(msg.capabilities)


def hello_request_to_proto(hello: Hello) -> session_pb2.HelloRequest:
    return session_pb2.HelloRequest(
        party_id=hello.party_id,
        protocol_version=hello.protocol_version,
        capabilities=list(hello.capabilities),
        software_version=hello.software_version,
    )


def hello_request_from_proto(msg: session_pb2.HelloRequest) -> Hello:
    party_id, version, caps = _hello_fields(msg, "HelloRequest")
    return Hello(party_id, version, caps, msg.software_version)


def hello_reply_to_proto(hello: Hello) -> session_pb2.HelloReply:
    return session_pb2.HelloReply(
        party_id=hello.party_id,
        protocol_version=hello.protocol_version,
        capabilities=list(hello.capabilities),
        software_version=hello.software_version,
        shared_capabilities=list(hello.shared_capabilities),
    )


def hello_reply_from_proto(msg: session_pb2.HelloReply) -> Hello:
    party_id, version, caps = _hello_fields(msg, "HelloReply")
    for i, cap in enumerate(msg.shared_capabilities):
        if cap not in caps:
            raise InvalidArgument(
                f"HelloReply.shared_capabilities[{i}]: not one of the capabilities"
            )
    return Hello(
        party_id, version, caps, msg.software_version, tuple(msg.shared_capabilities)
    )
