"""The bank's copy of the operator's epoch set: private on disk, deleted once the
epoch it belongs to has ended."""

from __future__ import annotations

import stat
from pathlib import Path

from bank_node.psi_cache import OperatorSetCache

SET_ID = "ab" * 16
NOW = 1_790_000_000.0


def test_purge_expired_deletes_set_if_its_epoch_ended(tmp_path: Path) -> None:
    # Prepare
    cache = OperatorSetCache(tmp_path, "operator")
    cache.store(SET_ID, bytes(32 * 4), expires_at=NOW - 1)
    # Execute
    removed = cache.purge_expired(NOW)
    # Assert
    assert removed == [SET_ID]
    assert cache.held() == "" and not any(cache.folder.iterdir())


def test_purge_expired_keeps_set_if_its_epoch_runs(tmp_path: Path) -> None:
    # Prepare
    cache = OperatorSetCache(tmp_path, "operator")
    cache.store(SET_ID, bytes(32 * 4), expires_at=NOW + 60)
    # Execute
    removed = cache.purge_expired(NOW)
    # Assert
    assert removed == [] and cache.held() == SET_ID
    mode = (cache.folder / f"{SET_ID}.npy").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
