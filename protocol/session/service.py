"""The Session service: servicer adapter (responder) and handshake call (initiator)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from protocol.auth import PeerDirectory
from protocol.domain import Peer, ProtocolDeclaration
from protocol.proto.duet.v1 import session_pb2_grpc
from protocol.rpc import call_peer, serve_unary
from protocol.session import serde
from protocol.session.messages import Hello
from protocol.session.party import answer_hello, check_reply

PROTOCOL = ProtocolDeclaration(
    capability="session/hello/1", service="duet.v1.Session", idempotent=("Hello",)
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
        def work(peer: Peer) -> Any:
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
    reply = call_peer(
        "Session/Hello",
        lambda: stub.Hello(serde.hello_request_to_proto(local), timeout=deadline_s),
    )
    return check_reply(local, serde.hello_reply_from_proto(reply), expected_party)
