"""Tests of models.metrics against scikit-learn and hand-computed values."""

from __future__ import annotations

import json
import math
import re
from typing import Literal

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from models import metrics

TIED_LABELS = np.array([0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0])
TIED_SCORES = np.array([0.1, 0.4, 0.4, 0.4, 0.8, 0.2, 0.2, 0.9, 0.4, 0.8, 0.6, 0.1])


def _random_tied(seed: int, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n_rows)
    # Rounding to two decimals makes many ties, the case sklearn handles specially.
    return labels, np.round(rng.random(n_rows) * 0.7 + 0.3 * labels, 2)


@pytest.mark.parametrize("seed,n_rows", [(0, 12), (1, 500), (2, 20_000)])
def test_roc_auc_matches_sklearn_if_scores_have_ties(seed: int, n_rows: int) -> None:
    # Prepare
    labels, scores = _random_tied(seed, n_rows)

    # Execute
    auc = metrics.roc_auc(labels, scores)

    # Assert
    assert auc == pytest.approx(skm.roc_auc_score(labels, scores), abs=1e-12)


def test_roc_auc_matches_sklearn_if_hand_made_ties() -> None:
    # Prepare
    expected = skm.roc_auc_score(TIED_LABELS, TIED_SCORES)

    # Execute
    auc = metrics.roc_auc(TIED_LABELS, TIED_SCORES)

    # Assert
    assert auc == pytest.approx(expected, abs=1e-15)


def test_roc_auc_matches_sklearn_if_scores_from_a_real_model(breast_scores) -> None:
    # Prepare
    _, _, y_valid, p_valid = breast_scores

    # Execute
    auc = metrics.roc_auc(y_valid, p_valid)

    # Assert
    assert auc == pytest.approx(skm.roc_auc_score(y_valid, p_valid), abs=1e-12)


@pytest.mark.parametrize("drop_intermediate", [True, False])
def test_roc_curve_equals_sklearn_if_same_drop_setting(drop_intermediate: bool) -> None:
    # Prepare
    labels, scores = _random_tied(3, 2_000)
    fpr, tpr, thresholds = skm.roc_curve(
        labels, scores, drop_intermediate=drop_intermediate
    )

    # Execute
    curve = metrics.roc_curve(labels, scores, drop_intermediate=drop_intermediate)

    # Assert
    np.testing.assert_array_equal(curve.fpr, fpr)
    np.testing.assert_array_equal(curve.tpr, tpr)
    np.testing.assert_array_equal(curve.thresholds, thresholds)


def test_roc_curve_downsample_keeps_end_points_if_curve_is_long() -> None:
    # Prepare
    labels, scores = _random_tied(4, 5_000)
    curve = metrics.roc_curve(labels, scores, drop_intermediate=False)

    # Execute
    thin = curve.downsample(50)

    # Assert
    assert thin.fpr.size == 50
    assert (thin.fpr[0], thin.tpr[0], thin.fpr[-1], thin.tpr[-1]) == (0, 0, 1, 1)


def test_ks_statistic_equals_hand_computed_if_six_rows() -> None:
    # Prepare: TPR-FPR by threshold is 1/3, 2/3, 1/3, 2/3, 1/3, 0; first max at 0.8.
    labels = np.array([1, 1, 0, 1, 0, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])

    # Execute
    ks = metrics.ks_statistic(labels, scores)

    # Assert
    assert ks.statistic == pytest.approx(2 / 3)
    assert (ks.threshold, ks.tpr, ks.fpr) == (0.8, pytest.approx(2 / 3), 0.0)


def test_ks_statistic_equals_max_gap_of_sklearn_curve_if_real_scores(
    breast_scores,
) -> None:
    # Prepare
    y_train, p_train, _, _ = breast_scores
    fpr, tpr, _ = skm.roc_curve(y_train, p_train)

    # Execute
    ks = metrics.ks_statistic(y_train, p_train)

    # Assert
    assert ks.statistic == pytest.approx(np.max(np.abs(tpr - fpr)), abs=1e-12)


def test_lift_table_equals_hand_computed_if_twenty_distinct_scores() -> None:
    # Prepare: two rows per decile; positives per decile 2,1,1,0,0,1,0,0,0,0 (5 of 20).
    scores = np.arange(20, 0, -1, dtype=float)
    labels = np.zeros(20, dtype=int)
    labels[[0, 1, 2, 5, 10]] = 1

    # Execute
    table = metrics.lift_table(labels, scores)

    # Assert
    np.testing.assert_array_equal(table["count"], np.full(10, 2))
    np.testing.assert_array_equal(table["positives"], [2, 1, 1, 0, 0, 1, 0, 0, 0, 0])
    np.testing.assert_allclose(table["lift"], [4, 2, 2, 0, 0, 2, 0, 0, 0, 0])
    np.testing.assert_allclose(
        table["cumulative_gain"], [0.4, 0.6, 0.8, 0.8, 0.8, 1, 1, 1, 1, 1]
    )
    np.testing.assert_allclose(
        table["cumulative_lift"],
        [4, 3, 8 / 3, 2, 1.6, 5 / 3, 10 / 7, 1.25, 10 / 9, 1],
    )
    assert (table["score_max"][0], table["score_min"][9]) == (20.0, 1.0)


