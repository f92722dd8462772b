"""Weight of evidence (WOE) and information value (IV) from per-bin label counts.

Convention (the same as FATE's binning, so numbers compare): positives are ``y = 1``
(the event, e.g. default), and for bin ``i``

    dist_pos_i = (pos_i + s) / (P + s·k)      dist_neg_i = (neg_i + s) / (N + s·k)
    WOE_i      = ln(dist_pos_i / dist_neg_i)
    IV         = Σ_i (dist_pos_i − dist_neg_i) · WOE_i

with ``P``, ``N`` the positive and negative totals, ``s`` the Laplace ``smoothing``
added to *every* non-empty bin (so the distributions still sum to one and empty-class
bins get a finite WOE), and ``k`` the number of non-empty bins. A positive WOE means the
bin has higher odds of the event than the population. Bins with no rows at all (the
missing or "other" bin of a column without such values) carry no evidence: WOE 0, IV 0,
so new data falling there scores at the population odds. With ``smoothing=0`` and no
zero counts the values equal FATE's exactly.

:func:`woe_iv_from_counts` takes counts only: it is what the bank applies to the
per-bin sums it decrypts in the federated protocol. :func:`woe_iv_table` is the
centralized reference that tests compare the federated result with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.binning import BinningMethod, BinningModel
from models.jsonable import to_jsonable

# Siddiqi's ("Credit Risk Scorecards") reading of IV: below 0.02 unpredictive, up to
# 0.1 weak, up to 0.3 medium, above that strong; above 0.5 is suspiciously strong
# (often a leak of the label into the feature).
IV_STRENGTH_BANDS = (
    (0.02, "unpredictive"),
    (0.1, "weak"),
    (0.3, "medium"),
    (0.5, "strong"),
)


@dataclass(frozen=True)
class WoeIv:
    """Per-bin WOE and IV of one feature."""

    pos_counts: np.ndarray
    neg_counts: np.ndarray
    dist_pos: np.ndarray
    dist_neg: np.ndarray
    woe: np.ndarray
    iv_contribution: np.ndarray
    iv: float

    def to_frame(self, labels: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per bin; ``labels`` name the bins (default: their index)."""
        index = list(range(self.woe.size)) if labels is None else list(labels)
        if len(index) != self.woe.size:
            raise ValueError(f"got {len(index)} labels for {self.woe.size} bins")
        return pd.DataFrame(
            {
                "bin": index,
                "positives": self.pos_counts,
                "negatives": self.neg_counts,
                "dist_pos": self.dist_pos,
                "dist_neg": self.dist_neg,
                "woe": self.woe,
                "iv_contribution": self.iv_contribution,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self.__dict__)


def _check_counts(counts: Any, name: str) -> np.ndarray:
    values = np.asarray(counts, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if np.any(values < 0):
        raise ValueError(f"{name} contains negative counts")
    return values


def woe_iv_from_counts(
    pos_counts: Any, neg_counts: Any, *, smoothing: float = 0.5
) -> WoeIv:
    """WOE per bin and IV of a feature from its per-bin positive and negative counts.

    Counts may be fractional (e.g. decoded fixed-point sums). See the module docstring
    for the formulas and the smoothing rule.
    """
    pos = _check_counts(pos_counts, "pos_counts")
    neg = _check_counts(neg_counts, "neg_counts")
    if pos.size != neg.size:
        raise ValueError(
            f"pos_counts and neg_counts lengths differ: {pos.size} != {neg.size}"
        )
    if not (np.isfinite(smoothing) and smoothing >= 0):
        raise ValueError(f"smoothing must be a non-negative number, got {smoothing}")
    if pos.sum() == 0 or neg.sum() == 0:
        raise ValueError("WOE needs both positive and negative rows; a total is zero")
    occupied = (pos + neg) > 0
    if smoothing == 0:
        for label, counts in (("positive", pos), ("negative", neg)):
            empty = np.flatnonzero(occupied & (counts == 0))
            if empty.size:
                raise ValueError(
                    f"bin {int(empty[0])} has no {label} rows; WOE is infinite without "
                    "smoothing (use smoothing > 0)"
                )
    n_occupied = int(occupied.sum())
    dist_pos = np.where(
        occupied, (pos + smoothing) / (pos.sum() + smoothing * n_occupied), 0.0
    )
    dist_neg = np.where(
        occupied, (neg + smoothing) / (neg.sum() + smoothing * n_occupied), 0.0
    )
    # Empty bins would divide 0 by 0; they are set to the neutral WOE 0 instead.
    ratio = np.divide(dist_pos, dist_neg, out=np.ones_like(dist_pos), where=occupied)
    woe = np.log(ratio)
    contribution = (dist_pos - dist_neg) * woe
    return WoeIv(
        pos, neg, dist_pos, dist_neg, woe, contribution, float(contribution.sum())
    )


def count_by_bin(bin_index: Any, y: Any, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Positive and negative row counts per bin index ``0 .. n_bins - 1`` (int64)."""
    index = np.asarray(bin_index)
    labels = np.asarray(y)
    if index.shape != labels.shape or index.ndim != 1:
        raise ValueError(
            f"bin_index and y must be 1-D of equal length, got {index.shape} and "
            f"{labels.shape}"
        )
    if index.size and (index.min() < 0 or index.max() >= n_bins):
        raise ValueError(f"bin_index outside 0..{n_bins - 1}")
    if not np.all((labels == 0) | (labels == 1)):
        raise ValueError("y must contain only 0 and 1 labels")
    index = index.astype(np.int64)
    pos = np.bincount(index, weights=labels.astype(np.float64), minlength=n_bins)
    total = np.bincount(index, minlength=n_bins)
    return pos.astype(np.int64), total - pos.astype(np.int64)


def woe_iv_table(
    df: pd.DataFrame,
    y: Any,
    *,
    binning: BinningModel | None = None,
    columns: Sequence[str] | None = None,
    method: BinningMethod = "quantile",
    n_bins: int = 10,
    smoothing: float = 0.5,
) -> dict[str, WoeIv]:
    """Centralized reference: WOE/IV of raw columns with labels in the same place.

    Uses ``binning`` when given (then ``columns``/``method``/``n_bins`` are ignored),
    otherwise fits a :class:`BinningModel` on ``df`` first.
    """
    labels = np.asarray(y)
    if labels.shape != (len(df),):
        raise ValueError(f"y has {labels.shape[0]} rows but data has {len(df)}")
    model = (
        BinningModel.fit(df, columns, method=method, n_bins=n_bins)
        if binning is None
        else binning
    )
    indices = model.transform(df)
    return {
        name: woe_iv_from_counts(
            *count_by_bin(indices[name].to_numpy(), labels, model.n_bins[name]),
            smoothing=smoothing,
        )
        for name in model.columns
    }


def iv_by_feature(tables: Mapping[str, WoeIv]) -> dict[str, float]:
    """Feature name → IV."""
    return {name: table.iv for name, table in tables.items()}


def iv_strength(iv: float) -> str:
    """Rule-of-thumb reading of an IV value (see ``IV_STRENGTH_BANDS``)."""
    for upper, label in IV_STRENGTH_BANDS:
        if iv < upper:
            return label
    return "suspicious"


def select_features(
    iv_by_feature: Mapping[str, float],
    *,
    min_iv: float | None = None,
    top_k: int | None = None,
) -> list[str]:
    """Features with IV ≥ ``min_iv``, then the ``top_k`` highest; highest IV first.

    Ties in IV are ordered by name so the selection is deterministic.
    """
    if top_k is not None and top_k < 0:
        raise ValueError(f"top_k must be non-negative, got {top_k}")
    ranked = sorted(iv_by_feature.items(), key=lambda item: (-item[1], item[0]))
    chosen = [name for name, iv in ranked if min_iv is None or iv >= min_iv]
    return chosen if top_k is None else chosen[:top_k]


def woe_transform(
    bin_indices: pd.DataFrame, woe_by_feature: Mapping[str, Any]
) -> pd.DataFrame:
    """Replace each bin index by its bin's WOE, for WOE-encoded logistic regression.

    ``woe_by_feature`` maps a column of ``bin_indices`` to its WOE vector (indexable by
    bin index); only those columns are returned, in the mapping's order.
    """
    encoded: dict[str, np.ndarray] = {}
    for name, woe in woe_by_feature.items():
        if name not in bin_indices.columns:
            raise ValueError(f"column {name!r} missing from bin indices")
        values = np.asarray(woe, dtype=float)
        index = bin_indices[name].to_numpy()
        if index.size and (index.min() < 0 or index.max() >= values.size):
            raise ValueError(
                f"column {name!r} has bin indices outside 0..{values.size - 1}"
            )
        encoded[name] = values[index]
    return pd.DataFrame(encoded, index=bin_indices.index)
