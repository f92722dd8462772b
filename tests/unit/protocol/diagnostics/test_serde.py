"""Diagnostics messages: round trips and rejection of each malformed field."""

from __future__ import annotations

import pytest

from protocol.diagnostics import serde
from protocol.diagnostics.messages import DownloadRequest
from protocol.errors import InvalidArgument
from protocol.proto.duet.v1 import diagnostics_pb2
from tests.unit.protocol.wire import through_wire


@pytest.mark.parametrize(
    "request_", [DownloadRequest(100, 10), DownloadRequest(1 << 30)]
)
def test_download_request_round_trips_if_valid(request_: DownloadRequest) -> None:
    # Execute
    back = serde.download_request_from_proto(
        through_wire(serde.download_request_to_proto(request_))
    )
    # Assert
    assert back == request_


def test_download_request_from_proto_raises_if_size_zero() -> None:
    # Execute
    with pytest.raises(InvalidArgument) as info:
        serde.download_request_from_proto(diagnostics_pb2.DownloadRequest())
    # Assert
    assert str(info.value) == "DownloadRequest.total_bytes: must be > 0"