def test_lift_table_shares_tied_positives_pro_rata_if_tie_straddles_edge() -> None:
    # Prepare: the tie at 2.0 spans both halves and holds one positive of two rows.
    scores = np.array([3.0, 2.0, 2.0, 1.0])
    orders = [np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0])]

    # Execute
    tables = [metrics.lift_table(labels, scores, n_bins=2) for labels in orders]

    # Assert
    for table in tables:
        np.testing.assert_allclose(table["positives"], [1.5, 0.5])
        np.testing.assert_array_equal(table["score_max"], [3.0, 2.0])
        np.testing.assert_array_equal(table["score_min"], [2.0, 1.0])


def test_lift_table_matches_sorted_deciles_if_scores_distinct(breast_scores) -> None:
    # Prepare
    y_train, p_train, _, _ = breast_scores
    assert np.unique(p_train).size == p_train.size
    sorted_labels = y_train[np.argsort(-p_train)]

    # Execute
    table = metrics.lift_table(y_train, p_train)

    # Assert
    assert table["count"].max() - table["count"].min() <= 1
    chunks = np.split(sorted_labels, table["cumulative_count"].to_numpy()[:-1])
    np.testing.assert_array_equal(table["positives"], [c.sum() for c in chunks])
    assert table["cumulative_gain"].iloc[-1] == pytest.approx(1.0)


def test_confusion_at_threshold_matches_sklearn_if_real_scores(breast_scores) -> None:
    # Prepare
    _, _, y_valid, p_valid = breast_scores
    predicted = (p_valid >= 0.3).astype(int)

    # Execute
    confusion = metrics.confusion_at_threshold(y_valid, p_valid, threshold=0.3)

    # Assert
    np.testing.assert_array_equal(
        confusion.as_array(), skm.confusion_matrix(y_valid, predicted)
    )
    assert confusion.precision == pytest.approx(skm.precision_score(y_valid, predicted))
    assert confusion.recall == pytest.approx(skm.recall_score(y_valid, predicted))
    assert confusion.f1 == pytest.approx(skm.f1_score(y_valid, predicted))
    assert confusion.accuracy == pytest.approx(skm.accuracy_score(y_valid, predicted))


def test_confusion_ratios_are_zero_if_nothing_predicted_positive() -> None:
    # Prepare
    labels, scores = np.array([0, 1, 0]), np.array([0.1, 0.2, 0.3])

    # Execute
    confusion = metrics.confusion_at_threshold(labels, scores, threshold=0.9)

    # Assert
    assert (confusion.tn, confusion.fp, confusion.fn, confusion.tp) == (2, 0, 1, 0)
    assert (confusion.precision, confusion.recall, confusion.f1) == (0.0, 0.0, 0.0)


def test_population_stability_index_equals_hand_computed_if_two_bins() -> None:
    # Prepare: median edge 4 → expected shares .5/.5, actual .8/.2;
    # PSI = .3·ln(.8/.5) + (−.3)·ln(.2/.5) = .3·ln 4.
    expected = np.arange(10, dtype=float)
    actual = np.array([0, 0, 0, 1, 1, 1, 1, 1, 9, 9], dtype=float)

    # Execute
    result = metrics.population_stability_index(expected, actual, n_bins=2)

    # Assert
    assert result.psi == pytest.approx(0.3 * math.log(4))
    assert result.stability == "significant shift"
    np.testing.assert_array_equal(result.table["upper"], [4.0, np.inf])


def test_population_stability_index_floors_share_if_actual_bin_empty() -> None:
    # Prepare
    expected = np.arange(10, dtype=float)
    actual = np.zeros(10)

    # Execute
    result = metrics.population_stability_index(expected, actual, n_bins=2)

    # Assert
    hand = 0.5 * math.log(2) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)
    assert result.psi == pytest.approx(hand)


def test_population_stability_index_is_zero_if_same_distribution() -> None:
    # Prepare
    scores = np.random.default_rng(5).random(10_000)

    # Execute
    result = metrics.population_stability_index(scores, scores)

    # Assert
    assert result.psi == 0.0
    assert result.stability == "stable"
    np.testing.assert_array_equal(result.table["expected_count"], np.full(10, 1000))


