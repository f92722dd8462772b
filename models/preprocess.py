"""Per-party feature preprocessing for linear models, fitted on the training rows only.

Numeric columns: missing values become the training median plus a 0/1 missing
indicator (only when the training rows had missing values), then z-scored with the
training mean and standard deviation and clipped to +-clip. Categorical columns: one-hot
for categories holding at least `min_share` of the training rows, plus "other" and
"missing" indicators where needed. Each party preprocesses its own columns locally; the
fitted parameters are plain JSON so a stored model can transform new rows.
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


@dataclass
class FeaturePreprocessor:
    clip: float = 8.0
    min_share: float = 0.01
    numeric: list[_Numeric] = field(default_factory=list)
    categorical: list[_Categorical] = field(default_factory=list)

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        kinds: dict[str, str],
        *,
        clip: float = 8.0,
        min_share: float = 0.01,
    ) -> FeaturePreprocessor:
        pre = cls(clip=clip, min_share=min_share)
        for name in frame.columns:
            column = frame[name]
            if kinds.get(name, "numeric") == "numeric":
                values = pd.to_numeric(column, errors="raise").astype(np.float64)
                present = values.dropna()
                median = float(present.median()) if len(present) else 0.0
                filled = values.fillna(median)
                std = float(filled.std(ddof=0))
                pre.numeric.append(
                    _Numeric(
                        name,
                        median,
                        float(filled.mean()),
                        std if std > 0 else 1.0,
                        bool(values.isna().any()),
                    )
                )
            else:
                text = column.astype("string")
                shares = text.value_counts(normalize=True, dropna=True)
                kept = [str(c) for c, s in shares.items() if s >= min_share]
                pre.categorical.append(
                    _Categorical(
                        name,
                        kept,
                        bool((~text.isin(kept) & text.notna()).any()),
                        bool(text.isna().any()),
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
