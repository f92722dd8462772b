"""Quantile binning of one party's features: at most max_bins bins plus a missing bin.

XGBoost-hist-like. Each feature gets ascending cut values c_0 < c_1 < ... < c_{k-1}
(observed values) and k + 1 value bins: bin 0 holds x < c_0, bin i holds
c_{i-1} <= x < c_i, bin k holds x >= c_{k-1}; NaN goes to the separate missing bin
k + 1.
Splitting "after bin b" therefore means x < c_b, the same condition as XGBoost's
split_condition, and the cut is the threshold the owner keeps.

A feature with at most max_bins distinct values gets one bin per value (cuts are the
distinct values above the smallest); otherwise bins of about equal counts in which a
value heavier than one bin keeps a bin of its own (`greedy_cuts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

BIN_DTYPE = np.uint16
# Threshold of a split after the last value bin: every finite value is below it.
ABOVE_ALL = float(np.finfo(np.float64).max)


# Features with more distinct values are first reduced to this many candidate cuts
# (inverted-CDF quantiles) so that fitting stays linear in the rows.
MAX_CANDIDATES = 4096


def feature_cuts(values: npt.NDArray[np.float64], max_bins: int) -> np.ndarray:
    """Ascending cut values of one feature (NaN ignored); at most max_bins - 1 cuts."""
    present = values[~np.isnan(values)]
    if present.size == 0:
        return np.empty(0)
    distinct, counts = np.unique(present, return_counts=True)
    if distinct.size <= max_bins:
        return distinct[1:].copy()
    if distinct.size > MAX_CANDIDATES:
        levels = np.arange(1, MAX_CANDIDATES) / MAX_CANDIDATES
        starts = np.unique(np.quantile(present, levels, method="inverted_cdf"))
        starts = np.concatenate(([distinct[0]], starts[starts > distinct[0]]))
        group = np.searchsorted(starts, distinct, side="right") - 1
        counts = np.bincount(group, weights=counts).astype(np.int64)
        distinct = starts
    return greedy_cuts(distinct, counts, max_bins)


def greedy_cuts(
    distinct: np.ndarray, counts: npt.NDArray[np.int64], max_bins: int
) -> np.ndarray:
    """Equal-count bins in which every value heavier than one bin keeps its own bin.

    Like XGBoost's weighted quantile summary (WXQSummary keeps "big" entries) and
    LightGBM's GreedyFindBin: plain quantiles would merge the tied quantiles of a
    heavy value (e.g. a zero balance) and waste bins.
    """
    total = float(counts.sum())
    big = counts >= total / max_bins
    rest_bins = max(max_bins - int(big.sum()), 1)
    rest_count = total - float(counts[big].sum())
    mean = rest_count / rest_bins
    cuts = []
    current = 0.0
    for i in range(distinct.size - 1):
        count = float(counts[i])
        if not big[i]:
            rest_count -= count
        current += count
        if big[i] or current >= mean or (big[i + 1] and current >= max(1.0, mean / 2)):
            cuts.append(distinct[i + 1])
            current = 0.0
            if not big[i]:
                rest_bins = max(rest_bins - 1, 1)
                mean = rest_count / rest_bins
            if len(cuts) >= max_bins - 1:
                break
    return np.asarray(cuts, dtype=np.float64)


@dataclass(frozen=True)
class QuantileBinner:
    """Cut values per feature, fitted once on the party's training rows."""

    cuts: tuple[np.ndarray, ...]
    names: tuple[str, ...]

    @classmethod
    def fit(
        cls,
        features: npt.ArrayLike,
        max_bins: int,
        names: Sequence[str] | None = None,
    ) -> QuantileBinner:
        x = check_features(features, names)
        if not 2 <= max_bins <= 256:
            raise ValueError(f"max_bins must be between 2 and 256, got {max_bins}")
        labels = tuple(names) if names is not None else default_names(x.shape[1])
        return cls(
            tuple(feature_cuts(x[:, j], max_bins) for j in range(x.shape[1])), labels
        )

    @property
    def n_features(self) -> int:
        return len(self.cuts)

    @property
    def n_bins(self) -> tuple[int, ...]:
        """Value bins per feature (the missing bin comes on top)."""
        return tuple(len(c) + 1 for c in self.cuts)

    def transform(self, features: npt.ArrayLike) -> npt.NDArray[np.uint16]:
        """Bin index per (row, feature); NaN maps to the feature's missing bin."""
        x = check_features(features, self.names, self.n_features)
        out = np.empty(x.shape, dtype=BIN_DTYPE)
        for j, cuts in enumerate(self.cuts):
            column = x[:, j]
            bins = np.searchsorted(cuts, column, side="right")
            bins[np.isnan(column)] = len(cuts) + 1
            out[:, j] = bins
        return out

    def threshold(self, feature: int, bin_index: int) -> float:
        """Cut of a split after `bin_index`: rows with x < threshold go left (after the
        last value bin: every finite value)."""
        cuts = self.cuts[feature]
        if bin_index == len(cuts):
            return ABOVE_ALL
        return float(cuts[bin_index])

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "cuts": [[float(v) for v in c] for c in self.cuts],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuantileBinner:
        cuts = tuple(np.asarray(c, dtype=np.float64) for c in data["cuts"])
        names = tuple(str(n) for n in data["names"])
        if len(cuts) != len(names):
            raise ValueError("binning: cuts and names differ in length")
        for j, c in enumerate(cuts):
            if c.ndim != 1 or not np.all(np.isfinite(c)) or np.any(np.diff(c) <= 0):
                raise ValueError(f"binning: cuts of feature {j} are not ascending")
        return cls(cuts, names)


def default_names(n_features: int) -> tuple[str, ...]:
    return tuple(f"x{j}" for j in range(n_features))


def check_features(
    features: npt.ArrayLike,
    names: Sequence[str] | None = None,
    n_features: int | None = None,
) -> npt.NDArray[np.float64]:
    """A 2-D float64 matrix; NaN means missing, +-inf is refused (naming row/column)."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be a 2-D matrix, got shape {x.shape}")
    if n_features is not None and x.shape[1] != n_features:
        raise ValueError(f"expected {n_features} feature columns, got {x.shape[1]}")
    infinite = np.isinf(x)
    if infinite.any():
        row, column = (int(v) for v in np.argwhere(infinite)[0])
        label = names[column] if names is not None else f"x{column}"
        raise ValueError(
            f"feature {label!r} (column {column}) has an infinite value at row {row}; "
            "use NaN for missing values"
        )
    return x
