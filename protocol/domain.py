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
