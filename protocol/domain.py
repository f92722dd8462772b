"""Domain types every protocol shares (each protocol's own are in its messages.py)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class ProtocolDeclaration:
    """What a protocol says about itself (its service.py's `PROTOCOL`).

    `capability` ("<protocol>/<suite>/<version>") is advertised in the handshake;
    `service` is the gRPC service's full name and `idempotent` its retry-safe methods
    (no side effects, or side effects keyed by a caller-chosen id). protocol/version.py
    assembles the capabilities and protocol/transport.py the retry policy from these;
    no module changes another's lists when imported.
    """

    capability: str
    service: str
    idempotent: tuple[str, ...] = ()


class Split(enum.StrEnum):
    """The two parts of a job's aligned rows, drawn by the bank (it has the labels)."""

    TRAIN = "train"
    VALIDATION = "validation"


class JobStatus(enum.StrEnum):
    """A job's lifecycle, the same words in both parties' stores and on the wire."""

    CREATED = "created"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    REFUSED = "refused"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


# Statuses in which the operator works on a job.
ACTIVE_JOB_STATUSES = frozenset({JobStatus.APPROVED, JobStatus.RUNNING})


@dataclass(frozen=True)
class StreamHeader:
    """Announces a chunked payload: its kind, size and item width."""

    kind: str
    total_bytes: int
    session_id: str = ""
    item_bytes: int = 0


@dataclass(frozen=True)
class TransferSummary:
    total_bytes: int
    chunks: int
    sha256: bytes


@dataclass(frozen=True)
class Peer:
    """The authenticated party at the other end of a call."""

    party_id: str
    identity: str
