"""The bank's batch order: the same people in the same batches whatever order a PSI
session aligned the rows in (so a job is repeatable), none below the minimum."""

from __future__ import annotations

import numpy as np

from bank_node.trainers.hetero_lr_driver import convergence_warning, draw_batches


def test_draw_batches_holds_the_same_bank_rows_if_aligned_order_differs() -> None:
    # Prepare: the same 1000 bank rows in two aligned orders (two PSI sessions).
    bank_rows = np.random.default_rng(0).choice(50_000, 1000, replace=False)
    first = bank_rows[np.random.default_rng(1).permutation(1000)]
    second = bank_rows[np.random.default_rng(2).permutation(1000)]
    # Execute
    a = draw_batches(first, 300, 100, np.random.default_rng(7))
    b = draw_batches(second, 300, 100, np.random.default_rng(7))
    # Assert: positions differ, the people behind them do not.
    assert [list(first[x]) for x in a] == [list(second[x]) for x in b]


def test_draw_batches_covers_every_row_once_and_respects_the_minimum() -> None:
    # Prepare
    key = np.arange(1030)
    # Execute
    batches = draw_batches(key, 256, 200, np.random.default_rng(3))
    # Assert
    assert sorted(np.concatenate(batches).tolist()) == list(range(1030))
    assert min(len(b) for b in batches) >= 200
    assert len(batches) == 5


def test_convergence_warning_is_given_if_the_best_epoch_is_the_last() -> None:
    # Execute
    last = convergence_warning(12, 12)
    earlier = convergence_warning(9, 12)
    # Assert
    assert last == (
        "the best validation loss came at the last epoch (12 of 12): training may"
        " not have converged; more epochs or a larger learning rate may give a"
        " better model"
    )
    assert earlier is None
