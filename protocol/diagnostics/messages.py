"""Domain types of the Diagnostics service (see diagnostics.proto for the contract)."""

from __future__ import annotations

from dataclasses import dataclass

KIND = "diagnostics.random"  # StreamHeader.kind of every diagnostics payload


@dataclass(frozen=True)
class DownloadRequest:
    """Ask the peer for `total_bytes` of random bytes in chunks of `chunk_bytes`
    (0: the peer's chunk size; the peer caps it at its own)."""

    total_bytes: int
    chunk_bytes: int = 0
