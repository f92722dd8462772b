"""Proto <-> domain conversion of what every protocol shares (common.proto) and the
field checks they all use.

Each protocol's own messages are converted in its serde.py, the only module of the
protocol that builds or reads its `_pb2` messages. Pairs are symmetric
(`x_to_proto` / `x_from_proto`, a round-trip test for each); the `_from_proto` side
validates what the peer sent and raises InvalidArgument naming the field, so servicers
never act on a malformed message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from protocol.domain import Split, StreamHeader, TransferSummary
from protocol.errors import InvalidArgument, MalformedCiphertext, ProtocolError
from protocol.ids import is_hex_id, is_job_id, is_party_id
from protocol.proto.duet.v1 import common_pb2

_KIND_RE = re.compile(r"^[a-z0-9_.-]{1,64}$")
_SPLIT_TO_PROTO = {
    Split.TRAIN: common_pb2.DATA_SPLIT_TRAIN,
    Split.VALIDATION: common_pb2.DATA_SPLIT_VALIDATION,
}
_SPLIT_FROM_PROTO = {int(v): k for k, v in _SPLIT_TO_PROTO.items()}
T = TypeVar("T")


def check_party_id(value: str, field: str) -> str:
    if not is_party_id(value):
        raise InvalidArgument(
            f"{field}: party id must be 1-63 lowercase letters, digits, '.' or '-'"
            f" (got {len(value)} characters)"
        )
    return value


def check_job_id(value: str, field: str) -> str:
    if not is_job_id(value):
        raise InvalidArgument(
            f"{field}: job id must be 8-64 lowercase letters, digits or '-'"
        )
    return value


def check_hex_id(value: str, field: str, what: str) -> str:
    """A session, alignment or set id (`what`: "a session id", ...): 32 lowercase
    hex characters."""
    if not is_hex_id(value):
        raise InvalidArgument(f"{field}: not {what} (32 lowercase hex characters)")
    return value


def decode_crypto(field: str, decode: Callable[[], T]) -> T:
    """Run `decode` on bytes the peer sent (ciphertexts, keys, a crypto context):
    whatever it raises, however deep in a crypto library, is the peer's malformed
    input (MalformedCiphertext naming the field), never an INTERNAL error. The
    library's message is kept only when it is ours (a ProtocolError or ValueError)."""
    try:
        return decode()
    except MalformedCiphertext:
        raise
    except (ProtocolError, ValueError) as exc:
        raise MalformedCiphertext(f"{field}: {str(exc)[:200]}") from None
    except Exception as exc:
        raise MalformedCiphertext(
            f"{field}: does not decode ({type(exc).__name__})"
        ) from None


def split_to_proto(split: Split) -> common_pb2.DataSplit:
    return _SPLIT_TO_PROTO[split]


def split_from_proto(value: int, field: str) -> Split:
    if value not in _SPLIT_FROM_PROTO:
        raise InvalidArgument(f"{field}: must be train or validation")
    return _SPLIT_FROM_PROTO[value]


def stream_header_to_proto(header: StreamHeader) -> common_pb2.StreamHeader:
    return common_pb2.StreamHeader(
        kind=header.kind,
        session_id=header.session_id,
        total_bytes=header.total_bytes,
        item_bytes=header.item_bytes,
    )


def stream_header_from_proto(msg: common_pb2.StreamHeader) -> StreamHeader:
    if not _KIND_RE.match(msg.kind):
        raise InvalidArgument("StreamHeader.kind: missing or not a payload kind name")
    if msg.item_bytes and msg.total_bytes % msg.item_bytes:
        raise InvalidArgument(
            f"StreamHeader: total_bytes {msg.total_bytes} is not a multiple of"
            f" item_bytes {msg.item_bytes}"
        )
    return StreamHeader(
        kind=msg.kind,
        total_bytes=int(msg.total_bytes),
        session_id=msg.session_id,
        item_bytes=int(msg.item_bytes),
    )


def chunk_header_to_proto(header: StreamHeader) -> common_pb2.Chunk:
    return common_pb2.Chunk(header=stream_header_to_proto(header))


def chunk_data_to_proto(data: bytes | memoryview) -> common_pb2.Chunk:
    return common_pb2.Chunk(data=bytes(data))


def transfer_summary_to_proto(summary: TransferSummary) -> common_pb2.TransferSummary:
    return common_pb2.TransferSummary(
        total_bytes=summary.total_bytes, chunks=summary.chunks, sha256=summary.sha256
    )


def transfer_summary_from_proto(msg: common_pb2.TransferSummary) -> TransferSummary:
    if len(msg.sha256) != 32:
        raise InvalidArgument("TransferSummary.sha256: expected 32 bytes")
    return TransferSummary(int(msg.total_bytes), int(msg.chunks), bytes(msg.sha256))


def opened_stream(
    messages: Iterable[Any], head: str, body: str, name: str
) -> tuple[Any, Iterator[Any]]:
    """A typed stream that opens with one `head` message and continues with `body`
    chunks (its messages' oneof is named "part"): the head and an iterator over the
    chunks. A stream opening otherwise, or a later message that is not a chunk, is
    InvalidArgument naming `name`."""
    iterator = iter(messages)
    first = next(iterator, None)
    if first is None or first.WhichOneof("part") != head:
        raise InvalidArgument(f"{name}: the stream must start with the {head}")
    return getattr(first, head), _chunks_after(iterator, body, name)


def _chunks_after(messages: Iterator[Any], part: str, name: str) -> Iterator[Any]:
    for msg in messages:
        if msg.WhichOneof("part") != part:
            raise InvalidArgument(f"{name}: only {part} may follow the first message")
        yield getattr(msg, part)
