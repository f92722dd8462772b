"""Helpers for the PSI integration tests: random phone sets with formatting variants
and malformed rows, a client interceptor recording every message of a channel, and
PSI jobs (the operator runs PSI only inside approved jobs)."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import numpy as np
import pandas as pd

from bank_node.psi import PsiResult
from bank_node.psi_job import run_psi_job
from node_core.ingest import Dataset
from node_core.node import NodeContext
from protocol.identifiers import normalize_phone
from protocol.ids import new_hex_id
from protocol.jobs.messages import PSI_JOB, JobProposal
from protocol.jobs.service import JobsClient
from protocol.psi.messages import PsiMode

MALFORMED = ["12345", "abc-defg", "", "+1 555 0100", "2380013800", "1380013800x"]


def random_numbers(rng: np.random.Generator, count: int) -> list[str]:
    """Distinct canonical mainland mobile numbers."""
    prefixes = rng.choice([130, 135, 138, 139, 150, 158, 177, 186, 188, 199], count * 2)
    suffixes = rng.integers(0, 10**8, count * 2)
    numbers = pd.unique(
        pd.Series([f"{p}{s:08d}" for p, s in zip(prefixes, suffixes, strict=True)])
    )
    return list(numbers[:count])


def variant(number: str, i: int) -> str:
    """One of several written forms of the same canonical number."""
    forms = [
        number,
        f"+86 {number[:3]} {number[3:7]} {number[7:]}",
        f"86{number}",
        f"{number[:3]}-{number[3:7]}-{number[7:]}",
        f"0086{number}",
    ]
    return forms[i % len(forms)]


@dataclass
class PsiSets:
    operator_rows: list[str]  # as written in the operator's file
    bank_rows: list[str]  # as written in the bank's file

    def canonical(self, rows: list[str]) -> list[str | None]:
        out: list[str | None] = []
        for raw in rows:
            try:
                out.append(normalize_phone(raw))
            except ValueError:
                out.append(None)
        return out

    def expected_bank_rows(self) -> list[int]:
        """File rows of the bank's accepted records whose number the operator has."""
        operator = {c for c in self.canonical(self.operator_rows) if c}
        seen: set[str] = set()
        rows = []
        for row, number in enumerate(self.canonical(self.bank_rows)):
            if number is None or number in seen:
                continue  # malformed or a later variant of a number already seen
            seen.add(number)
            if number in operator:
                rows.append(row)
        return rows


def make_sets(seed: int, operator_size: int, bank_size: int, overlap: int) -> PsiSets:
    rng = np.random.default_rng(seed)
    numbers = random_numbers(rng, operator_size + bank_size - overlap)
    operator = numbers[:operator_size]
    bank = numbers[operator_size - overlap :]
    operator_rows = [variant(n, i) if i % 7 == 0 else n for i, n in enumerate(operator)]
    bank_rows = [variant(n, i) for i, n in enumerate(bank)]
    # Another written form of numbers already present (rejected as duplicates) and
    # malformed rows (rejected as bad phones) on both sides.
    bank_rows += [variant(n, 1) for n in bank[:3]] + MALFORMED
    operator_rows += MALFORMED[:3]
    order = rng.permutation(len(bank_rows))
    return PsiSets(operator_rows, [bank_rows[i] for i in order])


def number_patterns(number: str) -> Iterator[bytes]:
    """The number with and without a 86/+86 prefix, and MD5/SHA-1/SHA-256 of each
    (raw digest, lowercase and uppercase hex)."""
    for text in (number, "86" + number, "+86" + number):
        data = text.encode()
        yield data
        for algorithm in ("md5", "sha1", "sha256"):
            digest = hashlib.new(algorithm, data)
            yield digest.digest()
            yield digest.hexdigest().encode()
            yield digest.hexdigest().upper().encode()


@dataclass
class Record:
    call: int
    method: str
    direction: str  # "sent" (bank) or "received" (operator's answer)
    message: Any
    data: bytes


