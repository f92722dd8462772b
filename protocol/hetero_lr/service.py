"""The HeteroLr service: servicer adapter (operator side) and client (bank side)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import grpc

from protocol.auth import PeerDirectory
from protocol.domain import Peer, ProtocolDeclaration
from protocol.hetero_lr import messages as m
from protocol.hetero_lr import serde
from protocol.proto.duet.v1 import hetero_lr_pb2_grpc as pb_grpc
from protocol.rpc import call_peer, serve_converted

# Every call advances the training state: none is retried.
PROTOCOL = ProtocolDeclaration(
    capability="hetero-lr/ckks-fourier/1", service="duet.v1.HeteroLr"
)


class HeteroLrHandler(Protocol):
    """The operator's side, on domain types."""

    def setup(self, peer: Peer, request: m.LrSetup) -> m.LrSetupReply: ...
    def forward(self, peer: Peer, request: m.LrForward) -> m.LrForwardReply: ...
    def sigmoid(self, peer: Peer, request: m.LrSigmoid) -> m.LrSigmoidReply: ...
    def backward(self, peer: Peer, request: m.LrBackward) -> m.LrBackwardReply: ...
    def loss(self, peer: Peer, request: m.LrLoss) -> m.LrLossReply: ...
    def keep_best(self, peer: Peer, request: m.LrKeepBest) -> None: ...
    def reveal(self, peer: Peer, request: m.LrReveal) -> m.LrRevealReply: ...
    def checkpoint(self, peer: Peer, request: m.LrCheckpoint) -> str: ...
    def resume(self, peer: Peer, request: m.LrResume) -> m.LrResumeReply: ...


class _Servicer(pb_grpc.HeteroLrServicer):
    def __init__(self, directory: PeerDirectory, handler: HeteroLrHandler) -> None:
        self._directory = directory
        self._h = handler

    def _serve(
        self,
        context: grpc.ServicerContext,
        method: str,
        request: Any,
        convert_in: Callable[[Any], Any],
        handle: Callable[[Peer, Any], Any],
        convert_out: Callable[[Any], Any],
    ) -> Any:
        return serve_converted(
            context,
            self._directory,
            f"HeteroLr/{method}",
            request,
            convert_in,
            handle,
            convert_out,
        )

    def Setup(self, request, context):
        return self._serve(
            context, "Setup", request,
            serde.setup_from_proto, self._h.setup, serde.setup_reply_to_proto,
        )  # fmt: skip

    def Forward(self, request, context):
        return self._serve(
            context, "Forward", request,
            serde.forward_from_proto, self._h.forward, serde.forward_reply_to_proto,
        )  # fmt: skip

    def Sigmoid(self, request, context):
        return self._serve(
            context, "Sigmoid", request,
            serde.sigmoid_from_proto, self._h.sigmoid, serde.sigmoid_reply_to_proto,
        )  # fmt: skip

    def Backward(self, request, context):
        return self._serve(
            context, "Backward", request,
            serde.backward_from_proto, self._h.backward, serde.backward_reply_to_proto,
        )  # fmt: skip

    def Loss(self, request, context):
        return self._serve(
            context, "Loss", request,
            serde.loss_from_proto, self._h.loss, serde.loss_reply_to_proto,
        )  # fmt: skip

    def KeepBest(self, request, context):
        return self._serve(
            context, "KeepBest", request,
            serde.keep_best_from_proto, self._h.keep_best,
            lambda _: serde.ack_to_proto(),
        )  # fmt: skip

    def Reveal(self, request, context):
        return self._serve(
            context, "Reveal", request,
            serde.reveal_from_proto, self._h.reveal, serde.reveal_reply_to_proto,
        )  # fmt: skip

    def Checkpoint(self, request, context):
        return self._serve(
            context, "Checkpoint", request,
            serde.checkpoint_from_proto, self._h.checkpoint,
            serde.checkpoint_reply_to_proto,
        )  # fmt: skip

    def Resume(self, request, context):
        return self._serve(
            context, "Resume", request,
            serde.resume_from_proto, self._h.resume, serde.resume_reply_to_proto,
        )  # fmt: skip


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

    def keep_best(self, request: m.LrKeepBest) -> None:
        reply = self._call(
            "KeepBest", self._stub.KeepBest, serde.keep_best_to_proto(request)
        )
        serde.ack_from_proto(reply)

    def reveal(self, request: m.LrReveal) -> m.LrRevealReply:
        reply = self._call("Reveal", self._stub.Reveal, serde.reveal_to_proto(request))
        return serde.reveal_reply_from_proto(reply)

    def checkpoint(self, request: m.LrCheckpoint) -> str:
        reply = self._call(
            "Checkpoint", self._stub.Checkpoint, serde.checkpoint_to_proto(request)
        )
        return serde.checkpoint_reply_from_proto(reply)

    def resume(self, request: m.LrResume) -> m.LrResumeReply:
        reply = self._call("Resume", self._stub.Resume, serde.resume_to_proto(request))
        return serde.resume_reply_from_proto(reply)
