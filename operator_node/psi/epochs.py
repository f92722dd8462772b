"""Unbalanced PSI: the operator's blinded set cached per counterpart and key epoch.

With fresh scalars every session costs the operator |Y| multiplications for its own
set. In unbalanced mode it instead keeps, per counterpart, one scalar `a` per epoch
(`psi.epoch_days`) and data snapshot, and the blinded set H(y)^a in a fixed secret
order; the bank caches that set too and un-blinds its own values, so a repeated
session costs work proportional to the bank's set only.

The price, stated in protocol/psi/__init__.py: within an epoch the values H(y)^a are the
same in every session (the bank stores them), and the bank's un-blinded H(x)^a are
stable, so the bank can link its sessions of the epoch to each other. A new epoch, or
any change of the operator's data, draws a new scalar and deletes the old one with its
cache, so nothing links across epochs or data snapshots. `expire` deletes every set
(key included) of an ended epoch; the operator's housekeeping timer calls it, so keys
do not outlive their epoch waiting for the counterpart's next session.

Layout: `<state_dir>/psi/epochs/<counterpart>/<set id>/` with `key` (0600), `order.npy`
(operator rows in set order), `blinded.npy` ((m, 32) uint8) and `meta.json`, written
last, so a half-written set is never used.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from protocol.ids import new_hex_id
from protocol.psi.group import ITEM_BYTES, BlindingKey
from protocol.psi.matching import permuted_batches, secure_permutation
from protocol.psi.pool import OrderedResults, PsiPool

_PART_ITEMS = 32768  # 1 MiB of items per streamed part


def epoch_of(now: float, epoch_days: int) -> int:
    return int(now // (epoch_days * 86400))


def epoch_end(epoch: int, epoch_days: int) -> float:
    """Unix time at which `epoch` ends (and its set is deleted)."""
    return float((epoch + 1) * epoch_days * 86400)


@dataclass
class EpochSet:
    """One counterpart's blinded set for one epoch and data snapshot."""

    set_id: str
    epoch: int
    fingerprint: str
    key: BlindingKey
    order: np.ndarray  # operator dataset rows, in the order of the blinded set
    size: int
    _building: OrderedResults | None = None
    _blinded: np.ndarray | None = None  # (m, 32) uint8, memory-mapped once saved
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def parts(self, alive: Callable[[], bool]) -> Iterator[bytes]:
        """The blinded set in order, streamed while it is still being built."""
        with self._lock:
            building, blinded = self._building, self._blinded
        if building is not None:
            yield from building.iterate(alive)
            return
        assert blinded is not None
        for start in range(0, self.size, _PART_ITEMS):
            yield blinded[start : start + _PART_ITEMS].tobytes()


class EpochSets:
    """Finds or builds the current EpochSet of each counterpart."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "psi" / "epochs"
        self._sets: dict[str, EpochSet] = {}
        self._lock = threading.Lock()

    def current(
        self,
        counterpart: str,
        epoch: int,
        fingerprint: str,
        phones: np.ndarray,
        pool: PsiPool,
        batch_items: int,
    ) -> EpochSet:
        """The set for (counterpart, epoch, data); built (in the pool) if absent."""
        with self._lock:
            cached = self._sets.get(counterpart)
            if cached is not None and (cached.epoch, cached.fingerprint) == (
                epoch,
                fingerprint,
            ):
                return cached
            found = self._load(counterpart, epoch, fingerprint)
            if found is None:
                found = self._build(
                    counterpart, epoch, fingerprint, phones, pool, batch_items
                )
            self._sets[counterpart] = found
            return found

    def expire(self, epoch: int) -> list[tuple[str, int]]:
        """Delete the sets (scalar, order, blinded values) of epochs before `epoch`,
        in memory and on disk, and half-written ones; (counterpart, epoch) each."""
        removed: list[tuple[str, int]] = []
        with self._lock:
            for counterpart, entry in list(self._sets.items()):
                if entry.epoch < epoch:
                    del self._sets[counterpart]
            live = {entry.set_id for entry in self._sets.values()}
            for folder in sorted(self.root.glob("*/*")):
                if folder.name in live or not folder.is_dir():
                    continue
                try:
                    ended = json.loads((folder / "meta.json").read_text())["epoch"]
                except (OSError, ValueError, KeyError):
                    ended = -1  # a set whose save never finished: not used again
                if ended < epoch:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed.append((folder.parent.name, int(ended)))
        return removed

    def _dir(self, counterpart: str) -> Path:
        return self.root / counterpart

    def _load(self, counterpart: str, epoch: int, fingerprint: str) -> EpochSet | None:
        for meta_path in sorted(self._dir(counterpart).glob("*/meta.json")):
            meta = json.loads(meta_path.read_text())
            if (meta["epoch"], meta["fingerprint"]) != (epoch, fingerprint):
                continue
            folder = meta_path.parent
            blinded = np.load(folder / "blinded.npy", mmap_mode="r", allow_pickle=False)
            order = np.load(folder / "order.npy", allow_pickle=False)
            return EpochSet(
                set_id=folder.name,
                epoch=epoch,
                fingerprint=fingerprint,
                key=BlindingKey((folder / "key").read_bytes()),
                order=order,
                size=int(order.size),
                _blinded=blinded,
            )
        return None

    def _build(
        self,
        counterpart: str,
        epoch: int,
        fingerprint: str,
        phones: np.ndarray,
        pool: PsiPool,
        batch_items: int,
    ) -> EpochSet:
        # Rotation: the previous epoch's (or snapshot's) scalar and set are destroyed.
        shutil.rmtree(self._dir(counterpart), ignore_errors=True)
        order = secure_permutation(len(phones))
        key = BlindingKey.generate()
        results = OrderedResults()
        entry = EpochSet(
            set_id=new_hex_id(),
            epoch=epoch,
            fingerprint=fingerprint,
            key=key,
            order=order,
            size=len(phones),
            _building=results,
        )
        for part in permuted_batches(phones, order, batch_items):
            results.append(pool.blind(key, part))
        results.close()
        threading.Thread(
            target=self._save, args=(counterpart, entry), daemon=True
        ).start()
        return entry

    def _save(self, counterpart: str, entry: EpochSet) -> None:
        assert entry._building is not None
        try:
            blinded = np.frombuffer(b"".join(entry._building), dtype=np.uint8)
        except Exception:
            with self._lock:
                if self._sets.get(counterpart) is entry:
                    del self._sets[counterpart]
            return
        blinded = blinded.reshape(-1, ITEM_BYTES)
        folder = self._dir(counterpart) / entry.set_id
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / "key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(entry.key.secret)
        np.save(folder / "order.npy", entry.order, allow_pickle=False)
        np.save(folder / "blinded.npy", blinded, allow_pickle=False)
        meta = {
            "epoch": entry.epoch,
            "fingerprint": entry.fingerprint,
            "at": time.time(),
        }
        (folder / "meta.json").write_text(json.dumps(meta))
        with entry._lock:
            entry._blinded = blinded
            entry._building = None
