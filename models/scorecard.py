"""Scorecard scaling: model outputs to points, and per-bin points of a WOE-based LR.

Sign convention: the model predicts ``p = P(y = 1)``, the probability of the *bad* event
(default), with logit ``z = ln(p / (1 − p))``. Scores count *good* odds, so **a higher
score means lower risk**:

    odds     = (1 − p) / p = e^(−z)            (good : bad)
    factor   = pdo / ln 2
    offset   = base_points − factor · ln(base_odds)
    score    = offset + factor · ln(odds) = offset − factor · z

so a row at ``base_odds`` scores ``base_points`` and every doubling of the good odds
adds ``pdo`` points. Defaults: 600 points at 50:1, 20 points to double the odds.

For logistic regression on WOE-encoded features, ``z = α + Σ_j β_j · WOE_j``, and the
score splits into points per feature and bin (Siddiqi, "Credit Risk Scorecards"):

    points_ij = −(β_j · WOE_ij + α / n) · factor + offset / n

with ``n`` the number of features, so the points of a row's bins sum exactly to its
score. This holds for any WOE sign convention as long as the LR was fitted on the same
WOE values to predict ``y = 1``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import pandas as pd

from models.jsonable import to_jsonable


@dataclass(frozen=True)
class ScorecardScale:
    """Points at ``base_odds`` (good:bad) and points to double the odds."""

    base_points: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.base_points)):
            raise ValueError(f"base_points must be finite, got {self.base_points}")
        if not (math.isfinite(self.base_odds) and self.base_odds > 0):
            raise ValueError(f"base_odds must be positive, got {self.base_odds}")
        if not (math.isfinite(self.pdo) and self.pdo > 0):
            raise ValueError(f"pdo must be positive, got {self.pdo}")

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2)

    @property
    def offset(self) -> float:
        return self.base_points - self.factor * math.log(self.base_odds)


DEFAULT_SCALE = ScorecardScale()


def _finite(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _same_shape(result: np.ndarray) -> Any:
    return float(result) if result.ndim == 0 else result


@overload
def score_from_logit(z: float, *, scale: ScorecardScale = ...) -> float: ...
@overload
def score_from_logit(z: np.ndarray, *, scale: ScorecardScale = ...) -> np.ndarray: ...
def score_from_logit(z: Any, *, scale: ScorecardScale = DEFAULT_SCALE) -> Any:
    """Score of logit(s) ``z = ln(p / (1 − p))`` of the bad event."""
    return _same_shape(scale.offset - scale.factor * _finite(z, "z"))


@overload
def score_from_probability(p: float, *, scale: ScorecardScale = ...) -> float: ...
@overload
def score_from_probability(
    p: np.ndarray, *, scale: ScorecardScale = ...
) -> np.ndarray: ...
def score_from_probability(p: Any, *, scale: ScorecardScale = DEFAULT_SCALE) -> Any:
    """Score of probability(ies) ``p`` of the bad event, strictly inside (0, 1)."""
    probability = _finite(p, "p")
    if np.any((probability <= 0) | (probability >= 1)):
        # 0 and 1 would be infinite scores; the caller must decide how to clip.
        raise ValueError("p must lie strictly between 0 and 1")
    logit = np.log(probability) - np.log1p(-probability)
    return score_from_logit(logit, scale=scale)


@overload
def probability_from_score(score: float, *, scale: ScorecardScale = ...) -> float: ...
@overload
def probability_from_score(
    score: np.ndarray, *, scale: ScorecardScale = ...
) -> np.ndarray: ...
def probability_from_score(score: Any, *, scale: ScorecardScale = DEFAULT_SCALE) -> Any:
    """Inverse of :func:`score_from_probability`: bad-event probability of a score."""
    z = (scale.offset - _finite(score, "score")) / scale.factor
    return _same_shape(1.0 / (1.0 + np.exp(-z)))


@dataclass(frozen=True)
class Scorecard:
    """Points per bin index of each feature, and the same as a long table."""

    scale: ScorecardScale
    points: Mapping[str, np.ndarray]
    table: pd.DataFrame = field(repr=False)

    def score(self, bin_indices: pd.DataFrame) -> np.ndarray:
        """Total points of each row of bin indices (one column per feature)."""
        absent = [name for name in self.points if name not in bin_indices.columns]
        if absent:
            raise ValueError(f"columns missing from bin indices: {absent}")
        total = np.zeros(len(bin_indices))
        for name, points in self.points.items():
            total += points[bin_indices[name].to_numpy()]
        return total

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable({"scale": self.scale, "table": self.table})


def scorecard_points(
    coefficients: Mapping[str, float],
    intercept: float,
    woe_by_feature: Mapping[str, Any],
    *,
    bin_labels: Mapping[str, Sequence[str]] | None = None,
    scale: ScorecardScale = DEFAULT_SCALE,
    n_features: int | None = None,
) -> Scorecard:
    """Points per bin of a logistic regression fitted on WOE-encoded features.

    ``coefficients`` maps feature → β_j and ``woe_by_feature`` feature → WOE per bin
    index. ``n_features`` is the ``n`` sharing intercept and offset, by default the
    number of coefficients; when each party builds the points of its own features
    only, pass the total number of features of the joint model so the parties' points
    still add up to the score.
    """
    absent = [name for name in coefficients if name not in woe_by_feature]
    if absent:
        raise ValueError(f"features without WOE values: {absent}")
    n = len(coefficients) if n_features is None else n_features
    if n < max(len(coefficients), 1):
        raise ValueError(
            f"n_features must be at least the {len(coefficients)} features given"
        )
    if not math.isfinite(intercept):
        raise ValueError("intercept must be finite")
    points: dict[str, np.ndarray] = {}
    rows = []
    for name, beta in coefficients.items():
        woe = _finite(woe_by_feature[name], f"WOE of {name!r}")
        per_bin = -(beta * woe + intercept / n) * scale.factor + scale.offset / n
        points[name] = per_bin
        labels = (
            list(bin_labels[name])
            if bin_labels is not None and name in bin_labels
            else [str(index) for index in range(woe.size)]
        )
        if len(labels) != woe.size:
            raise ValueError(
                f"feature {name!r} has {len(labels)} labels for {woe.size} bins"
            )
        rows.append(
            pd.DataFrame(
                {
                    "feature": name,
                    "bin": np.arange(woe.size),
                    "label": labels,
                    "woe": woe,
                    "coefficient": float(beta),
                    "points": per_bin,
                }
            )
        )
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return Scorecard(scale, points, table)
