"""Quantile binning of one party's features: at most max_bins bins plus a missing bin.

XGBoost-hist-like. Each feature gets ascending cut values c_0 < c_1 < ... < c_{k-1}
(observed values) and k + 1 value bins: bin 0 holds x < c_0, bin i holds
c_{i-1} <= x < c_i, bin k holds x >= c_{k-1}; NaN goes to the separate missing bin
k + 1.
Splitting "after bin b" therefore means x < c_b, the same condition as XGBoost's
split_condition, and the cut is the threshold the owner keeps.

The cuts follow XGBoost's hist exactly in rule: its quantile summary is pruned to
max_bins * 8 and then max_bins + 1 entries at evenly spaced ranks, and the entries after
the minimum are the cuts. XGBoost computes that summary with a streaming sketch, we on
the exact summary of the training rows, so the cuts are XGBoost's whenever its sketch is
exact (up to a few thousand distinct values) and close otherwise. A feature with at most
max_bins distinct values therefore gets one bin per value, and the smallest values of a
skewed feature share the first bin with the minimum, as in XGBoost.
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


# XGBoost's hist builds a weighted quantile summary, prunes it to max_bins * 8 entries
# (its WQSketch::kFactor) and then to max_bins + 1, and cuts at the pruned entries
# after the minimum. The same rule on the exact summary of the training rows.
SUMMARY_FACTOR = 8


def feature_cuts(values: npt.NDArray[np.float64], max_bins: int) -> np.ndarray:
    """Ascending cut values of one feature (NaN ignored); at most max_bins - 1 cuts."""
    present = values[~np.isnan(values)]
    if present.size == 0:
        return np.empty(0)
    distinct, counts = np.unique(present, return_counts=True)
    rmax = np.cumsum(counts.astype(np.float64))
    summary = (
        distinct.tolist(),
        (rmax - counts).tolist(),
        rmax.tolist(),
        counts.astype(np.float64).tolist(),
    )
    summary = prune_summary(summary, max_bins * SUMMARY_FACTOR)
    summary = prune_summary(summary, max_bins + 1)
    kept = summary[0][1 : min(len(summary[0]), max_bins)]
    return np.asarray(kept, dtype=np.float64)


Summary = tuple[list[float], list[float], list[float], list[float]]


def prune_summary(summary: Summary, max_size: int) -> Summary:
    """XGBoost's WQSummary::SetPrune: keep max_size entries at evenly spaced ranks.

    summary = (values, rmin, rmax, wmin) of ascending entries; the first and last
    entries are always kept, and an entry is picked for each of max_size - 2 target
    ranks (the nearer of the two entries around the target; no entry twice).
    """
    values, rmin, rmax, wmin = summary
    size = len(values)
    if size <= max_size:
        return summary
    begin = rmax[0]
    span = rmin[size - 1] - begin
    n = max_size - 1
    keep = [0]
    i, last = 1, 0
    for k in range(1, n):
        dx2 = 2 * ((k * span) / n + begin)
        while i < size - 1 and dx2 >= rmax[i + 1] + rmin[i + 1]:
            i += 1
        if i == size - 1:
            break
        # rmin of i's successor vs rmax of i + 1's predecessor (RMinNext, RMaxPrev).
        if dx2 < rmin[i] + wmin[i] + rmax[i + 1] - wmin[i + 1]:
            if i != last:
                keep.append(i)
                last = i
        elif i + 1 != last:
            keep.append(i + 1)
            last = i + 1
    if last != size - 1:
        keep.append(size - 1)
    return (
        [values[j] for j in keep],
        [rmin[j] for j in keep],
        [rmax[j] for j in keep],
        [wmin[j] for j in keep],
    )


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
