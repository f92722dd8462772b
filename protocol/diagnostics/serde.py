"""Diagnostics messages: proto <-> domain (the only module touching diagnostics_pb2)."""

from __future__ import annotations

from protocol.diagnostics.messages import DownloadRequest
from protocol.errors import InvalidArgument
from protocol.proto.duet.v1 import diagnostics_pb2


def download_request_to_proto(
    request: DownloadRequest,
) -> diagnostics_pb2.DownloadRequest:
    return diagnostics_pb2.DownloadRequest(
        total_bytes=request.total_bytes, chunk_bytes=request.chunk_bytes
    )


def download_request_from_proto(
    msg: diagnostics_pb2.DownloadRequest,
) -> DownloadRequest:
    if msg.total_bytes == 0:
        raise InvalidArgument("DownloadRequest.total_bytes: must be > 0")
    return DownloadRequest(int(msg.total_bytes), int(msg.chunk_bytes))
