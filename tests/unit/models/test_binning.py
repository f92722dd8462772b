"""Tests of models.binning: edges, missing/other bins, reuse on new data, round trip."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from models.binning import BinningModel, ColumnBinning


def test_binning_model_fit_makes_equal_count_bins_if_quantile() -> None:
    # Prepare
    df = pd.DataFrame({"x": np.arange(1, 101, dtype=float)})

    # Execute
    model = BinningModel.fit(df, ["x"], n_bins=4)
    index = model.transform(df)["x"]

    # Assert
    assert model.columns["x"].edges == (25.0, 50.0, 75.0)
    np.testing.assert_array_equal(np.bincount(index), [25, 25, 25, 25])


def test_binning_model_fit_makes_equal_widths_if_method_is_width() -> None:
    # Prepare: most values near 0, so quantile and width edges differ.
    df = pd.DataFrame({"x": [0.0, 0.1, 0.2, 0.3, 10.0]})

    # Execute
    model = BinningModel.fit(df, method="width", n_bins=5)

    # Assert
    assert model.columns["x"].edges == (2.0, 4.0, 6.0, 8.0)
    np.testing.assert_array_equal(model.transform(df)["x"], [0, 0, 0, 0, 4])


def test_binning_model_transform_puts_missing_in_last_bin_if_value_missing() -> None:
    # Prepare
    df = pd.DataFrame({"x": [1.0, 2.0, np.nan, 3.0, 4.0, None]})
    model = BinningModel.fit(df, n_bins=2)

    # Execute
    index = model.transform(df)["x"]

    # Assert
    spec = model.columns["x"]
    assert (spec.n_bins, spec.missing_index) == (3, 2)
    np.testing.assert_array_equal(index, [0, 0, 2, 1, 1, 2])


def test_binning_model_keeps_missing_bin_if_no_missing_at_fit() -> None:
    # Prepare
    model = BinningModel.fit(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]}), n_bins=2)

    # Execute
    index = model.transform(pd.DataFrame({"x": [np.nan, 2.0]}))["x"]

    # Assert
    np.testing.assert_array_equal(index, [2, 0])


def test_binning_model_uses_outer_bins_if_new_values_out_of_range() -> None:
    # Prepare
    model = BinningModel.fit(pd.DataFrame({"x": np.arange(10.0)}), n_bins=2)
    new = pd.DataFrame({"x": [-100.0, 4.0, 4.5, 100.0, np.inf, -np.inf]})

    # Execute
    index = model.transform(new)["x"]

    # Assert: bins are right-closed, (-inf, 4] and (4, inf).
    np.testing.assert_array_equal(index, [0, 0, 1, 1, 1, 0])


def test_binning_model_merges_tied_edges_if_column_has_few_values() -> None:
    # Prepare: a 0/1 flag asked for 10 bins.
    df = pd.DataFrame({"flag": [0, 0, 0, 1, 1, 0, 1, 0, 0, 0]})

    # Execute
    model = BinningModel.fit(df)

    # Assert
    assert model.columns["flag"].edges == (0.0,)
    assert model.labels("flag") == ["(-inf, 0]", "(0, inf)", "missing"]


def test_binning_model_merges_rare_categories_into_other_if_below_min_share() -> None:
    # Prepare: shares a .5, b .3, c .1, d .1 of all rows.
    values = ["a"] * 5 + ["b"] * 3 + ["c", "d"]
    df = pd.DataFrame({"plan": values})

    # Execute
    model = BinningModel.fit(df, min_category_share=0.2)
    index = model.transform(df)["plan"]

    # Assert
    assert model.columns["plan"].categories == ("a", "b")
    assert model.labels("plan") == ["a", "b", "other", "missing"]
    np.testing.assert_array_equal(index, [0] * 5 + [1] * 3 + [2, 2])


def test_binning_model_maps_unseen_category_to_other_if_new_data() -> None:
    # Prepare
    model = BinningModel.fit(pd.DataFrame({"plan": ["a", "b", "a", "b"]}))
    new = pd.DataFrame({"plan": ["b", "never-seen", None, "a"]})

    # Execute
    index = model.transform(new)["plan"]

    # Assert
    np.testing.assert_array_equal(index, [1, 2, 3, 0])


def test_binning_model_bins_numeric_codes_as_categories_if_listed_categorical() -> None:
    # Prepare: an education code; float 2.0 (after a NaN) must match code 2.
    df = pd.DataFrame({"edu": [1, 2, 2, 3, 3, 3], "x": np.arange(6.0)})

    # Execute
    model = BinningModel.fit(df, categorical=["edu"])
    index = model.transform(pd.DataFrame({"edu": [2.0, np.nan, 7.0], "x": [0.0] * 3}))

    # Assert
    assert model.columns["edu"].categories == (3, 2, 1)
    np.testing.assert_array_equal(index["edu"], [1, 4, 3])


def test_binning_model_bins_str_and_bool_as_categories_if_unlisted() -> None:
    # Prepare
    df = pd.DataFrame(
        {"city": pd.Series(["bj", "sh", "bj"], dtype="str"), "vip": [True, False, True]}
    )

    # Execute
    model = BinningModel.fit(df)

    # Assert
    assert model.columns["city"].kind == "categorical"
    assert model.columns["vip"].categories == (True, False)
    np.testing.assert_array_equal(model.transform(df)["city"], [0, 1, 0])


def test_binning_model_round_trips_through_json_if_mixed_columns() -> None:
    # Prepare
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=200),
            "code": rng.integers(0, 4, 200),
            "plan": rng.choice(["a", "b", "c"], 200),
        }
    )
    model = BinningModel.fit(df, categorical=["code"])

    # Execute
    restored = BinningModel.from_dict(json.loads(json.dumps(model.to_dict())))

    # Assert
    assert restored == model
    pd.testing.assert_frame_equal(restored.transform(df), model.transform(df))


def test_binning_model_fits_single_bin_if_column_all_missing() -> None:
    # Prepare
    df = pd.DataFrame({"x": [np.nan, np.nan]})

    # Execute
    model = BinningModel.fit(df)

    # Assert
    assert model.columns["x"] == ColumnBinning("x", "numeric")
    np.testing.assert_array_equal(model.transform(df)["x"], [1, 1])


@pytest.mark.parametrize(
    "call,message",
    [
        (
            lambda: BinningModel.fit(pd.DataFrame({"x": [1.0]}), ["y"]),
            "columns not in data: ['y']",
        ),
        (
            lambda: BinningModel.fit(pd.DataFrame({"x": [1.0]}), method="tree"),
            "method must be 'quantile' or 'width', got 'tree'",
        ),
        (
            lambda: BinningModel.fit(pd.DataFrame({"x": [1.0]}), n_bins=0),
            "n_bins must be at least 1, got 0",
        ),
        (
            lambda: BinningModel.fit(pd.DataFrame({"x": [1.0]})).transform(
                pd.DataFrame({"z": [1.0]})
            ),
            "columns missing from data to transform: ['x']",
        ),
        (
            lambda: BinningModel.fit(pd.DataFrame({"x": [1.0]})).transform(
                pd.DataFrame({"x": ["high"]})
            ),
            "column 'x' is not numeric",
        ),
    ],
)
def test_binning_model_raises_value_error_if_input_is_bad(call, message: str) -> None:
    # Prepare: see parameters.

    # Execute / Assert
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def _support_frame(rows: int = 2000) -> pd.DataFrame:
    """Columns that make tiny bins: a long tail (width bins), a rare missing share,
    rare categories and a rare "other"."""
    rng = np.random.default_rng(3)
    skewed = rng.lognormal(0, 2, rows)  # equal widths: nearly all rows in bin 0
    sparse_missing = rng.normal(size=rows)
    sparse_missing[rng.choice(rows, 7, replace=False)] = np.nan  # 7 missing
    plan = rng.choice(["a", "b", "c"], rows, p=[0.6, 0.395, 0.005]).astype(object)
    plan[rng.choice(rows, 3, replace=False)] = None  # 3 missing
    tiny_other = np.where(np.arange(rows) < 12, "rare", "common").astype(object)
    return pd.DataFrame(
        {
            "skewed": skewed,
            "sparse_missing": sparse_missing,
            "plan": plan,
            "tiny_other": tiny_other,
        }
    )


@pytest.mark.parametrize("method", ["quantile", "width"])
@pytest.mark.parametrize("n_bins", [10, 64])
def test_binning_model_bins_hold_min_rows_if_min_bin_rows_set(
    method: str, n_bins: int
) -> None:
    # Prepare
    df = _support_frame()
    min_rows = 100

    # Execute
    model = BinningModel.fit(
        df,
        method=method,
        n_bins=n_bins,
        min_category_share=0.001,  # keep "c" (10 rows) and "rare" (12) as categories
        min_bin_rows=min_rows,
    )
    index = model.transform(df)

    # Assert: every occupied bin (value, missing, other) holds >= min_rows rows.
    for name in df.columns:
        counts = np.bincount(index[name], minlength=model.n_bins[name])
        occupied = counts[counts > 0]
        assert occupied.min() >= min_rows, (name, counts)
        assert counts.sum() == len(df)  # no row dropped


def test_binning_model_small_bins_exist_if_no_min_bin_rows() -> None:
    # Prepare: the same data without the minimum (the regression guarded above).
    df = _support_frame()

    # Execute
    model = BinningModel.fit(df, method="width", n_bins=64, min_category_share=0.001)
    index = model.transform(df)

    # Assert
    smallest = {
        name: np.bincount(index[name])[np.bincount(index[name]) > 0].min()
        for name in df.columns
    }
    assert smallest == {"skewed": 1, "sparse_missing": 1, "plan": 3, "tiny_other": 12}


def test_column_binning_redirects_missing_and_other_if_below_min_rows() -> None:
    # Prepare
    df = _support_frame()

    # Execute
    model = BinningModel.fit(
        df, ["sparse_missing", "tiny_other"], n_bins=4, min_bin_rows=100
    )

    # Assert: 7 missing rows go to the largest value bin; the 12 "rare" rows (below
    # min_category_share's 1%, so "other") go to "common"; both labels say so.
    numeric, categorical = model.columns["sparse_missing"], model.columns["tiny_other"]
    assert numeric.merged == ((4, 0),)
    assert numeric.labels()[0].endswith(" + missing")
    assert numeric.labels()[4] == "missing (merged)"
    assert categorical.merged == ((1, 0),)
    assert categorical.labels() == ["common + other", "other (merged)", "missing"]
    new = pd.DataFrame({"sparse_missing": [np.nan], "tiny_other": ["never seen"]})
    np.testing.assert_array_equal(model.transform(new).to_numpy(), [[0, 0]])


def test_column_binning_round_trips_merged_bins_if_saved_as_dict() -> None:
    # Prepare
    df = _support_frame()
    model = BinningModel.fit(df, method="width", n_bins=64, min_bin_rows=100)

    # Execute
    loaded = BinningModel.from_dict(json.loads(json.dumps(model.to_dict())))

    # Assert
    assert loaded == model
    pd.testing.assert_frame_equal(loaded.transform(df), model.transform(df))


def test_binning_model_raises_if_fewer_rows_than_min_bin_rows() -> None:
    # Prepare
    df = pd.DataFrame({"x": np.arange(50.0)})

    # Execute / Assert
    with pytest.raises(ValueError, match="column 'x': 50 rows cannot fill a bin of 64"):
        BinningModel.fit(df, min_bin_rows=64)
