"""Chunked streams: sizes announced up front, memory only for data received, exact
checks."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from protocol import serde
from protocol.domain import StreamHeader
from protocol.errors import InvalidArgument, ResourceExhausted
from protocol.streams import chunk_stream, open_stream


def test_chunk_stream_round_trips_if_payload_spans_many_chunks() -> None:
    # Prepare
    payload = np.arange(10_000, dtype=np.uint64)
    header = StreamHeader("test.vector", payload.nbytes, item_bytes=8)
    # Execute
    messages = list(chunk_stream(header, [payload], chunk_bytes=1000))
    incoming = open_stream(messages, expected_kinds=["test.vector"], max_bytes=1 << 20)
    data = incoming.read_all()
    # Assert
    assert len(messages) == 1 + 80
    assert np.array_equal(np.frombuffer(data, dtype=np.uint64), payload)
    assert incoming.chunks == 80


def test_iter_items_yields_whole_items_if_chunks_split_items() -> None:
    # Prepare: 7-byte chunks split 32-byte items.
    payload = bytes(range(256)) * 4
    header = StreamHeader("test.items", len(payload), item_bytes=32)
    messages = chunk_stream(header, [payload], chunk_bytes=7)
    # Execute
    batches = list(
        open_stream(messages, expected_kinds=None, max_bytes=4096).iter_items(5)
    )
    # Assert
    assert [len(b) for b in batches] == [160] * 6 + [64]
    assert b"".join(batches) == payload


def test_chunk_stream_raises_if_parts_do_not_match_header() -> None:
    # Prepare
    header = StreamHeader("test.vector", 10)
    # Execute / Assert
    with pytest.raises(ValueError, match="has 4 bytes, header announced 10"):
        list(chunk_stream(header, [b"abcd"], chunk_bytes=2))


def test_open_stream_resource_exhausted_if_announced_size_over_limit() -> None:
    # Prepare
    messages = chunk_stream(StreamHeader("test.vector", 100), [b"x" * 100], 10)
    # Execute
    with pytest.raises(ResourceExhausted) as info:
        open_stream(messages, expected_kinds=None, max_bytes=99)
    # Assert
    assert str(info.value) == (
        "stream 'test.vector' announces 100 bytes, over the limit of 99 bytes"
    )


def test_open_stream_invalid_argument_if_kind_unexpected() -> None:
    # Prepare
    messages = chunk_stream(StreamHeader("test.other", 1), [b"x"], 10)
    # Execute / Assert
    with pytest.raises(InvalidArgument, match="stream kind 'test.other' not expected"):
        open_stream(messages, expected_kinds=["test.vector"], max_bytes=10)


def test_incoming_stream_invalid_argument_if_data_shorter_than_header() -> None:
    # Prepare: a sender that lies about the size.
    good = list(chunk_stream(StreamHeader("test.vector", 4), [b"abcd"], 2))
    truncated = good[:-1]
    # Execute
    incoming = open_stream(truncated, expected_kinds=None, max_bytes=10)
    # Assert
    with pytest.raises(InvalidArgument, match="ended after 2 of 4 announced bytes"):
        incoming.read_all()


def test_open_stream_invalid_argument_if_first_message_is_data() -> None:
    # Prepare
    messages = list(chunk_stream(StreamHeader("test.vector", 2), [b"ab"], 1))[1:]
    # Execute / Assert
    with pytest.raises(InvalidArgument, match="must start with a StreamHeader"):
        open_stream(messages, expected_kinds=None, max_bytes=10)


def test_read_all_allocates_only_data_received_if_header_announces_a_gibibyte() -> None:
    # Prepare: a peer announces 1 GiB, sends 4 KiB and stops (the stream then ends
    # short, as a cancelled call's would).
    header = StreamHeader("test.vector", 1 << 30)
    messages = [serde.chunk_header_to_proto(header)]
    messages += [serde.chunk_data_to_proto(b"x" * 1024) for _ in range(4)]
    incoming = open_stream(messages, expected_kinds=None, max_bytes=1 << 31)
    # Execute
    tracemalloc.start()
    try:
        with pytest.raises(InvalidArgument, match="ended after 4096 of 1073741824"):
            incoming.read_all()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Assert
    assert peak < 1 << 20
