"""Per-party feature preprocessing for linear models, fitted on the training rows only.

Numeric columns: missing values become the training median plus a 0/1 missing
indicator (only when the training rows had missing values), then z-scored with the
training mean and standard deviation and clipped to +-clip. Categorical columns: one-hot
for categories holding at least `min_share` of the training rows, plus "other" and
"missing" indicators where needed. Each party preprocesses its own columns locally; the
fitted parameters are plain JSON so a stored model can transform new rows.
`FeaturePreprocessor.preparation` records, per column, what the fit did to the data
(missing share, indicators made or merged away, categories folded into "other"), for
the modeler's report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class _Numeric:
    name: str
    median: float
    mean: float
    std: float
    indicator: bool


@dataclass
class _Categorical:
    name: str
    categories: list[str]
    other: bool
    missing: bool


@dataclass(frozen=True)
class ColumnPreparation:
    """What fitting did to one column on the training rows (report only)."""

    column: str
    kind: str
    rows: int
    missing_rows: int
    # Numeric: missing values become the median; a 0/1 indicator only if supported.
    missing_indicator: bool
    categories_kept: int = 0
    # Categories below min_share or min_count rows, and their rows, folded into
    # "other"; "other" gets an indicator only if supported.
    categories_to_other: int = 0
    rows_to_other: int = 0
    other_indicator: bool = False

    @property
    def missing_share(self) -> float:
        return self.missing_rows / self.rows if self.rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "missing_share": self.missing_share}


@dataclass
class FeaturePreprocessor:
    clip: float  # standardised values are clipped to +-clip (the caller's choice)
    min_share: float = 0.01
    numeric: list[_Numeric] = field(default_factory=list)
    categorical: list[_Categorical] = field(default_factory=list)
    # Set by fit (not saved with the model): what it did to each column.
    preparation: list[ColumnPreparation] = field(default_factory=list)
    min_count: int = 1

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        kinds: dict[str, str],
        *,
        clip: float,
        min_share: float = 0.01,
        min_count: int = 1,
    ) -> FeaturePreprocessor:
        """Fit on the training rows. Every indicator column (missing, a category,
        "other") is created only if both it and its complement hold at least
        `min_count` rows: a party learns its own trained weights, and the weight of a
        column supported on a handful of rows is an aggregate of just their residuals
        (for a single row, the sign of its label)."""
        pre = cls(clip=clip, min_share=min_share, min_count=min_count)
        n = len(frame)

        def supported(count: int) -> bool:
            return min_count <= count <= n - min_count

        for name in frame.columns:
            column = frame[name]
            if kinds.get(name, "numeric") == "numeric":
                values = pd.to_numeric(column, errors="raise").astype(np.float64)
                present = values.dropna()
                median = float(present.median()) if len(present) else 0.0
                filled = values.fillna(median)
                std = float(filled.std(ddof=0))
                missing = int(values.isna().sum())
                pre.numeric.append(
                    _Numeric(
                        name,
                        median,
                        float(filled.mean()),
                        std if std > 0 else 1.0,
                        supported(missing),
                    )
                )
                pre.preparation.append(
                    ColumnPreparation(name, "numeric", n, missing, supported(missing))
                )
            else:
                text = column.astype("string")
                counts = text.value_counts(dropna=True)
                kept = [
                    str(c)
                    for c, k in counts.items()
                    if k >= min_share * n and supported(int(k))
                ]
                other = int((~text.isin(kept) & text.notna()).sum())
                missing = int(text.isna().sum())
                pre.categorical.append(
                    _Categorical(name, kept, supported(other), supported(missing))
                )
                pre.preparation.append(
                    ColumnPreparation(
                        name,
                        "categorical",
                        n,
                        missing,
                        supported(missing),
                        categories_kept=len(kept),
                        categories_to_other=len(counts) - len(kept),
                        rows_to_other=other,
                        other_indicator=supported(other),
                    )
                )
        return pre

    @property
    def output_names(self) -> list[str]:
        names: list[str] = []
        for n in self.numeric:
            names.append(n.name)
            if n.indicator:
                names.append(f"{n.name}=missing")
        for c in self.categorical:
            names += [f"{c.name}={v}" for v in c.categories]
            if c.other:
                names.append(f"{c.name}=other")
            if c.missing:
                names.append(f"{c.name}=missing")
        return names

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        blocks: list[np.ndarray] = []
        for n in self.numeric:
            values = pd.to_numeric(frame[n.name], errors="coerce").astype(np.float64)
            missing = values.isna().to_numpy()
            z = (values.fillna(n.median).to_numpy() - n.mean) / n.std
            blocks.append(np.clip(z, -self.clip, self.clip)[:, None])
            if n.indicator:
                blocks.append(missing.astype(np.float64)[:, None])
        for c in self.categorical:
            text = frame[c.name].astype("string")
            for value in c.categories:
                blocks.append((text == value).fillna(False).to_numpy(float)[:, None])
            if c.other:
                other = ~text.isin(c.categories).fillna(False) & text.notna()
                blocks.append(other.to_numpy(float)[:, None])
            if c.missing:
                blocks.append(text.isna().to_numpy(float)[:, None])
        if not blocks:
            return np.zeros((len(frame), 0))
        return np.hstack(blocks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "clip": self.clip,
            "min_share": self.min_share,
            "numeric": [vars(n) for n in self.numeric],
            "categorical": [vars(c) for c in self.categorical],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeaturePreprocessor:
        return cls(
            clip=float(data["clip"]),
            min_share=float(data["min_share"]),
            numeric=[_Numeric(**n) for n in data["numeric"]],
            categorical=[_Categorical(**c) for c in data["categorical"]],
        )
