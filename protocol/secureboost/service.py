"""The SecureBoost service: servicer adapter (operator side) and client (bank side).

The servicer stays thin: authenticate (protocol.rpc), convert (serde, which asks the
handler for the job's wire context before decoding any ciphertext), delegate to a
SecureBoostHandler the operator's passive role implements, convert back. The client
is an OperatorEndpoint (protocol.secureboost.driver): the bank's driver runs the same
calls against it as against the operator's party object in one process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

import grpc

from protocol.auth import PeerDirectory
from protocol.domain import Peer, ProtocolDeclaration
from protocol.errors import FailedPrecondition
from protocol.proto.duet.v1 import secureboost_pb2_grpc as pb_grpc
from protocol.rpc import call_peer, iterate_peer, serve_stream, serve_unary
from protocol.secureboost import messages as m
from protocol.secureboost import serde

# LeafSets only reads the finished trees (the sets follow from the operator's splits
# alone), so a retry is harmless; every other call advances the job's state.
PROTOCOL = ProtocolDeclaration(
    capability="secureboost/paillier-hist/1",
    service="duet.v1.SecureBoost",
    idempotent=("LeafSets",),
)
# The packed sums of one level: a few ciphertexts per feature and node.
MAX_HISTOGRAM_BYTES = 1 << 30


class SecureBoostHandler(Protocol):
    """The operator's side, on domain types; every method checks the job first."""

    def wire_context(self, peer: Peer, job_id: str) -> m.SbtWireContext: ...
    def setup(self, peer: Peer, request: m.SbtSetup) -> m.SbtSetupReply: ...
    def gradients(self, peer: Peer, job_id: str, message: m.TreeGradients) -> None: ...
    def histograms(
        self, peer: Peer, job_id: str, request: m.HistogramRequest
    ) -> m.HistogramReply: ...
    def split(
        self, peer: Peer, job_id: str, request: m.SplitRequest
    ) -> m.SplitReply: ...
    def finish_tree(self, peer: Peer, job_id: str, message: m.TreeDone) -> None: ...
    def leaf_sets(
        self, peer: Peer, job_id: str, request: m.LeafSetsRequest
    ) -> m.LeafSetsReply: ...
    def finish(
        self, peer: Peer, job_id: str, message: m.TrainingDone
    ) -> m.TrainingDoneReply: ...


class _Servicer(pb_grpc.SecureBoostServicer):
    def __init__(
        self,
        directory: PeerDirectory,
        handler: SecureBoostHandler,
        max_bytes: Callable[[Peer], int],
        chunk_bytes: int,
    ) -> None:
        self._directory = directory
        self._h = handler
        self._max_bytes = max_bytes
        self._chunk_bytes = chunk_bytes

    def _unary(self, context, method: str, work: Callable[[Peer], Any]) -> Any:
        return serve_unary(context, self._directory, f"SecureBoost/{method}", work)

    def _context_for(self, peer: Peer) -> serde.ContextFor:
        return lambda job_id: self._h.wire_context(peer, job_id)

    def Setup(self, request, context):
        def work(peer: Peer):
            setup = serde.setup_from_proto(request)
            reply = self._h.setup(peer, setup)
            return serde.setup_reply_to_proto(reply, setup.features)

        return self._unary(context, "Setup", work)

    def Gradients(self, request_iterator, context):
        def work(peer: Peer):
            job_id, message = serde.gradients_from_proto(
                request_iterator, self._context_for(peer), self._max_bytes(peer)
            )
            self._h.gradients(peer, job_id, message)
            return serde.ack_to_proto()

        return self._unary(context, "Gradients", work)

    def Histograms(self, request, context):
        def work(peer: Peer) -> Iterator[Any]:
            job_id, message = serde.histogram_request_from_proto(
                request, self._context_for(peer)
            )
            reply = self._h.histograms(peer, job_id, message)
            yield from serde.histogram_reply_to_proto(reply, job_id, self._chunk_bytes)

        return serve_stream(context, self._directory, "SecureBoost/Histograms", work)

    def Split(self, request, context):
        def work(peer: Peer):
            job_id, message = serde.split_request_from_proto(request)
            return serde.split_reply_to_proto(self._h.split(peer, job_id, message))

        return self._unary(context, "Split", work)

    def FinishTree(self, request, context):
        def work(peer: Peer):
            job_id, message = serde.tree_done_from_proto(request)
            self._h.finish_tree(peer, job_id, message)
            return serde.ack_to_proto()

        return self._unary(context, "FinishTree", work)

    def LeafSets(self, request, context):
        def work(peer: Peer) -> Iterator[Any]:
            job_id, message = serde.leaf_sets_request_from_proto(request)
            reply = self._h.leaf_sets(peer, job_id, message)
            rows = self._h.wire_context(peer, job_id).rows(message.dataset)
            yield from serde.leaf_sets_reply_to_proto(
                reply, message, rows, job_id, self._chunk_bytes
            )

        return serve_stream(context, self._directory, "SecureBoost/LeafSets", work)

    def Finish(self, request, context):
        def work(peer: Peer):
            job_id, message = serde.finish_from_proto(request)
            return serde.finish_reply_to_proto(self._h.finish(peer, job_id, message))

        return self._unary(context, "Finish", work)


