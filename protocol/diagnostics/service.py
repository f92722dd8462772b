"""The Diagnostics service: servicer adapter and client calls (both roles serve it)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import grpc

from protocol import serde as common_serde
from protocol.auth import PeerDirectory
from protocol.diagnostics import serde
from protocol.diagnostics.messages import KIND, DownloadRequest
from protocol.domain import Peer, ProtocolDeclaration, StreamHeader, TransferSummary
from protocol.errors import ResourceExhausted
from protocol.proto.duet.v1 import diagnostics_pb2_grpc
from protocol.rpc import call_peer, iterate_peer, serve_stream, serve_unary
from protocol.streams import chunk_stream, open_stream

PROTOCOL = ProtocolDeclaration(
    capability="diagnostics/chunked-stream/1",
    service="duet.v1.Diagnostics",
    idempotent=("Download",),
)


class _DiagnosticsServicer(diagnostics_pb2_grpc.DiagnosticsServicer):
    def __init__(
        self,
        directory: PeerDirectory,
        max_transfer_bytes: Callable[[Peer], int],
        chunk_bytes: int,
    ) -> None:
        self._directory = directory
        self._max_transfer = max_transfer_bytes
        self._chunk_bytes = chunk_bytes

    def Upload(self, request_iterator, context):
        def work(peer: Peer) -> Any:
            incoming = open_stream(
                request_iterator,
                expected_kinds=[KIND],
                max_bytes=self._max_transfer(peer),
            )
            return common_serde.transfer_summary_to_proto(incoming.summarize())

        return serve_unary(context, self._directory, "Diagnostics/Upload", work)

    def Download(self, request, context):
        def work(peer: Peer) -> Iterator[Any]:
            asked = serde.download_request_from_proto(request)
            total, chunk = asked.total_bytes, asked.chunk_bytes
            limit = self._max_transfer(peer)
            if total > limit:
                raise ResourceExhausted(
                    f"download of {total} bytes is over the limit of {limit} bytes"
                )
            chunk = min(chunk or self._chunk_bytes, self._chunk_bytes)
            header = StreamHeader(KIND, total)
            parts = (os.urandom(min(chunk, total - o)) for o in range(0, total, chunk))
            yield from chunk_stream(header, parts, chunk)

        return serve_stream(context, self._directory, "Diagnostics/Download", work)


def diagnostics_service(
    directory: PeerDirectory,
    max_transfer_bytes: Callable[[Peer], int],
    chunk_bytes: int,
) -> Callable[[grpc.Server], None]:
    servicer = _DiagnosticsServicer(directory, max_transfer_bytes, chunk_bytes)
    return lambda server: diagnostics_pb2_grpc.add_DiagnosticsServicer_to_server(
        servicer, server
    )


def upload(
    channel: grpc.Channel,
    parts: Iterable[Any],
    total_bytes: int,
    chunk_bytes: int,
    deadline_s: float,
) -> TransferSummary:
    """Stream `parts` (byte-like) to the peer; returns the peer's receipt."""
    stub = diagnostics_pb2_grpc.DiagnosticsStub(channel)
    chunks = chunk_stream(StreamHeader(KIND, total_bytes), parts, chunk_bytes)
    reply = call_peer(
        "Diagnostics/Upload", lambda: stub.Upload(chunks, timeout=deadline_s)
    )
    return common_serde.transfer_summary_from_proto(reply)


def download(
    channel: grpc.Channel, total_bytes: int, chunk_bytes: int, deadline_s: float
) -> TransferSummary:
    """Ask the peer for random bytes; returns what arrived (size, chunks, digest)."""
    stub = diagnostics_pb2_grpc.DiagnosticsStub(channel)
    request = serde.download_request_to_proto(DownloadRequest(total_bytes, chunk_bytes))
    responses = iterate_peer(
        "Diagnostics/Download", stub.Download(request, timeout=deadline_s)
    )
    incoming = open_stream(responses, expected_kinds=[KIND], max_bytes=total_bytes)
    return incoming.summarize()
