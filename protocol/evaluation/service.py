"""The Evaluation service: servicer adapter (operator side) and client (bank side)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

import grpc

from protocol.auth import PeerDirectory
from protocol.crypto.paillier_vector import CiphertextVector
from protocol.domain import Peer, ProtocolDeclaration, StreamHeader
from protocol.errors import InvalidArgument
from protocol.evaluation import serde
from protocol.evaluation.messages import (
    PAIRS_KIND,
    VALUES_KIND,
    EvaluationParams,
    EvaluationReply,
    EvaluationRequest,
)
from protocol.proto.duet.v1 import evaluation_pb2_grpc
from protocol.rpc import iterate_peer, serve_stream
from protocol.streams import chunk_stream, open_stream, read_exact_stream

# Each round is answered once (a repeat would give the bank a second multiset of the
# same scores): never retried.
PROTOCOL = ProtocolDeclaration(
    capability="evaluation/paillier-shuffle/1", service="duet.v1.Evaluation"
)
# The reply packs 24 or more pairs per ciphertext; anything near this is hostile.
MAX_REPLY_BYTES = 256 << 20


class EvaluationHandler(Protocol):
    def admit(self, peer: Peer, params: EvaluationParams) -> int:
        """Check the request before any ciphertext is read (job, peer, rows, order of
        rounds); returns the number of ciphertexts due."""
        ...

    def evaluate(self, peer: Peer, request: EvaluationRequest) -> EvaluationReply: ...


class _Servicer(evaluation_pb2_grpc.EvaluationServicer):
    def __init__(
        self,
        directory: PeerDirectory,
        handler: EvaluationHandler,
        max_bytes: Callable[[Peer], int],
        chunk_bytes: int,
    ) -> None:
        self._directory = directory
        self._handler = handler
        self._max_bytes = max_bytes
        self._chunk_bytes = chunk_bytes

    def Evaluate(self, request_iterator, context):
        def work(peer: Peer) -> Iterator[Any]:
            params, chunks = serde.upload_from_proto(request_iterator)
            # Authorise first, then read exactly what the split's rows need.
            rows = self._handler.admit(peer, params)
            data = read_exact_stream(
                chunks,
                kind=VALUES_KIND,
                max_bytes=self._max_bytes(peer),
                expected_bytes=serde.values_wire_bytes(params.public_key, rows),
                field="EvaluateUpload.values",
                needs=f"the split's {rows} rows",
            )
            values = serde.values_from_bytes(data, params)
            reply = self._handler.evaluate(peer, EvaluationRequest(params, values))
            payload = serde.vector_to_bytes(reply.pairs)
            header = StreamHeader(PAIRS_KIND, len(payload))
            yield from serde.download_to_proto(
                reply.rows, chunk_stream(header, [payload], self._chunk_bytes)
            )

        return serve_stream(context, self._directory, "Evaluation/Evaluate", work)


def evaluation_service(
    directory: PeerDirectory,
    handler: EvaluationHandler,
    max_bytes: Callable[[Peer], int],
    chunk_bytes: int,
) -> Callable[[grpc.Server], None]:
    servicer = _Servicer(directory, handler, max_bytes, chunk_bytes)
    return lambda server: evaluation_pb2_grpc.add_EvaluationServicer_to_server(
        servicer, server
    )


def request_evaluation(
    channel: grpc.Channel,
    params: EvaluationParams,
    values: CiphertextVector,
    chunk_bytes: int,
    deadline_s: float,
) -> EvaluationReply:
    """The bank's call: stream its encrypted values, receive the shuffled pairs."""
    stub = evaluation_pb2_grpc.EvaluationStub(channel)
    payload = serde.vector_to_bytes(values)
    header = StreamHeader(VALUES_KIND, len(payload), params.job_id)
    upload = serde.upload_to_proto(params, chunk_stream(header, [payload], chunk_bytes))
    responses = iterate_peer(
        "Evaluation/Evaluate", stub.Evaluate(upload, timeout=deadline_s)
    )
    rows, chunks = serde.download_from_proto(responses)
    if rows != params.rows:
        raise InvalidArgument(
            f"EvaluateLayout.rows: {rows} pairs announced for {params.rows} rows"
        )
    incoming = open_stream(
        chunks, expected_kinds=[PAIRS_KIND], max_bytes=MAX_REPLY_BYTES
    )
    pairs = serde.pairs_from_bytes(bytes(incoming.read_all()), params)
    return EvaluationReply(rows, pairs)
