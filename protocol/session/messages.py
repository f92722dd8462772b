"""Domain type of the handshake (see session.proto for the contract)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hello:
    """One side of the handshake."""

    party_id: str
    protocol_version: int
    capabilities: tuple[str, ...]
    software_version: str = ""
    shared_capabilities: tuple[str, ...] = ()
