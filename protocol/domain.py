"""Domain types of the session and transfer messages (what node code works with)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Hello:
    """One side of the handshake."""

    party_id: str
    protocol_version: int
    capabilities: tuple[str, ...]
    software_version: str = ""
    shared_capabilities: tuple[str, ...] = ()


@dataclass(frozen=True)
class StreamHeader:
    """Announces a chunked payload: its kind, size and item width."""

    kind: str
    total_bytes: int
    session_id: str = ""
    item_bytes: int = 0
    params: dict[str, str] = field(default_factory=dict)


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


@dataclass(frozen=True)
class JobProposal:
    """A bank's request to run a joint job on the operator's data."""

    job_id: str
    purpose: str
    features: tuple[str, ...]
    model: str
    max_rows: int
    batch_size: int
    description: str = ""


@dataclass(frozen=True)
class OperatorFeature:
    index: int
    display_name: str
    kind: str  # "numeric" | "categorical"


@dataclass(frozen=True)
class JobDecision:
    job_id: str
    status: str
    message: str = ""
    features: tuple[OperatorFeature, ...] = ()
    min_batch_size: int = 0


@dataclass(frozen=True)
class JobBinding:
    job_id: str
    alignment_id: str
    rows: int
    validation_bitmap: bytes


@dataclass(frozen=True)
class JobOutcome:
    job_id: str
    succeeded: bool
    message: str = ""
