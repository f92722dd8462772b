"""Unbalanced mode's epoch sets: a set (scalar included) is deleted when its epoch
ends, in memory and on disk, without waiting for the counterpart's next session."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from operator_node.psi.epochs import EpochSets
from protocol.psi.pool import shared_pool

PHONES = np.array([f"1380013{i:04d}" for i in range(40)], dtype="S11")


def _saved(sets: EpochSets, counterpart: str, timeout: float = 30) -> Path:
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = list((sets.root / counterpart).glob("*/meta.json"))
        if found:
            return found[0].parent
        time.sleep(0.05)
    raise AssertionError("the epoch set was never saved")


def test_expire_deletes_key_and_sets_if_their_epoch_ended(tmp_path: Path) -> None:
    # Prepare
    sets = EpochSets(tmp_path)
    pool = shared_pool(1)
    sets.current("bank-a", 7, "fp", PHONES, pool, 16)
    sets.current("bank-b", 8, "fp", PHONES, pool, 16)
    folder_a, folder_b = _saved(sets, "bank-a"), _saved(sets, "bank-b")
    assert (folder_a / "key").exists()
    # Execute
    removed = sets.expire(8)
    # Assert
    assert removed == [("bank-a", 7)]
    assert not folder_a.exists() and (folder_b / "key").exists()
    rebuilt = sets.current("bank-a", 8, "fp", PHONES, pool, 16)
    assert rebuilt.epoch == 8  # a new scalar for the new epoch


def test_expire_deletes_half_written_set_if_its_save_never_finished(
    tmp_path: Path,
) -> None:
    # Prepare: a key without meta.json (the process died while saving).
    sets = EpochSets(tmp_path)
    folder = sets.root / "bank-a" / ("ab" * 16)
    folder.mkdir(parents=True)
    (folder / "key").write_bytes(b"k" * 32)
    # Execute
    removed = sets.expire(0)
    # Assert
    assert removed == [("bank-a", -1)] and not folder.exists()
