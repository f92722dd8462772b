"""Tests of models.secureboost.grower: histogram subtraction is exact, the smaller
child is the one built, leaves get XGBoost's weights."""

from __future__ import annotations

import numpy as np

from models.secureboost.grower import TreeGrower
from models.secureboost.histogram import BinLayout, GradientCodec, build_histogram
from models.secureboost.params import BoostParams
from models.secureboost.split import leaf_weight
from models.secureboost.tree import BANK, OPERATOR, SplitRule, rule_on_bins


def test_tree_grower_derives_larger_child_exactly_if_smaller_child_built() -> None:
    # Prepare: two parties' bins (with missing bins in use) and exact (g, h).
    rng = np.random.default_rng(0)
    n = 2000
    codec = GradientCodec()
    bank_bins = rng.integers(0, 6, (n, 3)).astype(np.uint16)
    operator_bins = rng.integers(0, 9, (n, 2)).astype(np.uint16)
    g = rng.normal(size=n) + bank_bins[:, 0] - 2.5
    gh = np.c_[codec.encode(np.tanh(g)), codec.encode(rng.uniform(0.01, 0.25, n))]
    layouts = {
        BANK: BinLayout((0, 1, 2), (5, 5, 5)),
        OPERATOR: BinLayout((0, 1), (8, 8)),
    }
    bins = {BANK: bank_bins, OPERATOR: operator_bins}
    grower = TreeGrower(gh, BoostParams(max_depth=3), codec, layouts)
    for task in grower.histogram_tasks():
        for party, layout in layouts.items():
            grower.set_histogram(
                task.node_id,
                party,
                build_histogram(bins[party][task.rows], layout, gh[task.rows]),
            )
    (decision,) = grower.decisions()
    goes_left = rule_on_bins(bins[decision.owner], layouts[decision.owner].n_bins)
    rule = SplitRule(
        decision.candidate.feature,
        decision.candidate.bin,
        0.0,
        decision.candidate.default_left,
    )
    grower.apply(0, goes_left(rule), rule=rule)
    grower.next_level()

    # Execute: build only what the grower asks for (the smaller child).
    tasks = grower.histogram_tasks()
    for task in tasks:
        for party, layout in layouts.items():
            grower.set_histogram(
                task.node_id,
                party,
                build_histogram(bins[party][task.rows], layout, gh[task.rows]),
            )
    grower.decisions()

    # Assert: one child built (the smaller), the other equals its direct histogram.
    sizes = {c: grower.node_rows(c).size for c in (1, 2)}
    assert [t.node_id for t in tasks] == [min(sizes, key=lambda c: (sizes[c], c))]
    larger = max(sizes, key=lambda c: (sizes[c], -c))
    rows = grower.node_rows(larger)
    for party, layout in layouts.items():
        direct = build_histogram(bins[party][rows], layout, gh[rows])
        np.testing.assert_array_equal(grower.histogram(larger, party), direct)


def test_leaf_weight_is_zero_if_hessian_below_min_child_weight() -> None:
    # Prepare
    codec = GradientCodec()
    one = 1 << codec.scale_bits
    params = BoostParams(min_child_weight=2.0, reg_lambda=1.0, learning_rate=0.5)

    # Execute / Assert: -G / (H + lambda) * eta, or 0 below min_child_weight.
    assert leaf_weight((3 * one, 3 * one), params, codec) == -3 / 4 * 0.5
    assert leaf_weight((3 * one, one), params, codec) == 0.0
