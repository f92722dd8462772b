"""Proto <-> domain round trips and rejection of malformed fields."""

from __future__ import annotations

import pytest

from protocol import serde
from protocol.domain import Hello, StreamHeader, TransferSummary
from protocol.errors import InvalidArgument
from protocol.proto.duet.v1 import common_pb2, session_pb2


def test_hello_request_round_trips_if_valid() -> None:
    # Prepare
    hello = Hello("bank-a", 1, ("session/hello/1", "psi/ecdh-x25519/1"), "0.1.0")
    # Execute
    back = serde.hello_request_from_proto(
        session_pb2.HelloRequest.FromString(
            serde.hello_request_to_proto(hello).SerializeToString()
        )
    )
    # Assert
    assert back == hello


def test_hello_reply_round_trips_if_valid() -> None:
    # Prepare
    hello = Hello("operator", 1, ("session/hello/1",), "0.1.0", ("session/hello/1",))
    # Execute
    back = serde.hello_reply_from_proto(
        session_pb2.HelloReply.FromString(
            serde.hello_reply_to_proto(hello).SerializeToString()
        )
    )
    # Assert
    assert back == hello


@pytest.mark.parametrize(
    ("msg", "message"),
    [
        (
            session_pb2.HelloRequest(party_id="", protocol_version=1),
            "HelloRequest.party_id: party id must be 1-63 lowercase letters, digits,"
            " '.' or '-' (got 0 characters)",
        ),
        (
            session_pb2.HelloRequest(party_id="bank-a"),
            "HelloRequest.protocol_version: missing (must be >= 1)",
        ),
        (
            session_pb2.HelloRequest(
                party_id="bank-a", protocol_version=1, capabilities=["psi"]
            ),
            "HelloRequest.capabilities[0]: not of the form protocol/suite/version",
        ),
    ],
)
def test_hello_request_from_proto_raises_if_field_malformed(msg, message: str) -> None:
    # Execute
    with pytest.raises(InvalidArgument) as info:
        serde.hello_request_from_proto(msg)
    # Assert
    assert str(info.value) == message


def test_stream_header_round_trips_if_valid() -> None:
    # Prepare
    header = StreamHeader("psi.blinded", 64, "job-1", 32, {"curve": "x25519"})
    # Execute
    back = serde.stream_header_from_proto(
        common_pb2.StreamHeader.FromString(
            serde.stream_header_to_proto(header).SerializeToString()
        )
    )
    # Assert
    assert back == header


def test_stream_header_from_proto_raises_if_size_not_multiple_of_item() -> None:
    # Prepare
    msg = common_pb2.StreamHeader(kind="psi.blinded", total_bytes=65, item_bytes=32)
    # Execute
    with pytest.raises(InvalidArgument) as info:
        serde.stream_header_from_proto(msg)
    # Assert
    assert str(info.value) == (
        "StreamHeader: total_bytes 65 is not a multiple of item_bytes 32"
    )


def test_transfer_summary_round_trips_if_valid() -> None:
    # Prepare
    summary = TransferSummary(10, 2, b"\x01" * 32)
    # Execute
    back = serde.transfer_summary_from_proto(serde.transfer_summary_to_proto(summary))
    # Assert
    assert back == summary


def test_download_request_round_trips_and_rejects_zero_if_invalid() -> None:
    # Execute / Assert
    assert serde.download_request_from_proto(
        serde.download_request_to_proto(100, 10)
    ) == (100, 10)
    with pytest.raises(InvalidArgument, match="total_bytes: must be > 0"):
        serde.download_request_from_proto(serde.download_request_to_proto(0, 10))
