"""Tests of protocol.crypto.joint_cells: plans group features, cells project exactly."""

from __future__ import annotations

import numpy as np

from protocol.crypto.joint_cells import (
    CellGroup,
    group_cells,
    multiplication_count,
    plan_groups,
)


def test_plan_groups_merges_low_cardinality_features_if_rows_share_cells() -> None:
    # Prepare: three binary features and one with 1000 distinct values.
    rng = np.random.default_rng(0)
    bins = np.c_[rng.integers(0, 2, (4000, 3)), rng.integers(0, 1000, 4000)]

    # Execute
    groups = plan_groups(bins)

    # Assert: the binary features end up together; every feature exactly once.
    assert any({0, 1, 2} <= set(g.features) for g in groups)
    assert sorted(f for g in groups for f in g.features) == [0, 1, 2, 3]


def test_plan_groups_costs_fewer_multiplications_than_one_pass_per_feature() -> None:
    # Prepare
    rng = np.random.default_rng(1)
    bins = np.c_[rng.integers(0, 3, (5000, 4)), rng.integers(0, 32, (5000, 2))]
    widths = (3, 3, 3, 3, 32, 32)

    # Execute
    groups = plan_groups(bins)
    cost = sum(
        multiplication_count(group_cells(bins, widths, g, skip_largest=True))
        for g in groups
    )

    # Assert: a pass per feature costs rows - bins multiplications per feature.
    naive = sum(5000 - w for w in widths)
    assert cost < naive / 2


def test_group_cells_projects_to_each_feature_bins_if_merged() -> None:
    # Prepare
    rng = np.random.default_rng(2)
    bins = rng.integers(0, 4, (300, 3))
    group = CellGroup(
        (0, 1, 2),
        (CellGroup((0,)), CellGroup((1, 2), (CellGroup((1,)), CellGroup((2,))))),
    )

    # Execute
    cells = group_cells(bins, (4, 4, 4), group, skip_largest=True)

    # Assert: following the projections from each row's cell gives its bins.
    for feature, leaf in cells.leaf_of_feature.items():
        node_of = {0: cells.cell_of_row}
        for p in cells.projections:
            node_of[p.target] = p.mapping[node_of[p.source]]
        np.testing.assert_array_equal(node_of[leaf], bins[:, feature])
    largest = np.bincount(cells.cell_of_row).argmax()
    assert cells.skipped_cell == largest
    row = int(np.argmax(cells.cell_of_row == largest))
    assert cells.skipped_bins == {f: int(bins[row, f]) for f in range(3)}
