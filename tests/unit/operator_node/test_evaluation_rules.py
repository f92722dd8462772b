"""The operator's rule on bunched scores: refuses the distinct-score experiment (few
categories), tied integer features and exact ties at small splits; accepts smooth
scores at every split size, small splits included (Poisson allowance); identical
feature rows are refused at setup."""

from __future__ import annotations

import numpy as np
import pytest

from node_core.config import CounterpartPolicy
from operator_node.evaluation_rules import (
    allowed_rows,
    check_contribution,
    check_feature_rows,
    check_scores,
    densest_window,
    rank_mixing,
)
from protocol.domain import Split
from protocol.errors import PermissionDenied

POLICY = CounterpartPolicy()


def test_check_scores_refuses_few_values_if_two_categorical_features_make_six() -> None:
    # Prepare: the distinct-score experiment: 6 cells, 6,470 rows
    rng = np.random.default_rng(1)
    cells = rng.integers(0, 3, 6470) * 0.7 + rng.integers(0, 2, 6470) * -0.4
    # Execute
    with pytest.raises(PermissionDenied) as info:
        check_scores(cells, Split.VALIDATION, POLICY)
    # Assert
    assert str(info.value) == (
        "1120 rows of the validation split have operator scores within 1e-2 of their"
        " spread, more than the 972 allowed (policy.max_rows_per_score = 2,"
        " policy.max_score_share = 0.15): the evaluation would single them out"
    )


def test_check_scores_refuses_ties_if_two_integer_features_share_values() -> None:
    # Prepare: age (18..80) and a device price from a list, linearly combined
    rng = np.random.default_rng(2)
    age = rng.integers(18, 81, 4768)
    price = rng.choice([699, 999, 1499, 1999, 2999, 3999, 5999], 4768)
    scores = 0.031 * (age - 45) / 12 - 0.27 * (price - 2500) / 1500
    # Execute
    with pytest.raises(PermissionDenied) as info:
        check_scores(scores, Split.TRAIN, POLICY)
    # Assert
    assert "rows of the train split have operator scores within 1e-" in str(info.value)
    assert str(info.value).endswith("the evaluation would single them out")


@pytest.mark.parametrize("rows", [512, 5000, 20000])
def test_check_scores_accepts_smooth_scores_if_no_bunches(rows: int) -> None:
    # Prepare: a linear score of 10 continuous features
    rng = np.random.default_rng(rows)
    scores = rng.normal(size=(rows, 10)) @ rng.normal(0, 0.3, 10)
    # Execute / Assert: no exception
    check_scores(scores, Split.VALIDATION, POLICY)


def test_check_scores_refuses_a_narrow_spike_if_wider_than_a_tie() -> None:
    # Prepare: 5% of the rows within 1e-4 of the spread, the rest smooth
    rng = np.random.default_rng(5)
    smooth = rng.normal(0, 1, 9500)
    spike = 0.3 + rng.uniform(0, 4e-4, 500)
    # Execute
    with pytest.raises(PermissionDenied) as info:
        check_scores(np.r_[smooth, spike], Split.VALIDATION, POLICY)
    # Assert
    assert str(info.value).startswith(
        "517 rows of the validation split have operator scores within 1e-3 of their"
        " spread, more than the 476 allowed"
    )


def test_check_scores_refuses_exact_triples_if_the_split_is_small() -> None:
    # Prepare: 600 smooth scores, three of them equal
    scores = np.random.default_rng(6).normal(0, 1, 600)
    scores[[10, 20, 30]] = scores[10]
    # Execute
    with pytest.raises(PermissionDenied) as info:
        check_scores(scores, Split.VALIDATION, POLICY)
    # Assert
    assert str(info.value).startswith("3 rows of the validation split have")


def test_allowed_rows_falls_with_the_square_root_of_the_window_to_the_floor() -> None:
    # Execute
    allowed = [allowed_rows(10_000, k, POLICY) for k in range(2, 9)]
    # Assert: the Poisson tail is the square root's, plus its skew (< 1 row)
    assert allowed[0] == pytest.approx(1500, abs=1)
    assert allowed[2] == pytest.approx(150, abs=1)
    assert allowed[4] == pytest.approx(15, abs=1)
    assert 2 <= allowed[-1] < 3  # exact pairs pass, triples do not


