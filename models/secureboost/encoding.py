"""A party's columns as the float matrix the trees split: numeric as they are,
categorical as ordinal codes.

Trees split numbers; a categorical column becomes the rank of its value among the
categories seen on the training rows (sorted, so the same data gives the same codes).
A missing value, and a category not seen in training, is NaN: the split's learned
default direction takes it, as XGBoost does with missing values. Fitted on the
training rows and stored with each party's model part, so new rows are coded alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

NUMERIC = "numeric"
CATEGORICAL = "categorical"


@dataclass(frozen=True)
class ColumnCodes:
    """Columns in order; `categories[c]` holds the sorted categories of column c."""

    columns: tuple[str, ...]
    categories: Mapping[str, tuple[str, ...]]

    @classmethod
    def fit(cls, frame: pd.DataFrame, kinds: Mapping[str, str]) -> ColumnCodes:
        categories = {}
        for column in frame.columns:
            if kinds.get(column, NUMERIC) == CATEGORICAL:
                values = frame[column].dropna().astype(str)
                categories[column] = tuple(sorted(values.unique()))
        return cls(tuple(frame.columns), categories)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """(rows, columns) float64; NaN for missing or unseen values."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ValueError(f"column {missing[0]!r} is missing")
        out = np.empty((len(frame), len(self.columns)), dtype=np.float64)
        for j, column in enumerate(self.columns):
            values = frame[column]
            if column in self.categories:
                index = {c: float(i) for i, c in enumerate(self.categories[column])}
                text = values.astype(object).where(values.notna(), None)
                out[:, j] = [
                    np.nan if v is None else index.get(str(v), np.nan) for v in text
                ]
                continue
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
            bad = values.notna().to_numpy() & np.isnan(numbers)
            if bad.any():
                row = int(np.argmax(bad))
                raise ValueError(f"column {column!r}: row {row} is not a number")
            out[:, j] = numbers
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "categories": {c: list(v) for c, v in self.categories.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnCodes:
        columns = tuple(str(c) for c in data["columns"])
        categories = {
            str(c): tuple(str(v) for v in values)
            for c, values in data.get("categories", {}).items()
        }
        unknown = sorted(set(categories) - set(columns))
        if unknown:
            raise ValueError(f"codes of an unknown column {unknown[0]!r}")
        return cls(columns, categories)
