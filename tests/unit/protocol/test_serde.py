"""Shared conversions (common.proto) and field checks: round trips and rejections."""

from __future__ import annotations

from typing import Any

import pytest

from protocol import serde
from protocol.domain import Split, StreamHeader, TransferSummary
from protocol.errors import InvalidArgument
from protocol.proto.duet.v1 import common_pb2
from tests.unit.protocol.wire import through_wire


@pytest.mark.parametrize("split", list(Split))
def test_split_round_trips_if_known(split: Split) -> None:
    # Execute
    back = serde.split_from_proto(serde.split_to_proto(split), "X.split")
    # Assert
    assert back is split


@pytest.mark.parametrize("value", [common_pb2.DATA_SPLIT_UNSPECIFIED, 9])
def test_split_from_proto_raises_if_unspecified_or_unknown(value: int) -> None:
    # Execute
    with pytest.raises(InvalidArgument) as info:
        serde.split_from_proto(value, "X.split")
    # Assert
    assert str(info.value) == "X.split: must be train or validation"


def test_stream_header_round_trips_if_valid() -> None:
    # Prepare
    header = StreamHeader("psi.blinded", 64, "job-1", 32)
    # Execute
    back = serde.stream_header_from_proto(
        through_wire(serde.stream_header_to_proto(header))
    )
    # Assert
    assert back == header


@pytest.mark.parametrize(
    ("msg", "message"),
    [
        (
            common_pb2.StreamHeader(kind="", total_bytes=1),
            "StreamHeader.kind: missing or not a payload kind name",
        ),
        (
            common_pb2.StreamHeader(kind="Bad Kind", total_bytes=1),
            "StreamHeader.kind: missing or not a payload kind name",
        ),
        (
            common_pb2.StreamHeader(kind="psi.blinded", total_bytes=65, item_bytes=32),
            "StreamHeader: total_bytes 65 is not a multiple of item_bytes 32",
        ),
    ],
)
def test_stream_header_from_proto_raises_if_field_malformed(
    msg: common_pb2.StreamHeader, message: str
) -> None:
    # Execute
    with pytest.raises(InvalidArgument) as info:
        serde.stream_header_from_proto(msg)
    # Assert
    assert str(info.value) == message


def test_chunk_messages_carry_header_and_data_if_built() -> None:
    # Prepare
    header = StreamHeader("x.y", 3)
    # Execute
    first = through_wire(serde.chunk_header_to_proto(header))
    data = through_wire(serde.chunk_data_to_proto(memoryview(b"abc")))
    # Assert
    assert serde.stream_header_from_proto(first.header) == header
    assert data.data == b"abc"


def test_transfer_summary_round_trips_if_valid() -> None:
    # Prepare
    summary = TransferSummary(10, 2, b"\x01" * 32)
    # Execute
    back = serde.transfer_summary_from_proto(
        through_wire(serde.transfer_summary_to_proto(summary))
    )
    # Assert
    assert back == summary


def test_transfer_summary_from_proto_raises_if_digest_not_sha256() -> None:
    # Execute
    with pytest.raises(InvalidArgument) as info:
        serde.transfer_summary_from_proto(
            common_pb2.TransferSummary(total_bytes=1, chunks=1, sha256=b"\x00")
        )
    # Assert
    assert str(info.value) == "TransferSummary.sha256: expected 32 bytes"


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (serde.check_party_id, "Bank A", "F: party id must be 1-63 lowercase"
         " letters, digits, '.' or '-' (got 6 characters)"),
        (serde.check_job_id, "short", "F: job id must be 8-64 lowercase letters,"
         " digits or '-'"),
        (lambda v, f: serde.check_hex_id(v, f, "a session id"), "ab" * 15,
         "F: not a session id (32 lowercase hex characters)"),
    ],
)  # fmt: skip
def test_id_checks_raise_naming_field_if_shape_wrong(
    check: Any, value: str, message: str
) -> None:
    # Execute
    with pytest.raises(InvalidArgument) as info:
        check(value, "F")
    # Assert
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (serde.check_party_id, "bank-a.example"),
        (serde.check_job_id, "a1b2c3d4e5f6a7b8"),
        (lambda v, f: serde.check_hex_id(v, f, "a session id"), "ab" * 16),
    ],
)
def test_id_checks_return_value_if_shape_right(check: Any, value: str) -> None:
    # Execute / Assert
    assert check(value, "F") == value
