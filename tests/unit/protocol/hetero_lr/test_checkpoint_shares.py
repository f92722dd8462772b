"""Each party's validation logit shares in its own checkpoint: every epoch up to the
checkpoint comes back as written; shares of a later epoch, of another length or not
finite are refused (a damaged checkpoint, never a wrong per-epoch AUC)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from node_core.checkpoint import JobCheckpoints
from protocol.hetero_lr.checkpoint import SHARES_PREFIX, restored_shares, shares_arrays

JOB = "c0ffee00c0ffee00"


def test_validation_shares_round_trip_through_a_checkpoint_if_up_to_its_epoch(
    tmp_path: Path,
) -> None:
    # Prepare
    rng = np.random.default_rng(1)
    shares = {e: rng.uniform(0, 64, 7) for e in (1, 2, 3)}
    store = JobCheckpoints(tmp_path, JOB)
    own = store.write(3, {}, shares_arrays(shares))
    store.agree(3, bank=own, operator="ab" * 32, own="bank")
    # Execute
    saved = store.load(store.agreed()[0])
    got = restored_shares(saved.arrays, saved.epoch, 7)
    # Assert
    assert sorted(got) == [1, 2, 3]
    assert all(np.array_equal(got[e], shares[e]) for e in shares)


@pytest.mark.parametrize(
    ("name", "values"),
    [
        (f"{SHARES_PREFIX}4", np.zeros(7)),  # an epoch after the checkpoint
        (f"{SHARES_PREFIX}0", np.zeros(7)),
        (f"{SHARES_PREFIX}x", np.zeros(7)),
        (f"{SHARES_PREFIX}2", np.zeros(6)),  # another split's length
        (f"{SHARES_PREFIX}2", np.array([np.nan] * 7)),
    ],
)
def test_validation_shares_are_refused_if_they_do_not_fit_the_checkpoint(
    name: str, values: np.ndarray
) -> None:
    # Execute
    with pytest.raises(ValueError) as info:
        restored_shares({name: values}, 3, 7)
    # Assert
    assert str(info.value) == "the checkpoint's validation shares are damaged"