def test_population_stability_index_merges_bins_if_expected_scores_tied() -> None:
    # Prepare: eight zeros make every decile up to the 8th equal to 0.
    expected = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 2], dtype=float)

    # Execute
    result = metrics.population_stability_index(expected, expected)

    # Assert
    np.testing.assert_array_equal(result.table["expected_count"], [8, 1, 1])


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_calibration_matches_sklearn_calibration_curve_if_real_scores(
    breast_scores, strategy: Literal["uniform", "quantile"]
) -> None:
    # Prepare
    y_train, p_train, _, _ = breast_scores
    observed, predicted = calibration_curve(
        y_train, p_train, n_bins=10, strategy=strategy
    )

    # Execute
    result = metrics.calibration(y_train, p_train, strategy=strategy)

    # Assert
    np.testing.assert_allclose(result.table["observed_rate"], observed)
    np.testing.assert_allclose(result.table["mean_predicted"], predicted)
    assert result.brier_score == pytest.approx(skm.brier_score_loss(y_train, p_train))


def test_calibration_error_equals_hand_computed_if_two_bins() -> None:
    # Prepare: bins [0,.5] and (.5,1]: means .15 and .85, both observed .5.
    labels = np.array([0, 1, 1, 0])
    probability = np.array([0.1, 0.2, 0.8, 0.9])

    # Execute
    result = metrics.calibration(labels, probability, n_bins=2)

    # Assert
    assert result.expected_calibration_error == pytest.approx(0.35)
    assert result.brier_score == pytest.approx(0.375)


def test_evaluate_report_is_strict_json_if_reference_scores_given(
    breast_scores,
) -> None:
    # Prepare
    y_train, p_train, y_valid, p_valid = breast_scores

    # Execute
    report = metrics.evaluate(y_valid, p_valid, reference_score=p_train)
    document = json.loads(json.dumps(report.to_dict(), allow_nan=False))

    # Assert
    assert document["auc"] == pytest.approx(skm.roc_auc_score(y_valid, p_valid))
    assert document["gini"] == pytest.approx(2 * document["auc"] - 1)
    assert document["roc"]["thresholds"][0] is None  # +inf has no JSON form
    assert len(document["lift"]) == 10
    assert document["psi"]["psi"] >= 0
    assert document["calibration"]["brier_score"] == pytest.approx(
        skm.brier_score_loss(y_valid, p_valid)
    )


def test_evaluate_uses_ks_threshold_if_threshold_is_none(breast_scores) -> None:
    # Prepare
    _, _, y_valid, p_valid = breast_scores

    # Execute
    report = metrics.evaluate(y_valid, p_valid, threshold=None)

    # Assert
    assert report.confusion.threshold == report.ks.threshold


def test_evaluate_skips_calibration_and_psi_if_logits_without_reference() -> None:
    # Prepare
    labels, scores = _random_tied(6, 1_000)

    # Execute
    report = metrics.evaluate(labels, (scores - 0.5) * 8, threshold=0.0)

    # Assert
    assert report.calibration is None and report.psi is None


@pytest.mark.parametrize(
    "call,message",
    [
        (
            lambda: metrics.roc_auc([0, 1, 1], [0.1, 0.2]),
            "y_true and score lengths differ: 3 != 2",
        ),
        (
            lambda: metrics.roc_auc([0, 1], [0.1, float("nan")]),
            "score contains NaN or infinite values",
        ),
        (
            lambda: metrics.roc_auc([1, 1], [0.1, 0.2]),
            "y_true contains only one class (1); AUC needs positives and negatives",
        ),
        (
            lambda: metrics.evaluate([0, 0], [0.1, 0.2]),
            "y_true contains only one class (0); evaluation needs positives and "
            "negatives",
        ),
        (
            lambda: metrics.ks_statistic([0, 2], [0.1, 0.2]),
            "y_true must contain only 0 and 1 labels",
        ),
        (
            lambda: metrics.calibration([0, 1], [0.1, 1.2]),
            "probability must lie in [0, 1] for calibration",
        ),
        (
            lambda: metrics.population_stability_index([0.1, 0.2], []),
            "actual is empty",
        ),
        (
            lambda: metrics.lift_table([0, 0, 0], [0.1, 0.2, 0.3], n_bins=2),
            "y_true contains no positives; lift is undefined",
        ),
    ],
)
def test_metrics_raise_value_error_if_input_is_bad(call, message: str) -> None:
    # Prepare: see parameters.

    # Execute / Assert
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_evaluate_keeps_at_least_min_bin_rows_per_bin_if_asked() -> None:
    # Prepare: 200 rows, most predictions small, a few near 1
    rng = np.random.default_rng(11)
    probability = np.r_[rng.uniform(0, 0.3, 190), rng.uniform(0.8, 1.0, 10)]
    labels = (rng.random(200) < probability).astype(int)
    labels[:2] = [0, 1]
    # Execute
    report = metrics.evaluate(labels, probability, min_bin_rows=30)
    plain = metrics.evaluate(labels, probability)
    # Assert
    assert len(report.lift) == 6 and report.lift["count"].min() >= 30
    table = report.calibration.table
    assert table["count"].min() >= 30 and table["count"].sum() == 200
    assert len(plain.lift) == 10 and plain.calibration.table["count"].min() < 30
    assert table["upper"].iloc[-1] == 1.0 and table["lower"].iloc[0] == 0.0