def secureboost_service(
    directory: PeerDirectory,
    handler: SecureBoostHandler,
    max_bytes: Callable[[Peer], int],
    chunk_bytes: int,
) -> Callable[[grpc.Server], None]:
    """Registration for start_server (the operator's passive role is the handler)."""
    servicer = _Servicer(directory, handler, max_bytes, chunk_bytes)
    return lambda server: pb_grpc.add_SecureBoostServicer_to_server(servicer, server)


class SecureBoostClient:
    """The bank's typed calls for one job (an OperatorEndpoint); each carries the
    deadline given. Setup must come first: it fixes the key and split sizes the
    later replies are decoded with."""

    def __init__(
        self, channel: grpc.Channel, job_id: str, deadline_s: float, chunk_bytes: int
    ) -> None:
        self._stub = pb_grpc.SecureBoostStub(channel)
        self._job = job_id
        self._deadline = deadline_s
        self._chunk_bytes = chunk_bytes
        self._context: m.SbtWireContext | None = None

    def _wire(self) -> m.SbtWireContext:
        if self._context is None:
            raise FailedPrecondition("SecureBoost: Setup must be the first call")
        return self._context

    def _call(self, name: str, method: Callable[..., Any], request: Any) -> Any:
        return call_peer(
            f"SecureBoost/{name}", lambda: method(request, timeout=self._deadline)
        )

    def setup(self, request: m.SbtSetup) -> m.SbtSetupReply:
        reply = self._call("Setup", self._stub.Setup, serde.setup_to_proto(request))
        out = serde.setup_reply_from_proto(reply, request.features)
        self._context = m.SbtWireContext(
            request.public_key, request.train_rows, request.validation_rows
        )
        return out

    def accept_gradients(self, message: m.TreeGradients) -> None:
        upload = serde.gradients_to_proto(
            self._job, message, self._wire().train_rows, self._chunk_bytes
        )
        reply = self._call("Gradients", self._stub.Gradients, upload)
        serde.ack_from_proto(reply)

    def histograms(self, request: m.HistogramRequest) -> m.HistogramReply:
        key = self._wire().public_key
        msg = serde.histogram_request_to_proto(self._job, request)
        responses = iterate_peer(
            "SecureBoost/Histograms",
            self._stub.Histograms(msg, timeout=self._deadline),
        )
        return serde.histogram_reply_from_proto(
            responses, self._job, key, MAX_HISTOGRAM_BYTES
        )

    def split(self, request: m.SplitRequest) -> m.SplitReply:
        msg = serde.split_request_to_proto(self._job, request)
        return serde.split_reply_from_proto(self._call("Split", self._stub.Split, msg))

    def finish_tree(self, message: m.TreeDone) -> None:
        msg = serde.tree_done_to_proto(self._job, message)
        serde.ack_from_proto(self._call("FinishTree", self._stub.FinishTree, msg))

    def leaf_sets(self, request: m.LeafSetsRequest) -> m.LeafSetsReply:
        rows = self._wire().rows(request.dataset)
        msg = serde.leaf_sets_request_to_proto(self._job, request)
        responses = iterate_peer(
            "SecureBoost/LeafSets", self._stub.LeafSets(msg, timeout=self._deadline)
        )
        return serde.leaf_sets_reply_from_proto(responses, self._job, request, rows)

    def finish_training(self, message: m.TrainingDone) -> m.TrainingDoneReply:
        msg = serde.finish_to_proto(self._job, message)
        return serde.finish_reply_from_proto(
            self._call("Finish", self._stub.Finish, msg)
        )
