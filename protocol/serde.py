"""Proto <-> domain conversion: the only module that builds or reads `_pb2` messages.

Symmetric `x_to_proto` / `x_from_proto` pairs (a round-trip test covers each). The
`_from_proto` side validates what the peer sent and raises InvalidArgument naming the
field, so servicers never act on a malformed message.
"""

from __future__ import annotations

import re

from protocol.domain import Hello, StreamHeader, TransferSummary
from protocol.errors import InvalidArgument
from protocol.proto.duet.v1 import common_pb2, diagnostics_pb2, session_pb2

_PARTY_ID_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{0,62}$")
_CAPABILITY_RE = re.compile(r"^[a-z0-9-]+/[a-z0-9.-]+/[0-9]+$")
_KIND_RE = re.compile(r"^[a-z0-9_.-]{1,64}$")


def check_party_id(value: str, field: str) -> str:
    if not _PARTY_ID_RE.match(value):
        raise InvalidArgument(
            f"{field}: party id must be 1-63 lowercase letters, digits, '.' or '-'"
            f" (got {len(value)} characters)"
        )
    return value


def _hello_fields(msg: session_pb2.HelloRequest | session_pb2.HelloReply, name: str):
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
    return Hello(
        party_id, version, caps, msg.software_version, tuple(msg.shared_capabilities)
    )


def stream_header_to_proto(header: StreamHeader) -> common_pb2.StreamHeader:
    return common_pb2.StreamHeader(
        kind=header.kind,
        session_id=header.session_id,
        total_bytes=header.total_bytes,
        item_bytes=header.item_bytes,
        params=dict(header.params),
    )


def stream_header_from_proto(msg: common_pb2.StreamHeader) -> StreamHeader:
    if not _KIND_RE.match(msg.kind):
        raise InvalidArgument("StreamHeader.kind: missing or not a payload kind name")
    if msg.item_bytes and msg.total_bytes % msg.item_bytes:
        raise InvalidArgument(
            f"StreamHeader: total_bytes {msg.total_bytes} is not a multiple of"
            f" item_bytes {msg.item_bytes}"
        )
    return StreamHeader(
        kind=msg.kind,
        total_bytes=int(msg.total_bytes),
        session_id=msg.session_id,
        item_bytes=int(msg.item_bytes),
        params=dict(msg.params),
    )


def chunk_header_to_proto(header: StreamHeader) -> common_pb2.Chunk:
    return common_pb2.Chunk(header=stream_header_to_proto(header))


def chunk_data_to_proto(data: bytes | memoryview) -> common_pb2.Chunk:
    return common_pb2.Chunk(data=bytes(data))


def transfer_summary_to_proto(summary: TransferSummary) -> common_pb2.TransferSummary:
    return common_pb2.TransferSummary(
        total_bytes=summary.total_bytes, chunks=summary.chunks, sha256=summary.sha256
    )


def transfer_summary_from_proto(msg: common_pb2.TransferSummary) -> TransferSummary:
    return TransferSummary(int(msg.total_bytes), int(msg.chunks), bytes(msg.sha256))


def download_request_to_proto(
    total_bytes: int, chunk_bytes: int
) -> diagnostics_pb2.DownloadRequest:
    return diagnostics_pb2.DownloadRequest(
        total_bytes=total_bytes, chunk_bytes=chunk_bytes
    )


def download_request_from_proto(
    msg: diagnostics_pb2.DownloadRequest,
) -> tuple[int, int]:
    if msg.total_bytes == 0:
        raise InvalidArgument("DownloadRequest.total_bytes: must be > 0")
    return int(msg.total_bytes), int(msg.chunk_bytes)
