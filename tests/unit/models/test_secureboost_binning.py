"""Tests of models.secureboost.binning: cuts, the missing bin, thresholds."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from models.secureboost.binning import QuantileBinner, feature_cuts


def test_feature_cuts_gives_each_value_a_bin_if_few_distinct_values() -> None:
    # Prepare
    values = np.array([3.0, 1.0, 2.0, 2.0, np.nan, 5.0])

    # Execute
    cuts = feature_cuts(values, max_bins=8)

    # Assert: bin 0 holds x < 2 (the value 1), then one bin per value.
    np.testing.assert_array_equal(cuts, [2.0, 3.0, 5.0])


def test_feature_cuts_equals_xgboost_cuts_if_sketch_is_exact() -> None:
    # Prepare: skewed integers, 60% at the minimum, a few hundred distinct values.
    rng = np.random.default_rng(0)
    x = np.c_[
        np.where(rng.random(5000) < 0.6, -1, rng.integers(0, 400, 5000)),
        rng.poisson(3, 5000),
        rng.integers(0, 250, 5000),
    ].astype(float)
    matrix = xgb.QuantileDMatrix(x, max_bin=32)
    pointers, values = matrix.get_quantile_cut()

    # Execute
    binner = QuantileBinner.fit(x, max_bins=32)

    # Assert: XGBoost lists a lower and an upper sentinel around the same cuts.
    for j in range(3):
        theirs = values[pointers[j] + 1 : pointers[j + 1] - 1]
        np.testing.assert_array_equal(binner.cuts[j], theirs)


def test_quantile_binner_uses_at_most_max_bins_plus_missing_if_many_values() -> None:
    # Prepare
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5000, 2))
    x[::10, 1] = np.nan

    # Execute
    binner = QuantileBinner.fit(x, max_bins=32)
    bins = binner.transform(x)

    # Assert
    assert binner.n_bins == (32, 32)
    assert bins[:, 0].max() == 31
    np.testing.assert_array_equal(np.isnan(x[:, 1]), bins[:, 1] == 32)
    counts = np.bincount(bins[:, 0])
    assert counts.min() > 100  # about equal counts


def test_quantile_binner_threshold_matches_bins_if_split_after_bin() -> None:
    # Prepare
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2000, 1)).round(2)
    binner = QuantileBinner.fit(x, max_bins=16)
    bins = binner.transform(x)[:, 0]

    # Execute / Assert: "bin <= b" is exactly "x < threshold(b)" on every row.
    for b in range(binner.n_bins[0] - 1):
        np.testing.assert_array_equal(bins <= b, x[:, 0] < binner.threshold(0, b))


def test_quantile_binner_refuses_infinite_value_naming_row_and_column() -> None:
    # Prepare
    x = np.array([[1.0, 2.0], [3.0, np.inf]])

    # Execute / Assert
    with pytest.raises(ValueError) as caught:
        QuantileBinner.fit(x, max_bins=4, names=("age", "income"))
    assert str(caught.value) == (
        "feature 'income' (column 1) has an infinite value at row 1; use NaN for "
        "missing values"
    )


def test_quantile_binner_round_trips_through_dict_if_saved() -> None:
    # Prepare
    x = np.random.default_rng(3).normal(size=(300, 3))
    binner = QuantileBinner.fit(x, max_bins=8, names=("a", "b", "c"))

    # Execute
    loaded = QuantileBinner.from_dict(binner.to_dict())

    # Assert
    np.testing.assert_array_equal(loaded.transform(x), binner.transform(x))
    assert loaded.names == ("a", "b", "c")
