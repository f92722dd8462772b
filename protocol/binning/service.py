"""The Binning service: servicer adapter (operator side) and client (bank side)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

import grpc

from protocol.auth import PeerDirectory
from protocol.binning import serde
from protocol.binning.messages import (
    LABELS_KIND,
    SUMS_KIND,
    BinSumsParams,
    BinSumsReply,
    BinSumsRequest,
)
from protocol.crypto.paillier_vector import CiphertextVector
from protocol.domain import Peer, ProtocolDeclaration, StreamHeader
from protocol.errors import InvalidArgument
from protocol.proto.duet.v1 import binning_pb2_grpc
from protocol.rpc import iterate_peer, serve_stream
from protocol.streams import chunk_stream, open_stream, read_exact_stream

# BinSums is once per job (a repeat would let a bank difference bins): never retried.
PROTOCOL = ProtocolDeclaration(
    capability="binning/paillier-iv/1", service="duet.v1.Binning"
)
# The reply holds a few packed ciphertexts per feature; anything near this is hostile.
MAX_REPLY_BYTES = 256 << 20


class BinningHandler(Protocol):
    def admit(self, peer: Peer, params: BinSumsParams) -> int:
        """Check the request before any labels are read (job, peer, binding, step
        not yet taken, features); returns the number of label ciphertexts due."""
        ...

    def bin_sums(self, peer: Peer, request: BinSumsRequest) -> BinSumsReply: ...


class _Servicer(binning_pb2_grpc.BinningServicer):
    def __init__(
        self,
        directory: PeerDirectory,
        handler: BinningHandler,
        max_bytes: Callable[[Peer], int],
        chunk_bytes: int,
    ) -> None:
        self._directory = directory
        self._handler = handler
        self._max_bytes = max_bytes
        self._chunk_bytes = chunk_bytes

    def BinSums(self, request_iterator, context):
        def work(peer: Peer) -> Iterator[Any]:
            params, chunks = serde.upload_from_proto(request_iterator)
            # Authorise first, then read exactly what the job's rows need.
            rows = self._handler.admit(peer, params)
            data = read_exact_stream(
                chunks,
                kind=LABELS_KIND,
                max_bytes=self._max_bytes(peer),
                expected_bytes=serde.labels_wire_bytes(params.public_key, rows),
                field="BinSumsUpload.labels",
                needs=f"the job's {rows} training rows",
            )
            labels = serde.vector_from_bytes(
                data, params.public_key, "BinSumsUpload.labels"
            )
            reply = self._handler.bin_sums(peer, BinSumsRequest(params, labels))
            payload = serde.vector_to_bytes(reply.sums)
            header = StreamHeader(SUMS_KIND, len(payload))
            yield from serde.download_to_proto(
                reply.layout, chunk_stream(header, [payload], self._chunk_bytes)
            )

        return serve_stream(context, self._directory, "Binning/BinSums", work)


def binning_service(
    directory: PeerDirectory,
    handler: BinningHandler,
    max_bytes: Callable[[Peer], int],
    chunk_bytes: int,
) -> Callable[[grpc.Server], None]:
    servicer = _Servicer(directory, handler, max_bytes, chunk_bytes)
    return lambda server: binning_pb2_grpc.add_BinningServicer_to_server(
        servicer, server
    )


def request_bin_sums(
    channel: grpc.Channel,
    params: BinSumsParams,
    labels: CiphertextVector,
    chunk_bytes: int,
    deadline_s: float,
) -> BinSumsReply:
    """The bank's call: stream the encrypted labels, receive the per-bin sums."""
    stub = binning_pb2_grpc.BinningStub(channel)
    payload = serde.vector_to_bytes(labels)
    header = StreamHeader(LABELS_KIND, len(payload), params.job_id)
    upload = serde.upload_to_proto(params, chunk_stream(header, [payload], chunk_bytes))
    responses = iterate_peer(
        "Binning/BinSums", stub.BinSums(upload, timeout=deadline_s)
    )
    layout, chunks = serde.download_from_proto(responses)
    if tuple(f.feature for f in layout) != params.features:
        raise InvalidArgument("BinSumsLayout: features differ from the request's")
    incoming = open_stream(
        chunks, expected_kinds=[SUMS_KIND], max_bytes=MAX_REPLY_BYTES
    )
    sums = serde.vector_from_bytes(
        bytes(incoming.read_all()), params.public_key, "BinSumsDownload.sums"
    )
    if len(sums) != 2 * sum(f.bins for f in layout):
        raise InvalidArgument(
            "BinSumsDownload.sums: value count does not match the layout"
        )
    return BinSumsReply(layout, sums)
