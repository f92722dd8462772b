"""The SplitNn service: servicer adapter (operator side) and client (bank side).

It sets a split-NN job up and ends it; the rounds themselves run over Flower
(deployment.py, server_app.py, client_app.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import grpc

from protocol.auth import PeerDirectory
from protocol.domain import Peer, ProtocolDeclaration
from protocol.proto.duet.v1 import split_nn_pb2_grpc as pb_grpc
from protocol.rpc import call_peer, serve_converted
from protocol.split_nn import messages as m
from protocol.split_nn import serde

# Every call advances the job's state: none is retried.
PROTOCOL = ProtocolDeclaration(
    capability="split-nn/flower-fedbcd/1", service="duet.v1.SplitNn"
)


class SplitNnHandler(Protocol):
    """The operator's side, on domain types."""

    def prepare(self, peer: Peer, request: m.NnPrepare) -> m.NnPrepareReply: ...
    def start(self, peer: Peer, request: m.NnStart) -> None: ...
    def complete(self, peer: Peer, request: m.NnComplete) -> m.NnCompleteReply: ...


class _Servicer(pb_grpc.SplitNnServicer):
    def __init__(self, directory: PeerDirectory, handler: SplitNnHandler) -> None:
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
            context, self._directory, f"SplitNn/{method}", request,
            convert_in, handle, convert_out,
        )  # fmt: skip

    def Prepare(self, request, context):
        return self._serve(
            context, "Prepare", request,
            serde.prepare_from_proto, self._h.prepare, serde.prepare_reply_to_proto,
        )  # fmt: skip

    def Start(self, request, context):
        return self._serve(
            context, "Start", request,
            serde.start_from_proto, self._h.start, serde.start_reply_to_proto,
        )  # fmt: skip

    def Complete(self, request, context):
        return self._serve(
            context, "Complete", request,
            serde.complete_from_proto, self._h.complete,
            serde.complete_reply_to_proto,
        )  # fmt: skip


def split_nn_service(
    directory: PeerDirectory, handler: SplitNnHandler
) -> Callable[[grpc.Server], None]:
    servicer = _Servicer(directory, handler)
    return lambda server: pb_grpc.add_SplitNnServicer_to_server(servicer, server)


class SplitNnClient:
    """The bank's typed calls; each carries the deadline given."""

    def __init__(self, channel: grpc.Channel, deadline_s: float) -> None:
        self._stub = pb_grpc.SplitNnStub(channel)
        self._deadline = deadline_s

    def _call(self, name: str, method: Callable[..., Any], request: Any) -> Any:
        return call_peer(
            f"SplitNn/{name}", lambda: method(request, timeout=self._deadline)
        )

    def prepare(self, request: m.NnPrepare) -> m.NnPrepareReply:
        reply = self._call(
            "Prepare", self._stub.Prepare, serde.prepare_to_proto(request)
        )
        return serde.prepare_reply_from_proto(reply)

    def start(self, request: m.NnStart) -> None:
        self._call("Start", self._stub.Start, serde.start_to_proto(request))

    def complete(self, request: m.NnComplete) -> m.NnCompleteReply:
        reply = self._call(
            "Complete", self._stub.Complete, serde.complete_to_proto(request)
        )
        return serde.complete_reply_from_proto(reply)
