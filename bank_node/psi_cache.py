"""Unbalanced PSI, bank side: the operator's epoch set H(y)^a, kept between sessions.

The operator sends its blinded set once per epoch and data snapshot (named by an opaque
set id); the bank keeps the latest one per counterpart under
`<state_dir>/psi/operator_sets/<counterpart>/<set id>.npy` (0600, with `<set id>.json`
naming the epoch's end) and deletes older ones when a new id arrives. The values are
useless without the operator's scalar: the bank can only test a number by asking the
operator to re-blind it, which the operator counts. The operator deletes that scalar
when the epoch ends; the bank deletes its copy of the set at its first PSI session or
housekeeping pass after that (`purge_expired`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from protocol.errors import FailedPrecondition
from protocol.ids import is_hex_id
from protocol.psi.group import ITEM_BYTES


class OperatorSetCache:
    def __init__(self, state_dir: Path, counterpart: str) -> None:
        self.folder = state_dir / "psi" / "operator_sets" / counterpart

    def held(self) -> str:
        """Id of the set held for this counterpart, or "" if none."""
        found = sorted(self.folder.glob("*.npy"))
        return found[-1].stem if len(found) == 1 else ""

    def store(
        self, set_id: str, blinded: bytes | bytearray, expires_at: float = 0.0
    ) -> None:
        if not is_hex_id(set_id):
            raise FailedPrecondition("operator sent a set without a valid set id")
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for old in [*self.folder.glob("*.npy"), *self.folder.glob("*.json")]:
            old.unlink()
        items = np.frombuffer(blinded, dtype=np.uint8).reshape(-1, ITEM_BYTES)
        tmp = self.folder / f"{set_id}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, items, allow_pickle=False)
        (self.folder / f"{set_id}.json").write_text(
            json.dumps({"expires_at": expires_at})
        )
        tmp.replace(self.folder / f"{set_id}.npy")

    def purge_expired(self, now: float) -> list[str]:
        """Delete held sets whose epoch has ended; the ids deleted."""
        removed = []
        for path in sorted(self.folder.glob("*.npy")):
            try:
                meta = json.loads(path.with_suffix(".json").read_text())
                expires_at = float(meta["expires_at"])
            except (OSError, ValueError, KeyError):
                expires_at = 0.0  # no end known: do not keep it
            if expires_at <= now:
                path.unlink(missing_ok=True)
                path.with_suffix(".json").unlink(missing_ok=True)
                removed.append(path.stem)
        return removed

    def load(self, set_id: str, expected_items: int) -> np.ndarray:
        path = self.folder / f"{set_id}.npy"
        if not is_hex_id(set_id) or not path.exists():
            raise FailedPrecondition(
                "the operator's epoch set is not cached here; run again to fetch it"
            )
        items = np.load(path, mmap_mode="r", allow_pickle=False)
        if items.shape != (expected_items, ITEM_BYTES):
            raise FailedPrecondition(
                "the cached operator set does not match the size the operator announced"
            )
        return items
