"""Tests of models.woe: WOE/IV from counts, reference table, selection, encoding."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from models.binning import BinningModel
from models.woe import (
    count_by_bin,
    iv_by_feature,
    iv_strength,
    select_features,
    woe_iv_from_counts,
    woe_iv_table,
    woe_transform,
)


def test_woe_iv_from_counts_equals_hand_computed_if_no_smoothing() -> None:
    # Prepare: dist_pos = .1 .3 .6, dist_neg = .45 .35 .2.
    pos, neg = [10, 30, 60], [90, 70, 40]

    # Execute
    result = woe_iv_from_counts(pos, neg, smoothing=0)

    # Assert
    woe = [math.log(0.1 / 0.45), math.log(0.3 / 0.35), math.log(0.6 / 0.2)]
    iv = (0.1 - 0.45) * woe[0] + (0.3 - 0.35) * woe[1] + (0.6 - 0.2) * woe[2]
    np.testing.assert_allclose(result.woe, woe)
    assert result.iv == pytest.approx(iv)


def test_woe_is_positive_if_bin_has_higher_event_odds_than_population() -> None:
    # Prepare: bin 1 has odds 3:1 against the population's 1:1.
    pos, neg = [25, 75], [75, 25]

    # Execute
    result = woe_iv_from_counts(pos, neg, smoothing=0)

    # Assert
    assert result.woe[1] == pytest.approx(math.log(3))
    assert result.woe[0] == pytest.approx(-math.log(3))


def test_woe_iv_from_counts_smooths_every_occupied_bin_if_smoothing_positive() -> None:
    # Prepare: bin 0 has no positives; s = .5 over k = 2 occupied bins.
    pos, neg = [0, 10], [5, 5]

    # Execute
    result = woe_iv_from_counts(pos, neg, smoothing=0.5)

    # Assert
    np.testing.assert_allclose(result.dist_pos, [0.5 / 11, 10.5 / 11])
    np.testing.assert_allclose(result.dist_neg, [5.5 / 11, 5.5 / 11])
    np.testing.assert_allclose(result.woe, [math.log(0.5 / 5.5), math.log(10.5 / 5.5)])


def test_woe_iv_from_counts_gives_neutral_woe_if_bin_has_no_rows() -> None:
    # Prepare: the third bin (e.g. "missing") is empty.
    with_empty = woe_iv_from_counts([10, 30, 0], [20, 40, 0])

    # Execute
    without = woe_iv_from_counts([10, 30], [20, 40])

    # Assert
    assert (with_empty.woe[2], with_empty.iv_contribution[2]) == (0.0, 0.0)
    np.testing.assert_allclose(with_empty.woe[:2], without.woe)
    assert with_empty.iv == pytest.approx(without.iv)


def test_woe_iv_from_counts_accepts_fractional_counts_if_decoded_sums() -> None:
    # Prepare
    pos, neg = np.array([10.0, 30.0]), np.array([20.0, 40.0])

    # Execute
    result = woe_iv_from_counts(pos + 1e-9, neg - 1e-9)

    # Assert
    assert result.iv == pytest.approx(woe_iv_from_counts(pos, neg).iv)


@pytest.mark.parametrize(
    "pos,neg,smoothing,message",
    [
        ([1, 2], [1, 2, 3], 0.5, "pos_counts and neg_counts lengths differ: 2 != 3"),
        ([1, -2], [1, 2], 0.5, "pos_counts contains negative counts"),
        ([1, 2], [1, float("nan")], 0.5, "neg_counts contains NaN or infinite values"),
        ([0, 0], [1, 2], 0.5, "WOE needs both positive and negative rows"),
        ([1, 2], [1, 2], -1, "smoothing must be a non-negative number, got -1"),
        (
            [1, 0],
            [1, 2],
            0,
            "bin 1 has no positive rows; WOE is infinite without smoothing "
            "(use smoothing > 0)",
        ),
        ([], [], 0.5, "pos_counts must be a non-empty 1-D array"),
    ],
)
def test_woe_iv_from_counts_raises_value_error_if_counts_are_bad(
    pos, neg, smoothing: float, message: str
) -> None:
    # Prepare: see parameters.

    # Execute / Assert
    with pytest.raises(ValueError, match=re.escape(message)):
        woe_iv_from_counts(pos, neg, smoothing=smoothing)


def test_woe_iv_table_equals_pandas_crosstab_if_operator_features(
    default_credit,
) -> None:
    # Prepare: an independent computation with pandas, same binning and smoothing.
    features = default_credit[["x0_operator", "x5_operator", "x1_operator"]]
    labels = default_credit["y"].to_numpy()
    binning = BinningModel.fit(features, n_bins=8)
    expected = {}
    for name, index in binning.transform(features).items():
        counts = pd.crosstab(index, labels).reindex(
            range(binning.n_bins[name]), fill_value=0
        )
        occupied = counts.sum(axis=1) > 0
        smoothed = counts[occupied] + 0.5
        dist = smoothed / smoothed.sum()
        woe = np.log(dist[1] / dist[0])
        expected[name] = float(((dist[1] - dist[0]) * woe).sum())

    # Execute
    tables = woe_iv_table(features, labels, binning=binning)

    # Assert
    assert iv_by_feature(tables) == pytest.approx(expected, abs=1e-12)


def test_woe_iv_table_equals_counts_path_if_label_and_features_split(
    default_credit,
) -> None:
    # Prepare: the operator bins its features; the bank only ever sees per-bin sums.
    operator = default_credit[[f"x{i}_operator" for i in range(10)]]
    bank_labels = default_credit["y"].to_numpy()
    binning = BinningModel.fit(operator)
    operator_bins = binning.transform(operator)
    federated = {}
    for name in operator.columns:
        positives = np.bincount(
            operator_bins[name], weights=bank_labels, minlength=binning.n_bins[name]
        )
        totals = np.bincount(operator_bins[name], minlength=binning.n_bins[name])
        federated[name] = woe_iv_from_counts(positives, totals - positives).iv

    # Execute
    centralized = iv_by_feature(woe_iv_table(operator, bank_labels))

    # Assert
    assert centralized == pytest.approx(federated, abs=1e-12)
    assert centralized["x5_operator"] > 0.5  # PAY_0, the known strongest feature


def test_count_by_bin_counts_positives_and_negatives_if_bins_empty() -> None:
    # Prepare
    index, labels = np.array([0, 0, 2, 2, 2]), np.array([1, 0, 1, 1, 0])

    # Execute
    pos, neg = count_by_bin(index, labels, 4)

    # Assert
    np.testing.assert_array_equal(pos, [1, 0, 2, 0])
    np.testing.assert_array_equal(neg, [1, 0, 1, 0])


def test_select_features_applies_min_iv_then_top_k_if_both_given() -> None:
    # Prepare
    ivs = {"a": 0.01, "b": 0.4, "c": 0.05, "d": 0.2}

    # Execute
    chosen = select_features(ivs, min_iv=0.02, top_k=2)

    # Assert
    assert chosen == ["b", "d"]


def test_select_features_orders_ties_by_name_if_equal_iv() -> None:
    # Prepare
    ivs = {"z": 0.1, "a": 0.1, "m": 0.3}

    # Execute
    chosen = select_features(ivs)

    # Assert
    assert chosen == ["m", "a", "z"]


def test_iv_strength_reads_rule_of_thumb_bands_if_values_on_each_side() -> None:
    # Prepare
    values = [0.0, 0.05, 0.2, 0.4, 0.9]

    # Execute
    labels = [iv_strength(value) for value in values]

    # Assert
    assert labels == ["unpredictive", "weak", "medium", "strong", "suspicious"]


def test_woe_transform_maps_bin_index_to_woe_if_indices_in_range() -> None:
    # Prepare
    bins = pd.DataFrame({"a": [0, 1, 2, 1], "b": [1, 0, 0, 1]}, index=[5, 6, 7, 8])
    woe = {"b": np.array([-0.5, 0.5]), "a": np.array([0.1, 0.2, 0.3])}

    # Execute
    encoded = woe_transform(bins, woe)

    # Assert
    assert list(encoded.columns) == ["b", "a"]
    np.testing.assert_allclose(encoded["a"], [0.1, 0.2, 0.3, 0.2])
    assert list(encoded.index) == [5, 6, 7, 8]


def test_woe_transform_raises_value_error_if_index_out_of_range() -> None:
    # Prepare
    bins = pd.DataFrame({"a": [0, 3]})

    # Execute / Assert
    with pytest.raises(
        ValueError, match=re.escape("column 'a' has bin indices outside 0..2")
    ):
        woe_transform(bins, {"a": [0.1, 0.2, 0.3]})
