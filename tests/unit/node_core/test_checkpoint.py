"""Job checkpoints: written 0600 without pickle, agreed by digest, pruned to the two
most recent agreed epochs, refused when altered or when the digests differ, deleted
when the job ends or its retention period passes."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import numpy as np
import pytest

from node_core.checkpoint import (
    CheckpointError,
    JobCheckpoints,
    blob_array,
    checkpoint_digest,
    delete_checkpoints,
    has_agreed_checkpoint,
    purge_checkpoints,
)

JOB = "c0ffee00c0ffee00"
PEER = "ab" * 32


def _write(store: JobCheckpoints, epoch: int) -> str:
    return store.write(
        epoch, {"value": epoch}, {"blob": blob_array(b"secret %d" % epoch)}
    )


def test_checkpoint_round_trips_its_values_and_bytes_if_agreed(tmp_path: Path) -> None:
    # Prepare
    store = JobCheckpoints(tmp_path, JOB)
    own = _write(store, 1)
    digest = store.agree(1, bank=own, operator=PEER, own="bank")
    # Execute
    saved = store.load(store.find(1, digest))
    # Assert
    assert saved.meta["value"] == 1
    assert saved.blob("blob") == b"secret 1"
    assert digest == checkpoint_digest(JOB, 1, own, PEER)
    for path in store.folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.folder.stat().st_mode) == 0o700


def test_checkpoint_digest_changes_if_any_part_changes() -> None:
    # Prepare
    base = checkpoint_digest(JOB, 2, "a" * 64, "b" * 64)
    # Execute
    variants = {
        checkpoint_digest("c0ffee00c0ffee01", 2, "a" * 64, "b" * 64),
        checkpoint_digest(JOB, 3, "a" * 64, "b" * 64),
        checkpoint_digest(JOB, 2, "c" * 64, "b" * 64),
        checkpoint_digest(JOB, 2, "a" * 64, "c" * 64),
        checkpoint_digest(JOB, 2, "b" * 64, "a" * 64),
    }
    # Assert
    assert base not in variants and len(variants) == 5


def test_checkpoint_is_not_agreed_if_only_written(tmp_path: Path) -> None:
    # Prepare
    store = JobCheckpoints(tmp_path, JOB)
    # Execute
    _write(store, 1)
    # Assert
    assert store.latest() is None
    assert not has_agreed_checkpoint(tmp_path, JOB)


def test_checkpoints_are_pruned_to_the_two_latest_agreed_if_more_are_agreed(
    tmp_path: Path,
) -> None:
    # Prepare
    store = JobCheckpoints(tmp_path, JOB)
    # Execute
    for epoch in (1, 2, 3, 4):
        store.agree(epoch, bank=_write(store, epoch), operator=PEER, own="bank")
    _write(store, 5)  # not agreed yet
    # Assert
    assert [a.epoch for a in store.agreed()] == [4, 3]
    names = sorted(p.name for p in store.folder.iterdir())
    assert names == [
        "epoch-000003.json", "epoch-000003.npz",
        "epoch-000004.json", "epoch-000004.npz", "epoch-000005.npz",
    ]  # fmt: skip


def test_checkpoint_is_refused_if_the_digests_differ(tmp_path: Path) -> None:
    # Prepare
    store = JobCheckpoints(tmp_path, JOB)
    store.agree(1, bank=_write(store, 1), operator=PEER, own="bank")
    # Execute / Assert
    with pytest.raises(CheckpointError, match="digests differ"):
        store.find(1, "0" * 64)
    with pytest.raises(CheckpointError, match="no agreed checkpoint of epoch 2"):
        store.find(2, "0" * 64)


def test_checkpoint_is_refused_if_its_file_was_altered(tmp_path: Path) -> None:
    # Prepare
    store = JobCheckpoints(tmp_path, JOB)
    digest = store.agree(1, bank=_write(store, 1), operator=PEER, own="bank")
    agreement = store.find(1, digest)
    path = store.folder / "epoch-000001.npz"
    # Execute
    path.write_bytes(path.read_bytes() + b"\0")
    # Assert
    with pytest.raises(CheckpointError, match="altered"):
        store.load(agreement)


def test_checkpoint_agreement_is_refused_if_the_file_is_not_the_committed_one(
    tmp_path: Path,
) -> None:
    # Prepare
    store = JobCheckpoints(tmp_path, JOB)
    _write(store, 1)
    # Execute / Assert
    with pytest.raises(CheckpointError, match="not the one committed to"):
        store.agree(1, bank="f" * 64, operator=PEER, own="bank")


def test_checkpoint_holds_no_pickled_object_if_written(tmp_path: Path) -> None:
    # Prepare
    store = JobCheckpoints(tmp_path, JOB)
    _write(store, 1)
    # Execute
    with np.load(store.folder / "epoch-000001.npz", allow_pickle=False) as data:
        kinds = {data[k].dtype.kind for k in data.files}
    # Assert
    assert "O" not in kinds


def test_checkpoints_are_deleted_if_the_job_ended_or_retention_passed(
    tmp_path: Path,
) -> None:
    # Prepare
    ended, old, live = "aaaaaaaa00000001", "aaaaaaaa00000002", "aaaaaaaa00000003"
    for job in (ended, old, live, JOB):
        store = JobCheckpoints(tmp_path, job)
        store.agree(1, bank=_write(store, 1), operator=PEER, own="bank")
    long_ago = time.time() - 10 * 86_400
    for path in (tmp_path / "checkpoints" / old).iterdir():
        os.utime(path, (long_ago, long_ago))
    # Execute
    deleted = purge_checkpoints(tmp_path, 7, ended={ended})
    delete_checkpoints(tmp_path, JOB)
    # Assert
    assert deleted == 2
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [live]
