"""HeteroLr servicer adapter (operator side) and client (bank side)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import grpc
import numpy as np

from protocol.auth import PeerDirectory
from protocol.domain import Peer
from protocol.hetero_lr import messages as m
from protocol.hetero_lr import serde
from protocol.proto.duet.v1 import hetero_lr_pb2_grpc as pb_grpc
from protocol.rpc import call_peer, serve_unary


class HeteroLrHandler(Protocol):
    """The operator's side, on domain types."""

    def setup(self, peer: Peer, request: m.LrSetup) -> m.LrSetupReply: ...
    def forward(self, peer: Peer, request: m.LrForward) -> m.LrForwardReply: ...
    def sigmoid(self, peer: Peer, request: m.LrSigmoid) -> m.LrSigmoidReply: ...
    def backward(self, peer: Peer, request: m.LrBackward) -> m.LrBackwardReply: ...
    def loss(self, peer: Peer, request: m.LrLoss) -> m.LrLossReply: ...
    def keep_best(self, peer: Peer, job_id: str, epoch: int) -> None: ...
    def reveal(self, peer: Peer, request: m.LrReveal) -> m.LrRevealReply: ...
    def partial_scores(self, peer: Peer, job_id: str, split: str) -> np.ndarray: ...


class _Servicer(pb_grpc.HeteroLrServicer):
    def __init__(self, directory: PeerDirectory, handler: HeteroLrHandler) -> None:
        self._directory = directory
        self._h = handler

    def _serve(self, context, method: str, work: Callable[[Peer], Any]):
        return serve_unary(context, self._directory, f"HeteroLr/{method}", work)

    def Setup(self, request, context):
        return self._serve(
            context,
            "Setup",
            lambda p: serde.setup_reply_to_proto(
                self._h.setup(p, serde.setup_from_proto(request))
            ),
        )

    def Forward(self, request, context):
        return self._serve(
            context,
            "Forward",
            lambda p: serde.forward_reply_to_proto(
                self._h.forward(p, serde.forward_from_proto(request))
            ),
        )

    def Sigmoid(self, request, context):
        return self._serve(
            context,
            "Sigmoid",
            lambda p: serde.sigmoid_reply_to_proto(
                self._h.sigmoid(p, serde.sigmoid_from_proto(request))
            ),
        )

    def Backward(self, request, context):
        return self._serve(
            context,
            "Backward",
            lambda p: serde.backward_reply_to_proto(
                self._h.backward(p, serde.backward_from_proto(request))
            ),
        )

    def Loss(self, request, context):
        return self._serve(
            context,
            "Loss",
            lambda p: serde.loss_reply_to_proto(
                self._h.loss(p, serde.loss_from_proto(request))
            ),
        )

    def KeepBest(self, request, context):
        def work(p: Peer) -> Any:
            self._h.keep_best(p, *serde.keep_best_from_proto(request))
            return serde.ack()

        return self._serve(context, "KeepBest", work)

    def Reveal(self, request, context):
        return self._serve(
            context,
            "Reveal",
            lambda p: serde.reveal_reply_to_proto(
                self._h.reveal(p, serde.reveal_from_proto(request))
            ),
        )

    def PartialScores(self, request, context):
        return self._serve(
            context,
            "PartialScores",
            lambda p: serde.scores_to_proto(
                self._h.partial_scores(p, *serde.scores_request_from_proto(request))
            ),
        )


def hetero_lr_service(
    directory: PeerDirectory, handler: HeteroLrHandler
) -> Callable[[grpc.Server], None]:
    servicer = _Servicer(directory, handler)
    return lambda server: pb_grpc.add_HeteroLrServicer_to_server(servicer, server)


class HeteroLrClient:
    """The bank's typed calls; each carries the deadline given."""

    def __init__(self, channel: grpc.Channel, deadline_s: float) -> None:
        self._stub = pb_grpc.HeteroLrStub(channel)
        self._deadline = deadline_s

    def _call(self, name: str, method: Callable[..., Any], request: Any) -> Any:
        return call_peer(
            f"HeteroLr/{name}", lambda: method(request, timeout=self._deadline)
        )

    def setup(self, request: m.LrSetup) -> m.LrSetupReply:
        reply = self._call("Setup", self._stub.Setup, serde.setup_to_proto(request))
        return serde.setup_reply_from_proto(reply)

    def forward(self, request: m.LrForward) -> m.LrForwardReply:
        reply = self._call(
            "Forward", self._stub.Forward, serde.forward_to_proto(request)
        )
        return serde.forward_reply_from_proto(reply)

    def sigmoid(self, request: m.LrSigmoid) -> m.LrSigmoidReply:
        reply = self._call(
            "Sigmoid", self._stub.Sigmoid, serde.sigmoid_to_proto(request)
        )
        return serde.sigmoid_reply_from_proto(reply)

    def backward(self, request: m.LrBackward) -> m.LrBackwardReply:
        reply = self._call(
            "Backward", self._stub.Backward, serde.backward_to_proto(request)
        )
        return serde.backward_reply_from_proto(reply)

    def loss(self, request: m.LrLoss) -> m.LrLossReply:
        reply = self._call("Loss", self._stub.Loss, serde.loss_to_proto(request))
        return serde.loss_reply_from_proto(reply)

    def keep_best(self, job_id: str, epoch: int) -> None:
        self._call(
            "KeepBest", self._stub.KeepBest, serde.keep_best_to_proto(job_id, epoch)
        )

    def reveal(self, request: m.LrReveal) -> m.LrRevealReply:
        reply = self._call("Reveal", self._stub.Reveal, serde.reveal_to_proto(request))
        return serde.reveal_reply_from_proto(reply)

    def partial_scores(self, job_id: str, split: str, rows: int) -> np.ndarray:
        reply = self._call(
            "PartialScores",
            self._stub.PartialScores,
            serde.scores_request_to_proto(job_id, split),
        )
        return serde.scores_from_proto(reply, rows)
