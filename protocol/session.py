"""Session handshake: party ids, protocol version and capabilities.

What each party learns: the other's party id (already proven by its certificate),
protocol major version, software version and capability list. No personal data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import grpc

from protocol import serde
from protocol.auth import PeerDirectory
from protocol.domain import Hello, Peer
from protocol.errors import FailedPrecondition, PermissionDenied
from protocol.proto.duet.v1 import session_pb2_grpc
from protocol.rpc import call_peer, serve_unary
from protocol.version import CAPABILITIES, PROTOCOL_VERSION, SOFTWARE_VERSION


def local_hello(party_id: str, capabilities: Sequence[str] = CAPABILITIES) -> Hello:
    return Hello(party_id, PROTOCOL_VERSION, tuple(capabilities), SOFTWARE_VERSION)


def check_version(local: Hello, remote: Hello) -> None:
    if local.protocol_version != remote.protocol_version:
        raise FailedPrecondition(
            f"protocol version mismatch: {remote.party_id} speaks duet protocol"
            f" v{remote.protocol_version}, {local.party_id} speaks"
            f" v{local.protocol_version}"
        )


def answer_hello(local: Hello, peer: Peer, request: Hello) -> Hello:
    """The responder's side of the handshake."""
    if request.party_id != peer.party_id:
        raise PermissionDenied(
            f"claimed party id {request.party_id!r} does not match the certificate's"
            f" party {peer.party_id!r}"
        )
    check_version(local, request)
    shared = tuple(sorted(set(local.capabilities) & set(request.capabilities)))
    return Hello(
        local.party_id,
        local.protocol_version,
        local.capabilities,
        local.software_version,
        shared,
    )


class _SessionServicer(session_pb2_grpc.SessionServicer):
    def __init__(
        self,
        directory: PeerDirectory,
        local: Hello,
        on_hello: Callable[[Peer, Hello], None] | None,
    ) -> None:
        self._directory = directory
        self._local = local
        self._on_hello = on_hello

    def Hello(self, request, context):
        def work(peer: Peer):
            reply = answer_hello(
                self._local, peer, serde.hello_request_from_proto(request)
            )
            if self._on_hello is not None:
                self._on_hello(peer, reply)
            return serde.hello_reply_to_proto(reply)

        return serve_unary(context, self._directory, "Session/Hello", work)


def session_service(
    directory: PeerDirectory,
    local: Hello,
    on_hello: Callable[[Peer, Hello], None] | None = None,
) -> Callable[[grpc.Server], None]:
    """Registration for start_server; `on_hello` lets the node audit handshakes."""
    servicer = _SessionServicer(directory, local, on_hello)
    return lambda server: session_pb2_grpc.add_SessionServicer_to_server(
        servicer, server
    )


def handshake(
    channel: grpc.Channel, local: Hello, expected_party: str, deadline_s: float
) -> Hello:
    """The initiator's side: send Hello, check the reply's party id and version."""
    stub = session_pb2_grpc.SessionStub(channel)
    reply_pb = call_peer(
        "Session/Hello",
        lambda: stub.Hello(serde.hello_request_to_proto(local), timeout=deadline_s),
    )
    reply = serde.hello_reply_from_proto(reply_pb)
    if reply.party_id != expected_party:
        raise PermissionDenied(
            f"peer answered as {reply.party_id!r}, expected {expected_party!r}"
        )
    check_version(local, reply)
    return reply
