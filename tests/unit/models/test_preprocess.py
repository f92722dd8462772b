"""Per-party preprocessing: train-fitted scaling, and no indicator column a handful of
rows could be read from."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.preprocess import FeaturePreprocessor


def test_transform_standardises_and_clips_if_fitted_on_train() -> None:
    # Prepare
    train = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]})
    # Execute
    pre = FeaturePreprocessor.fit(train, {"a": "numeric"}, clip=1.0)
    x = pre.transform(pd.DataFrame({"a": [2.5, 100.0]}))
    # Assert
    assert pre.output_names == ["a"]
    assert np.allclose(x[:, 0], [0.0, 1.0])


def test_fit_creates_no_indicator_if_it_would_hold_fewer_rows_than_min_count() -> None:
    # Prepare: one missing value and one rare category among 100 rows.
    frame = pd.DataFrame(
        {
            "n": [np.nan] + [1.0] * 99,
            "c": ["rare"] + ["x"] * 49 + ["y"] * 50,
        }
    )
    kinds = {"n": "numeric", "c": "categorical"}
    # Execute
    strict = FeaturePreprocessor.fit(
        frame, kinds, clip=8.0, min_share=0.0, min_count=10
    )
    loose = FeaturePreprocessor.fit(frame, kinds, clip=8.0, min_share=0.0, min_count=1)
    # Assert
    assert strict.output_names == ["n", "c=y", "c=x"]
    assert "n=missing" in loose.output_names and "c=rare" in loose.output_names
    x = strict.transform(frame)
    assert np.all((x[:, 1:] != 0).sum(axis=0) >= 10)


def test_round_trip_keeps_transform_if_serialised() -> None:
    # Prepare
    frame = pd.DataFrame({"n": [1.0, np.nan, 3.0] * 10, "c": ["a", "b", None] * 10})
    kinds = {"n": "numeric", "c": "categorical"}
    pre = FeaturePreprocessor.fit(frame, kinds, clip=8.0)
    # Execute
    back = FeaturePreprocessor.from_dict(pre.to_dict())
    # Assert
    assert np.array_equal(back.transform(frame), pre.transform(frame))


def test_fit_records_what_it_did_to_each_column_if_rows_are_merged() -> None:
    # Prepare: 3 missing of 100 numeric values; 2 rare categories (1 and 4 rows).
    frame = pd.DataFrame(
        {
            "n": [np.nan] * 3 + [1.0] * 97,
            "c": ["rare"] + ["odd"] * 4 + ["x"] * 45 + ["y"] * 50,
        }
    )
    kinds = {"n": "numeric", "c": "categorical"}
    # Execute
    pre = FeaturePreprocessor.fit(frame, kinds, clip=8.0, min_share=0.0, min_count=10)
    # Assert
    numeric, categorical = pre.preparation
    assert numeric.to_dict() == {
        "column": "n", "kind": "numeric", "rows": 100, "missing_rows": 3,
        "missing_indicator": False, "categories_kept": 0, "categories_to_other": 0,
        "rows_to_other": 0, "other_indicator": False, "missing_share": 0.03,
    }  # fmt: skip
    assert (categorical.categories_kept, categorical.categories_to_other) == (2, 2)
    assert (categorical.rows_to_other, categorical.other_indicator) == (5, False)
