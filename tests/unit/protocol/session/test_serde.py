"""Handshake messages: round trips and rejection of each malformed field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from protocol.errors import InvalidArgument
from protocol.proto.duet.v1 import session_pb2
from protocol.session import serde
from protocol.session.messages import Hello
from tests.unit.protocol.wire import through_wire

CAPS = ("session/hello/1", "psi/ecdh-x25519/1")


@pytest.mark.parametrize(
    ("value", "to_proto", "from_proto"),
    [
        (Hello("bank-a", 1, CAPS, "0.1.0"),
         serde.hello_request_to_proto, serde.hello_request_from_proto),
        (Hello("operator", 1, CAPS, "0.1.0", ("session/hello/1",)),
         serde.hello_reply_to_proto, serde.hello_reply_from_proto),
    ],
    ids=["hello_request", "hello_reply"],
)  # fmt: skip
def test_session_message_round_trips_if_valid(
    value: Hello, to_proto: Callable[[Any], Any], from_proto: Callable[[Any], Any]
) -> None:
    # Execute
    back = from_proto(through_wire(to_proto(value)))
    # Assert
    assert back == value


def _request(**fields: Any) -> session_pb2.HelloRequest:
    return session_pb2.HelloRequest(
        **{"party_id": "bank-a", "protocol_version": 1, **fields}
    )


def _reply(**fields: Any) -> session_pb2.HelloReply:
    return session_pb2.HelloReply(
        **{"party_id": "operator", "protocol_version": 1, **fields}
    )


@pytest.mark.parametrize(
    ("from_proto", "msg", "message"),
    [
        (serde.hello_request_from_proto, _request(party_id=""),
         "HelloRequest.party_id: party id must be 1-63 lowercase letters, digits,"
         " '.' or '-' (got 0 characters)"),
        (serde.hello_request_from_proto, _request(protocol_version=0),
         "HelloRequest.protocol_version: missing (must be >= 1)"),
        (serde.hello_request_from_proto, _request(capabilities=["psi"]),
         "HelloRequest.capabilities[0]: not of the form protocol/suite/version"),
        (serde.hello_reply_from_proto, _reply(party_id="Operator"),
         "HelloReply.party_id: party id must be 1-63 lowercase letters, digits,"
         " '.' or '-' (got 8 characters)"),
        (serde.hello_reply_from_proto, _reply(protocol_version=0),
         "HelloReply.protocol_version: missing (must be >= 1)"),
        (serde.hello_reply_from_proto, _reply(capabilities=["a/b"]),
         "HelloReply.capabilities[0]: not of the form protocol/suite/version"),
        (serde.hello_reply_from_proto,
         _reply(capabilities=["a/b/1"], shared_capabilities=["c/d/1"]),
         "HelloReply.shared_capabilities[0]: not one of the capabilities"),
    ],
)  # fmt: skip
def test_session_message_from_proto_raises_if_field_malformed(
    from_proto: Callable[[Any], Any], msg: Any, message: str
) -> None:
    # Execute
    with pytest.raises(InvalidArgument) as info:
        from_proto(msg)
    # Assert
    assert str(info.value) == message