@dataclass
class Transcript:
    records: list[Record] = field(default_factory=list)
    _calls: Iterator[int] = field(default_factory=itertools.count)

    def blob(self) -> bytes:
        return b"".join(r.data for r in self.records)

    def payload_items(self, width: int = 32) -> set[bytes]:
        """Every fixed-width item of every chunked stream's data."""
        streams: dict[int, bytearray] = {}
        for r in self.records:
            if (
                hasattr(r.message, "WhichOneof")
                and r.message.DESCRIPTOR.name == "Chunk"
            ):
                if r.message.WhichOneof("part") == "data":
                    streams.setdefault(r.call, bytearray()).extend(r.message.data)
        items: set[bytes] = set()
        for payload in streams.values():
            items.update(
                bytes(payload[o : o + width]) for o in range(0, len(payload), width)
            )
        return items


class RecordingInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Records the serialized bytes of every request and response on a channel."""

    def __init__(self, transcript: Transcript) -> None:
        self.t = transcript

    def _add(self, call: int, method: str, direction: str, message: Any) -> None:
        data = message.SerializeToString()
        self.t.records.append(Record(call, method, direction, message, data))

    def _requests(self, call: int, method: str, requests: Any) -> Iterator[Any]:
        for request in requests:
            self._add(call, method, "sent", request)
            yield request

    def intercept_unary_unary(self, continuation, details, request):
        call = next(self.t._calls)
        self._add(call, details.method, "sent", request)
        outcome = continuation(details, request)
        if outcome.exception() is None:
            self._add(call, details.method, "received", outcome.result())
        return outcome

    def intercept_stream_unary(self, continuation, details, request_iterator):
        call = next(self.t._calls)
        outcome = continuation(
            details, self._requests(call, details.method, request_iterator)
        )
        if outcome.exception() is None:
            self._add(call, details.method, "received", outcome.result())
        return outcome

    def intercept_unary_stream(self, continuation, details, request):
        call = next(self.t._calls)
        self._add(call, details.method, "sent", request)
        responses = continuation(details, request)

        def recorded() -> Iterator[Any]:
            for response in responses:
                self._add(call, details.method, "received", response)
                yield response

        return recorded()

    def intercept_stream_stream(self, continuation, details, request_iterator):
        call = next(self.t._calls)
        responses = continuation(
            details, self._requests(call, details.method, request_iterator)
        )

        def recorded() -> Iterator[Any]:
            for response in responses:
                self._add(call, details.method, "received", response)
                yield response

        return recorded()


def recorded_channel(channel: grpc.Channel, transcript: Transcript) -> grpc.Channel:
    return grpc.intercept_channel(channel, RecordingInterceptor(transcript))


# ---- PSI inside approved jobs (the operator refuses PSI outside one by default) -----
PURPOSE = "marketing"
# An operator policy that lets bank-a run PSI jobs in every mode, approved by policy.
ALL_MODES_POLICY = {
    "purposes": [PURPOSE],
    "psi_modes": ["intersection", "both", "cardinality"],
    "approval": "auto",
    "max_jobs_per_day": 1000,
}


def psi_job(ctx: NodeContext, dataset: Dataset, mode: PsiMode, **kw: Any) -> PsiResult:
    """One PSI job (proposed, approved by the operator's policy, run) for bank-a."""
    return run_psi_job(
        ctx, "operator", dataset, mode, job_id=new_hex_id(), purpose=PURPOSE, **kw
    )


def approved_job(channel: grpc.Channel, mode: PsiMode, rows: int) -> str:
    """Propose a PSI job and return its id (the operator approves it by policy)."""
    job_id = new_hex_id()
    JobsClient(channel, 10).propose(
        JobProposal(job_id, PURPOSE, (), PSI_JOB, rows, 0, "test", mode)
    )
    return job_id
