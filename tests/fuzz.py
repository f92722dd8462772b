"""Test helpers: malformed messages for every method of every gRPC service a node
serves, generated from the proto descriptors with a seeded RNG.

Each case is raw request bytes (or, for client-streaming methods, a sequence of raw
messages): undecodable bytes, empty messages, messages with random and oversized
field values, and for chunked streams the structural mistakes (data before the
header, a second header, sizes that do not add up, unexpected kinds). Cases are sent
with generic multicallables, so nothing in the client validates them first.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.descriptor import (
    Descriptor,
    FieldDescriptor,
    MethodDescriptor,
    ServiceDescriptor,
)
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health_pb2

from protocol.proto.duet.v1 import (
    binning_pb2,
    common_pb2,
    diagnostics_pb2,
    evaluation_pb2,
    hetero_lr_pb2,
    jobs_pb2,
    psi_pb2,
    scoring_pb2,
    secureboost_pb2,
    session_pb2,
    split_nn_pb2,
)

MODULES = (
    session_pb2,
    diagnostics_pb2,
    jobs_pb2,
    binning_pb2,
    evaluation_pb2,
    hetero_lr_pb2,
    psi_pb2,
    secureboost_pb2,
    split_nn_pb2,
    scoring_pb2,
    health_pb2,
)
F = FieldDescriptor


# Methods that legitimately run until the client hangs up.
LONG_LIVED = frozenset({"grpc.health.v1.Health.Watch"})


def services() -> list[ServiceDescriptor]:
    return [s for m in MODULES for s in m.DESCRIPTOR.services_by_name.values()]


def methods(service: ServiceDescriptor) -> list[MethodDescriptor]:
    return [m for m in service.methods if m.full_name not in LONG_LIVED]


@dataclass
class Case:
    method: MethodDescriptor
    name: str
    messages: list[bytes]  # one for unary requests

    @property
    def path(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"


@dataclass
class Fuzzer:
    """Random field values, biased towards ids the node knows (`job_ids`), so that
    calls get past "no such job" into the handlers."""

    seed: int
    job_ids: tuple[str, ...] = ()
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def _string(self, name: str) -> str:
        r = self.rng.random()
        if "job_id" in name and self.job_ids and r < 0.6:
            return self.rng.choice(self.job_ids)
        if r < 0.15:
            return ""
        if r < 0.25:
            return "x" * self.rng.choice((257, 5000, 70_000))
        if r < 0.35:
            return "".join(chr(self.rng.randrange(0x20, 0x2FF)) for _ in range(12))
        alphabet = "abcdef0123456789-_.*/ "
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.randrange(40)))

    def _bytes(self) -> bytes:
        size = self.rng.choice((0, 1, 7, 32, 72, 200, 4096, 70_000))
        return self.rng.randbytes(size)

    def _scalar(self, f: FieldDescriptor) -> Any:
        t = f.type
        if t == F.TYPE_STRING:
            return self._string(f.name)
        if t == F.TYPE_BYTES:
            return self._bytes()
        if t == F.TYPE_BOOL:
            return self.rng.random() < 0.5
        if t == F.TYPE_ENUM:
            return self.rng.choice((0, 1, 2, 3, 7, 99, 2**31 - 1))
        if t in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
            return self.rng.choice(
                (0.0, -1.0, 1e308, float("nan"), float("inf"), self.rng.random())
            )
        unsigned = t in (F.TYPE_UINT32, F.TYPE_UINT64, F.TYPE_FIXED32, F.TYPE_FIXED64)
        top = 2**32 - 1 if t in (F.TYPE_UINT32, F.TYPE_FIXED32) else 2**63 - 1
        if t in (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32):
            top = 2**31 - 1
        # No large-but-legal sizes: a 1 GiB Diagnostics download is a fair request.
        choices = [c for c in (0, 1, 2, 5, 64, 569, 4096, 1 << 40) if c < top]
        choices.append(top)
        if not unsigned:
            choices += [-1, -(top + 1)]
        return self.rng.choice(choices)

    def message(self, descriptor: Descriptor, depth: int = 0) -> Message:
        msg = GetMessageClass(descriptor)()
        oneofs_done: set[str] = set()
        for f in descriptor.fields:
            oneof = f.containing_oneof
            if oneof is not None:
                if oneof.name in oneofs_done or self.rng.random() < 0.3:
                    continue
                oneofs_done.add(oneof.name)
            elif self.rng.random() < 0.25:
                continue
            if f.type == F.TYPE_MESSAGE:
                if depth > 3:
                    continue
                count = self.rng.choice((1, 2, 3)) if f.is_repeated else 1
                for _ in range(count):
                    sub = self.message(f.message_type, depth + 1)
                    if f.is_repeated:
                        getattr(msg, f.name).add().CopyFrom(sub)
                    else:
                        getattr(msg, f.name).CopyFrom(sub)
            elif f.is_repeated:
                count = self.rng.choice((0, 1, 3, 40, 300))
                getattr(msg, f.name).extend(self._scalar(f) for _ in range(count))
            else:
                setattr(msg, f.name, self._scalar(f))
        return msg

    def mutate(self, seed: Message) -> Message:
        """A copy of a well-formed message with one field damaged: bytes flipped,
        truncated or extended, a repeated field shortened or grown, or a field set
        to a random value."""
        msg = type(seed)()
        msg.CopyFrom(seed)
        f = self.rng.choice(msg.DESCRIPTOR.fields)
        if f.type == F.TYPE_MESSAGE:
            return msg
        if f.is_repeated:
            items = getattr(msg, f.name)
            values = list(items)
            if values and f.type == F.TYPE_BYTES and self.rng.random() < 0.5:
                i = self.rng.randrange(len(values))
                values[i] = self.damaged(values[i])
            elif values and self.rng.random() < 0.5:
                del values[self.rng.randrange(len(values))]
            else:
                values.append(values[0] if values else self._scalar(f))
            del items[:]
            items.extend(values)
        elif f.type == F.TYPE_BYTES and getattr(msg, f.name):
            setattr(msg, f.name, self.damaged(getattr(msg, f.name)))
        else:
            setattr(msg, f.name, self._scalar(f))
        return msg

    def damaged(self, data: bytes) -> bytes:
        """Bits flipped, truncated, extended or replaced by random bytes."""
        r = self.rng.random()
        if r < 0.4:
            out = bytearray(data)
            for _ in range(self.rng.randrange(1, 9)):
                out[self.rng.randrange(len(out))] ^= 1 << self.rng.randrange(8)
            return bytes(out)
        if r < 0.7:
            return data[: self.rng.randrange(len(data))]
        if r < 0.85:
            return data + self.rng.randbytes(self.rng.randrange(1, 64))
        return self.rng.randbytes(len(data))


def _chunk(**kw: Any) -> common_pb2.Chunk:
    if "header" in kw:
        return common_pb2.Chunk(header=common_pb2.StreamHeader(**kw["header"]))
    return common_pb2.Chunk(data=kw["data"])


def _stream_mistakes(kind: str, session: str) -> list[list[common_pb2.Chunk]]:
    """The structural mistakes of a chunked stream of `kind`."""
    header = {"kind": kind, "session_id": session, "total_bytes": 64, "item_bytes": 32}
    return [
        [],
        [_chunk(data=b"x" * 64)],
        [_chunk(header=header), _chunk(header=header)],
        [_chunk(header=header), _chunk(data=b"x" * 96)],
        [_chunk(header=header), _chunk(data=b"x" * 32)],
        [_chunk(header={**header, "total_bytes": 1 << 40}), _chunk(data=b"x")],
        [_chunk(header={**header, "total_bytes": 65, "item_bytes": 32})],
        [_chunk(header={**header, "kind": "not.this"}), _chunk(data=b"x" * 64)],
        [_chunk(header={**header, "kind": "BAD KIND!"})],
        [_chunk(header={**header, "item_bytes": 0}), _chunk(data=b"x" * 64)],
        [_chunk(header=header), common_pb2.Chunk()],
    ]


# Kinds the client-streaming methods expect (see each protocol's messages.py).
_KINDS = {
    "duet.v1.Diagnostics.Upload": "diagnostics.random",
    "duet.v1.Psi.UploadBankSet": "psi.bank_blinded",
    "duet.v1.Psi.Finish": "psi.matches",
    "duet.v1.Binning.BinSums": "binning.labels",
    "duet.v1.SecureBoost.Gradients": "secureboost.gradients",
    "duet.v1.Evaluation.Evaluate": "evaluation.values",
}
# Client streams that open with a request message before their chunks: the upload
# message's field for the request, and for the chunks.
_OPENED = {
    "duet.v1.Binning.BinSums": ("request", "labels"),
    "duet.v1.SecureBoost.Gradients": ("tree", "gradients"),
    "duet.v1.Evaluation.Evaluate": ("request", "values"),
}


def cases(
    fuzzer: Fuzzer, method: MethodDescriptor, count: int, session: str = ""
) -> Iterator[Case]:
    """`count` random cases plus the fixed malformed ones for `method`."""
    kind = _KINDS.get(method.full_name, "x")
    garbage = [b"\xff\xff\xff\xff", b"\x0a\xff\xff\xff\x0f", b"\x08", b"\x12\x05ab"]
    if not method.client_streaming:
        for i, raw in enumerate(garbage):
            yield Case(method, f"garbage-{i}", [raw])
        yield Case(method, "empty", [b""])
        for i in range(count):
            raw = fuzzer.message(method.input_type).SerializeToString()
            yield Case(method, f"random-{i}", [raw])
        return
    for i, raw in enumerate(garbage):
        yield Case(method, f"garbage-{i}", [raw, raw])
    for i in range(count):
        n = fuzzer.rng.choice((1, 2, 4))
        messages = [fuzzer.message(method.input_type) for _ in range(n)]
        yield Case(method, f"random-{i}", [m.SerializeToString() for m in messages])
    for i, chunks in enumerate(_stream_mistakes(kind, session)):
        if method.input_type.full_name == "duet.v1.Chunk":
            messages = list(chunks)
        else:  # a fuzzed request first, then the chunks
            head, body = _OPENED[method.full_name]
            upload = GetMessageClass(method.input_type)
            opening = method.input_type.fields_by_name[head].message_type
            request = fuzzer.message(opening)
            messages = [upload(**{head: request})]
            messages += [upload(**{body: c}) for c in chunks]
        yield Case(method, f"stream-{i}", [m.SerializeToString() for m in messages])


def call(channel: grpc.Channel, case: Case, timeout: float) -> tuple[str, str]:
    """Send a case; returns (status code name, details)."""
    method = case.method
    ident = lambda b: b  # noqa: E731
    try:
        if method.client_streaming and method.server_streaming:
            responses = channel.stream_stream(case.path, ident, ident)(
                iter(case.messages), timeout=timeout
            )
            for _ in responses:
                pass
        elif method.client_streaming:
            channel.stream_unary(case.path, ident, ident)(
                iter(case.messages), timeout=timeout
            )
        elif method.server_streaming:
            for _ in channel.unary_stream(case.path, ident, ident)(
                case.messages[0], timeout=timeout
            ):
                pass
        else:
            channel.unary_unary(case.path, ident, ident)(
                case.messages[0], timeout=timeout
            )
    except grpc.RpcError as exc:
        error: Any = exc
        return error.code().name, error.details() or ""
    return "OK", ""
