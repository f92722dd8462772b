"""The Scoring service: servicer adapter (operator side) and client (bank side)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import grpc

from protocol.auth import PeerDirectory
from protocol.domain import Peer, ProtocolDeclaration
from protocol.proto.duet.v1 import scoring_pb2_grpc
from protocol.rpc import call_peer, serve_converted
from protocol.scoring import serde
from protocol.scoring.messages import (
    Revocation,
    RevocationAnswer,
    ScoreAnswer,
    ScoreQuery,
)

# Score counts a use of the consent, so it is never retried; Revoke is idempotent.
PROTOCOL = ProtocolDeclaration(
    capability="scoring/lr-partial/1",
    service="duet.v1.Scoring",
    idempotent=("Revoke",),
)


class ScoringHandler(Protocol):
    """The operator's side of the Scoring service, on domain types."""

    def score(self, peer: Peer, query: ScoreQuery) -> ScoreAnswer: ...
    def revoke(self, peer: Peer, revocation: Revocation) -> RevocationAnswer: ...


class _ScoringServicer(scoring_pb2_grpc.ScoringServicer):
    def __init__(self, directory: PeerDirectory, handler: ScoringHandler) -> None:
        self._directory = directory
        self._handler = handler

    def Score(self, request, context):
        return serve_converted(
            context, self._directory, "Scoring/Score", request,
            serde.score_query_from_proto, self._handler.score,
            serde.score_answer_to_proto,
        )  # fmt: skip

    def Revoke(self, request, context):
        return serve_converted(
            context, self._directory, "Scoring/Revoke", request,
            serde.revocation_from_proto, self._handler.revoke,
            serde.revocation_answer_to_proto,
        )  # fmt: skip


def scoring_service(
    directory: PeerDirectory, handler: ScoringHandler
) -> Callable[[grpc.Server], None]:
    servicer = _ScoringServicer(directory, handler)
    return lambda server: scoring_pb2_grpc.add_ScoringServicer_to_server(
        servicer, server
    )


class ScoringClient:
    """The bank's side: typed calls on a warm channel, a deadline on each."""

    def __init__(self, channel: grpc.Channel, deadline_s: float) -> None:
        self._stub = scoring_pb2_grpc.ScoringStub(channel)
        self._deadline = deadline_s

    def score(self, query: ScoreQuery, deadline_s: float | None = None) -> ScoreAnswer:
        msg = serde.score_query_to_proto(query)
        timeout = self._deadline if deadline_s is None else deadline_s
        reply = call_peer(
            "Scoring/Score", lambda: self._stub.Score(msg, timeout=timeout)
        )
        return serde.score_answer_from_proto(reply)

    def revoke(self, revocation: Revocation) -> RevocationAnswer:
        msg = serde.revocation_to_proto(revocation)
        reply = call_peer(
            "Scoring/Revoke", lambda: self._stub.Revoke(msg, timeout=self._deadline)
        )
        return serde.revocation_answer_from_proto(reply)