def test_allowed_rows_follows_the_poisson_tail_if_coincidences_are_few() -> None:
    # Execute: 171 rows (breast data's validation split), C = 1 at 1e-4
    allowed = [allowed_rows(171, k, POLICY) for k in range(2, 9)]
    # Assert: 3 rows within 1e-4 of the spread (the square root would give 2.6)
    assert allowed[2] == pytest.approx(3.03, abs=0.01)
    assert allowed[-1] == 2  # max_rows_per_score, where C is ~0


def test_check_scores_accepts_smooth_scores_if_the_split_has_171_rows() -> None:
    # Prepare: 300 smooth score vectors of a small validation split, where the
    # square-root allowance refused about 6% of them (3 rows within 1e-4)
    rng = np.random.default_rng(8)
    refused = 0
    # Execute
    for _ in range(300):
        try:
            check_scores(rng.normal(size=171), Split.VALIDATION, POLICY)
        except PermissionDenied:
            refused += 1
    # Assert
    assert refused == 0


def test_densest_window_counts_ties_if_the_width_is_zero() -> None:
    # Execute / Assert
    assert densest_window(np.array([1.0, 2.0, 2.0, 2.0, 3.0]), 0.0) == 3
    assert densest_window(np.array([1.0, 1.5, 2.0, 5.0]), 1.0) == 3


def test_check_feature_rows_refuses_identical_rows_if_more_than_the_floor() -> None:
    # Prepare: two categorical features (one-hot), as the job would preprocess them
    rng = np.random.default_rng(7)
    cats = np.eye(3)[rng.integers(0, 3, 1000)]
    binary = rng.integers(0, 2, (1000, 1)).astype(float)
    features = np.hstack([cats, binary])
    positions = {Split.TRAIN: np.arange(700), Split.VALIDATION: np.arange(700, 1000)}
    # Execute
    with pytest.raises(PermissionDenied) as info:
        check_feature_rows(features, positions, POLICY)
    # Assert
    assert "rows of the train split have identical values of the job's operator" in (
        str(info.value)
    )


def test_check_feature_rows_accepts_continuous_features_if_rows_differ() -> None:
    # Prepare
    features = np.random.default_rng(8).normal(size=(1000, 3))
    positions = {Split.TRAIN: np.arange(700), Split.VALIDATION: np.arange(700, 1000)}
    # Execute / Assert: no exception
    check_feature_rows(features, positions, POLICY)


def test_check_contribution_refuses_flat_operator_scores_if_few_rows_mix() -> None:
    # Prepare: 1,000 operator scores spread 0.1 against the bank's 4.0: each row
    # passes about 25 others, where the bank's rank-matched guess is right for ~10%
    scores = np.linspace(-0.05, 0.05, 1000)
    # Execute
    with pytest.raises(PermissionDenied) as info:
        check_contribution(scores, 4.0, Split.VALIDATION, POLICY)
    # Assert
    assert str(info.value) == (
        "the operator's scores of the validation split move each row past about 24"
        " others in the order of the bank's scores, fewer than 200"
        " (policy.min_rank_mixing): the joint scores' order would follow the bank's"
        " and pair rows with their scores"
    )


def test_check_contribution_accepts_scores_if_they_mix_the_banks_order() -> None:
    # Prepare: a spread of 1.0 against 4.0 over 1,000 rows: ~240 rows
    scores = np.linspace(-0.5, 0.5, 1000)
    # Execute / Assert: no exception
    check_contribution(scores, 4.0, Split.VALIDATION, POLICY)
    assert rank_mixing(scores, 4.0) == pytest.approx(1000 * 0.98 / 4.0)


def test_rank_mixing_predicts_how_often_the_rank_attack_hits_if_scores_are_normal() -> (
    None
):
    # Prepare: the bank's attack on simulated scores at two mixings
    rng = np.random.default_rng(9)
    hits = {}
    for ratio in (0.01, 0.2):
        bank, operator = rng.normal(0, 1, 2000), rng.normal(0, ratio, 2000)
        joint = np.sort(bank + operator)
        guess = joint[np.argsort(np.argsort(bank))] - bank
        mixing = rank_mixing(
            operator, float(np.subtract(*np.percentile(bank, [99, 1])))
        )
        hits[round(mixing)] = float(np.mean(np.abs(guess - operator) < 1e-12))
    # Assert: about 2.6 / mixing of the rows, as the policy's default assumes
    (low, hits_at_low), (high, hits_at_high) = sorted(hits.items())
    assert hits_at_low > 0.05 and hits_at_high < 0.02
    assert low < POLICY.min_rank_mixing <= high
