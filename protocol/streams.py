"""Chunked streams: move payloads of hundreds of MB without a second in-memory copy.

The sender yields one StreamHeader (kind, exact size, item width) and then slices of the
payload, each at most `chunk_bytes`; only one slice is copied into a message at a time.
The receiver refuses a header that announces more than its limit *before* reading any
data, assembles the data as it arrives (or consumes it batch by batch), and rejects
streams whose data does not add up to the header. Nothing is allocated from the
announced size: a peer that announces a large payload and then stalls costs the
receiver only what it actually sent (and the call is cancelled when it idles, see
protocol/admission.py). Servicers authorise the request (job, peer, step) before they
open its stream and, where they know the size to expect, refuse any other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from protocol import serde
from protocol.domain import StreamHeader, TransferSummary
from protocol.errors import InvalidArgument, ResourceExhausted

DEFAULT_CHUNK_BYTES = 1 << 20  # 1 MiB: well under gRPC's 4 MiB default message cap


def as_bytes_view(part: Any) -> memoryview:
    """A flat byte view of bytes, bytearray, memoryview or a contiguous numpy array."""
    view = memoryview(part)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def chunk_stream(
    header: StreamHeader,
    parts: Iterable[Any],
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[Any]:
    """Yield the wire chunks of a payload given as one or more byte-like parts.

    `parts` may be a generator producing the payload piece by piece (e.g. ciphertexts
    computed on the fly); the total must equal `header.total_bytes`.
    """
    if chunk_bytes <= 0:
        raise ValueError("chunk_bytes must be positive")
    yield serde.chunk_header_to_proto(header)
    sent = 0
    for part in parts:
        view = as_bytes_view(part)
        for offset in range(0, len(view), chunk_bytes):
            piece = view[offset : offset + chunk_bytes]
            sent += len(piece)
            if sent > header.total_bytes:
                raise ValueError(
                    f"payload {header.kind!r} is larger than its header's"
                    f" {header.total_bytes} bytes"
                )
            yield serde.chunk_data_to_proto(piece)
    if sent != header.total_bytes:
        raise ValueError(
            f"payload {header.kind!r} has {sent} bytes, header announced"
            f" {header.total_bytes}"
        )


class IncomingStream:
    """The receiving end of a chunked stream, header already read and checked."""

    def __init__(self, header: StreamHeader, rest: Iterator[Any]) -> None:
        self.header = header
        self._rest = rest
        self.chunks = 0
        self.received = 0
        self._consumed = False

    def __iter__(self) -> Iterator[bytes]:
        """Yield data chunks in order; raises InvalidArgument if sizes do not add up."""
        if self._consumed:
            raise RuntimeError("stream already consumed")
        self._consumed = True
        for msg in self._rest:
            if msg.WhichOneof("part") != "data":
                raise InvalidArgument(
                    f"stream {self.header.kind!r}: a second header arrived mid-stream"
                )
            data = msg.data
            self.received += len(data)
            self.chunks += 1
            if self.received > self.header.total_bytes:
                raise InvalidArgument(
                    f"stream {self.header.kind!r}: more data than the announced"
                    f" {self.header.total_bytes} bytes"
                )
            yield data
        if self.received != self.header.total_bytes:
            raise InvalidArgument(
                f"stream {self.header.kind!r}: ended after {self.received} of"
                f" {self.header.total_bytes} announced bytes"
            )

    def read_all(self) -> bytearray:
        """Assemble the payload as it arrives: memory grows with the data received,
        never with what the header announced."""
        buffer = bytearray()
        for data in self:
            buffer += data
        return buffer

    def iter_items(self, batch_items: int) -> Iterator[bytes]:
        """Yield whole fixed-width items, `batch_items` at a time (last batch shorter).

        Chunks may split an item; this regroups them so consumers always see complete
        items (curve points, ciphertexts) without assembling the whole payload.
        """
        width = self.header.item_bytes
        if width <= 0:
            raise InvalidArgument(f"stream {self.header.kind!r}: has no item width")
        batch_bytes = width * batch_items
        pending = bytearray()
        for data in self:
            pending += data
            while len(pending) >= batch_bytes:
                yield bytes(pending[:batch_bytes])
                del pending[:batch_bytes]
        if pending:
            yield bytes(pending)

    def summarize(self) -> TransferSummary:
        """Consume the stream, returning its size and SHA-256 (for Diagnostics)."""
        digest = hashlib.sha256()
        for data in self:
            digest.update(data)
        return TransferSummary(self.received, self.chunks, digest.digest())


def open_stream(
    messages: Iterable[Any],
    *,
    expected_kinds: Iterable[str] | None,
    max_bytes: int,
) -> IncomingStream:
    """Read and check the header of a chunked stream of wire messages."""
    iterator = iter(messages)
    first = next(iterator, None)
    if first is None or first.WhichOneof("part") != "header":
        raise InvalidArgument("stream must start with a StreamHeader chunk")
    header = serde.stream_header_from_proto(first.header)
    kinds = None if expected_kinds is None else set(expected_kinds)
    if kinds is not None and header.kind not in kinds:
        raise InvalidArgument(
            f"stream kind {header.kind!r} not expected here (expected one of:"
            f" {', '.join(sorted(kinds))})"
        )
    if header.total_bytes > max_bytes:
        raise ResourceExhausted(
            f"stream {header.kind!r} announces {header.total_bytes} bytes, over the"
            f" limit of {max_bytes} bytes"
        )
    return IncomingStream(header, iterator)


def read_exact_stream(
    messages: Iterable[Any],
    *,
    kind: str,
    max_bytes: int,
    expected_bytes: int,
    field: str,
    needs: str,
) -> bytes:
    """Read a stream that must announce exactly `expected_bytes` (what the receiver
    computed from the job, `needs` saying from what): a wrong announcement is refused
    from the header, before any payload is read or allocated."""
    incoming = open_stream(messages, expected_kinds=[kind], max_bytes=max_bytes)
    if incoming.header.total_bytes != expected_bytes:
        raise InvalidArgument(
            f"{field}: the stream announces {incoming.header.total_bytes} bytes;"
            f" {needs} need {expected_bytes}"
        )
    return bytes(incoming.read_all())
