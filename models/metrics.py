"""Binary-score metrics: AUC, ROC, KS, lift/gains, PSI, confusion, calibration.

Conventions shared by every function here:

- ``y_true`` holds 0/1 labels (bool accepted); 1 is the event the model predicts
  (a default, a response to an offer).
- ``score`` is higher for rows more likely to be positive: a probability of y=1 or a
  logit. A scorecard score (higher = lower risk) must be negated before it is passed in.
- A row is predicted positive when ``score >= threshold``.
- Every result depends only on the multiset of (label, score) pairs, to the last bit:
  inputs are put in one canonical order (by score, then label) before anything is
  summed, so the bank gets the same numbers from pairs delivered unlinked from their
  rows (protocol/evaluation) as from the rows themselves.

Everything is vectorised numpy over one stable sort, so the functions are usable on
30k–1M rows. :func:`evaluate` bundles all metrics into one JSON-ready
:class:`EvaluationReport`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from models.binning import quantile_edges
from models.jsonable import to_jsonable

# Rule-of-thumb PSI bands used across credit-risk practice (e.g. Siddiqi, "Credit Risk
# Scorecards"): below 0.1 no action, 0.1–0.25 investigate, above 0.25 significant shift.
PSI_STABLE_BELOW = 0.1
PSI_MODERATE_BELOW = 0.25


# --- input checks --------------------------------------------------------------------


def _check_scores(score: Any, name: str = "score") -> np.ndarray:
    values = np.asarray(score, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {values.shape}")
    if values.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return values


def _check_labels_scores(y_true: Any, score: Any) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(y_true)
    if labels.ndim != 1:
        raise ValueError(f"y_true must be a 1-D array, got shape {labels.shape}")
    values = np.asarray(score, dtype=float)
    if values.ndim == 1 and labels.shape[0] != values.shape[0]:
        raise ValueError(
            f"y_true and score lengths differ: {labels.shape[0]} != {values.shape[0]}"
        )
    values = _check_scores(values)
    if labels.dtype != bool and not np.issubdtype(labels.dtype, np.number):
        raise ValueError("y_true must contain only 0 and 1 labels")
    if labels.dtype != bool and not np.all((labels == 0) | (labels == 1)):
        raise ValueError("y_true must contain only 0 and 1 labels")
    labels = labels.astype(np.int64)
    canonical = np.lexsort((labels, values))  # float sums independent of row order
    return labels[canonical], values[canonical]


def _require_both_classes(labels: np.ndarray, what: str) -> None:
    n_pos = int(labels.sum())
    if n_pos == 0 or n_pos == labels.size:
        only = "1" if n_pos else "0"
        raise ValueError(
            f"y_true contains only one class ({only}); {what} needs positives and "
            "negatives"
        )


# --- one sort, shared by ROC / AUC / KS / lift ---------------------------------------


@dataclass(frozen=True)
class _Ranking:
    """Cumulative label counts at each distinct score, highest score first."""

    thresholds: np.ndarray  # distinct scores, descending
    tps: np.ndarray  # positives with score >= threshold
    fps: np.ndarray  # negatives with score >= threshold

    @property
    def n_pos(self) -> int:
        return int(self.tps[-1])

    @property
    def n_neg(self) -> int:
        return int(self.fps[-1])


def _rank(labels: np.ndarray, values: np.ndarray) -> _Ranking:
    order = np.argsort(values, kind="stable")[::-1]
    sorted_values = values[order]
    # Last position of each run of equal scores: ties form one threshold, as in sklearn.
    ends = np.r_[np.flatnonzero(np.diff(sorted_values)), sorted_values.size - 1]
    tps = np.cumsum(labels[order])[ends]
    fps = ends + 1 - tps
    return _Ranking(sorted_values[ends], tps, fps)


# --- ROC, AUC, KS --------------------------------------------------------------------


@dataclass(frozen=True)
class RocCurve:
    """ROC points in sklearn's layout: starts at (0, 0) with threshold +inf."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray

    def downsample(self, max_points: int) -> RocCurve:
        """Keep at most ``max_points`` evenly spaced points, always both end points."""
        if max_points < 2:
            raise ValueError(f"max_points must be at least 2, got {max_points}")
        if self.fpr.size <= max_points:
            return self
        keep = np.unique(np.linspace(0, self.fpr.size - 1, max_points).round())
        idx = keep.astype(np.int64)
        return RocCurve(self.fpr[idx], self.tpr[idx], self.thresholds[idx])

    def to_dict(self) -> dict[str, Any]:
        """Lists of floats; the leading +inf threshold becomes null (strict JSON)."""
        return to_jsonable(
            {"fpr": self.fpr, "tpr": self.tpr, "thresholds": self.thresholds}
        )


def _roc_from_ranking(ranking: _Ranking, drop_intermediate: bool) -> RocCurve:
    tps, fps, thresholds = ranking.tps, ranking.fps, ranking.thresholds
    if drop_intermediate and fps.size > 2:
        # Same rule as sklearn: drop points collinear with their neighbours; they never
        # change the plotted curve or the area.
        corner = np.logical_or(np.diff(fps, 2), np.diff(tps, 2))
        keep = np.flatnonzero(np.r_[True, corner, True])
        tps, fps, thresholds = tps[keep], fps[keep], thresholds[keep]
    tpr = np.r_[0.0, tps / ranking.n_pos]
    fpr = np.r_[0.0, fps / ranking.n_neg]
    return RocCurve(fpr, tpr, np.r_[np.inf, thresholds])


def roc_curve(y_true: Any, score: Any, *, drop_intermediate: bool = True) -> RocCurve:
    """ROC curve points, equal to ``sklearn.metrics.roc_curve`` on the same input."""
    labels, values = _check_labels_scores(y_true, score)
    _require_both_classes(labels, "the ROC curve")
    return _roc_from_ranking(_rank(labels, values), drop_intermediate)


def _auc_from_ranking(ranking: _Ranking) -> float:
    # Trapezoids in integer counts: a tie group contributes half of its
    # positive-negative pairs, exactly sklearn's (and Mann-Whitney's) tie handling,
    # without the rounding of summing float rates.
    tps = np.r_[0, ranking.tps]
    fps = np.r_[0, ranking.fps]
    doubled_area = int(np.sum(np.diff(fps) * (tps[1:] + tps[:-1])))
    return doubled_area / (2.0 * ranking.n_pos * ranking.n_neg)


def roc_auc(y_true: Any, score: Any) -> float:
    """Area under the ROC curve; ties count one half, like ``roc_auc_score``."""
    labels, values = _check_labels_scores(y_true, score)
    _require_both_classes(labels, "AUC")
    return _auc_from_ranking(_rank(labels, values))


@dataclass(frozen=True)
class KsResult:
    """Kolmogorov-Smirnov statistic: the largest gap between the TPR and FPR curves.

    ``threshold`` is the score at which the gap is largest (rows with
    ``score >= threshold`` predicted positive); the highest such score on ties.
    """

    statistic: float
    threshold: float
    tpr: float
    fpr: float

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self.__dict__)


def _ks_from_ranking(ranking: _Ranking) -> KsResult:
    tpr = ranking.tps / ranking.n_pos
    fpr = ranking.fps / ranking.n_neg
    # Compare |TPR − FPR| scaled by P·N in integers, so equal gaps are equal and the
    # first (highest) threshold wins a tie regardless of float rounding.
    scaled_gap = np.abs(ranking.tps * ranking.n_neg - ranking.fps * ranking.n_pos)
    best = int(np.argmax(scaled_gap))
    return KsResult(
        statistic=float(abs(tpr[best] - fpr[best])),
        threshold=float(ranking.thresholds[best]),
        tpr=float(tpr[best]),
        fpr=float(fpr[best]),
    )


def ks_statistic(y_true: Any, score: Any) -> KsResult:
    """KS = max over thresholds of |TPR − FPR|, with the threshold attaining it."""
    labels, values = _check_labels_scores(y_true, score)
    _require_both_classes(labels, "KS")
    return _ks_from_ranking(_rank(labels, values))


# --- lift and gains ------------------------------------------------------------------


def _lift_from_ranking(ranking: _Ranking, n_bins: int) -> pd.DataFrame:
    n_rows = ranking.n_pos + ranking.n_neg
    if n_bins < 1 or n_bins > n_rows:
        raise ValueError(f"n_bins must be between 1 and the row count {n_rows}")
    # Bin b holds sorted positions [edges[b], edges[b+1]); sizes differ by at most one.
    edges = (np.arange(n_bins + 1) * n_rows) // n_bins
    group_ends = ranking.tps + ranking.fps
    # Cumulative positives as a function of position, linear inside a tie group: a
    # tie group cut by a bin edge shares its positives pro rata, so the table does not
    # depend on the input row order (hence positives may be fractional).
    cum_pos = np.interp(edges, np.r_[0, group_ends], np.r_[0, ranking.tps])
    counts = np.diff(edges)
    positives = np.diff(cum_pos)
    overall_rate = ranking.n_pos / n_rows
    rate = positives / counts
    cum_counts = edges[1:]
    first_group = np.searchsorted(group_ends, edges[:-1], side="right")
    last_group = np.searchsorted(group_ends, edges[1:] - 1, side="right")
    return pd.DataFrame(
        {
            "bin": np.arange(1, n_bins + 1),
            "count": counts,
            "positives": positives,
            "positive_rate": rate,
            "lift": rate / overall_rate,
            "cumulative_count": cum_counts,
            "cumulative_positives": cum_pos[1:],
            "cumulative_gain": cum_pos[1:] / ranking.n_pos,
            "cumulative_lift": (cum_pos[1:] / cum_counts) / overall_rate,
            "score_max": ranking.thresholds[first_group],
            "score_min": ranking.thresholds[last_group],
        }
    )


def lift_table(y_true: Any, score: Any, *, n_bins: int = 10) -> pd.DataFrame:
    """Lift and gains by equal-count bins of descending score (deciles by default).

    Columns: ``bin`` (1 = highest scores), ``count``, ``positives``, ``positive_rate``,
    ``lift`` (bin rate / overall rate), ``cumulative_count``, ``cumulative_positives``,
    ``cumulative_gain`` (fraction of all positives captured so far; ×100 for %),
    ``cumulative_lift`` and the bin's ``score_max`` / ``score_min``. Bin sizes differ by
    at most one row; positives of tied scores straddling a bin edge are shared pro rata.
    """
    labels, values = _check_labels_scores(y_true, score)
    if labels.sum() == 0:
        raise ValueError("y_true contains no positives; lift is undefined")
    return _lift_from_ranking(_rank(labels, values), n_bins)


# --- confusion matrix ----------------------------------------------------------------


def _ratio(numerator: float, denominator: float) -> float:
    # sklearn's zero_division=0 convention: an empty denominator scores 0, not NaN.
    return numerator / denominator if denominator else 0.0


@dataclass(frozen=True)
class ConfusionMatrix:
    """Counts at one threshold (positive if ``score >= threshold``) and their ratios."""

    threshold: float
    tn: int
    fp: int
    fn: int
    tp: int

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def accuracy(self) -> float:
        return _ratio(self.tp + self.tn, self.tp + self.tn + self.fp + self.fn)

    def as_array(self) -> np.ndarray:
        """``[[tn, fp], [fn, tp]]``, the layout of sklearn's ``confusion_matrix``."""
        return np.array([[self.tn, self.fp], [self.fn, self.tp]])

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(
            {
                **self.__dict__,
                "precision": self.precision,
                "recall": self.recall,
                "f1": self.f1,
                "accuracy": self.accuracy,
            }
        )


def confusion_at_threshold(
    y_true: Any, score: Any, *, threshold: float
) -> ConfusionMatrix:
    """Confusion matrix of the rule ``score >= threshold`` → positive."""
    labels, values = _check_labels_scores(y_true, score)
    if not np.isfinite(threshold):
        raise ValueError("threshold must be a finite number")
    predicted = values >= threshold
    tp = int(np.count_nonzero(predicted & (labels == 1)))
    fp = int(np.count_nonzero(predicted)) - tp
    fn = int(labels.sum()) - tp
    return ConfusionMatrix(float(threshold), labels.size - tp - fp - fn, fp, fn, tp)


# --- population stability ------------------------------------------------------------


@dataclass(frozen=True)
class PsiResult:
    """PSI value, its rule-of-thumb reading and the per-bin table."""

    psi: float
    stability: str  # "stable" | "moderate shift" | "significant shift"
    table: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self.__dict__)


def population_stability_index(
    expected: Any, actual: Any, *, n_bins: int = 10, epsilon: float = 1e-4
) -> PsiResult:
    """Population stability index of ``actual`` scores against ``expected`` scores.

    ``PSI = Σ_i (a_i − e_i) · ln(a_i / e_i)`` where ``e_i`` and ``a_i`` are the shares
    of the expected (train) and actual (validation, production) scores in bin ``i``,
    each floored at ``epsilon`` so an empty bin gives a large but finite term (shares
    are not renormalised after flooring).

    Bins come from the expected distribution only: its ``n_bins``-quantiles taken as
    observed values (inverted CDF), right-closed ``(e_{i-1}, e_i]``, with open outer
    bins so every actual score lands in one. Tied quantiles merge, so a heavily tied
    score has fewer than ``n_bins`` bins; every bin holds at least one expected score.
    """
    expected_values = _check_scores(expected, "expected")
    actual_values = _check_scores(actual, "actual")
    if n_bins < 2:
        raise ValueError(f"n_bins must be at least 2, got {n_bins}")
    if not epsilon > 0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    # The same equal-frequency edges as feature binning (observed values, ties merged).
    edges = quantile_edges(expected_values, n_bins)
    n_cells = edges.size + 1
    expected_counts = np.bincount(
        np.searchsorted(edges, expected_values, side="left"), minlength=n_cells
    )
    actual_counts = np.bincount(
        np.searchsorted(edges, actual_values, side="left"), minlength=n_cells
    )
    e_share = np.maximum(expected_counts / expected_values.size, epsilon)
    a_share = np.maximum(actual_counts / actual_values.size, epsilon)
    contribution = (a_share - e_share) * np.log(a_share / e_share)
    psi = float(contribution.sum())
    if psi < PSI_STABLE_BELOW:
        stability = "stable"
    elif psi < PSI_MODERATE_BELOW:
        stability = "moderate shift"
    else:
        stability = "significant shift"
    table = pd.DataFrame(
        {
            "bin": np.arange(1, n_cells + 1),
            "lower": np.r_[-np.inf, edges],
            "upper": np.r_[edges, np.inf],
            "expected_count": expected_counts,
            "actual_count": actual_counts,
            "expected_share": expected_counts / expected_values.size,
            "actual_share": actual_counts / actual_values.size,
            "psi_contribution": contribution,
        }
    )
    return PsiResult(psi, stability, table)


# --- calibration ---------------------------------------------------------------------


@dataclass(frozen=True)
class CalibrationResult:
    """Reliability table (non-empty bins), Brier score, expected calibration error."""

    table: pd.DataFrame
    brier_score: float
    expected_calibration_error: float

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self.__dict__)


def calibration(
    y_true: Any,
    probability: Any,
    *,
    n_bins: int = 10,
    strategy: Literal["uniform", "quantile"] = "uniform",
    min_bin_rows: int = 1,
) -> CalibrationResult:
    """Mean predicted probability against observed positive rate per bin.

    Bins are those of ``sklearn.calibration.calibration_curve``: ``uniform`` splits
    [0, 1] into equal widths, ``quantile`` uses the predictions' (linear) quantiles; a
    prediction equal to an inner edge belongs to the lower bin. Empty bins are omitted,
    and a bin with fewer than ``min_bin_rows`` rows is merged with the next (the last
    with the one before), so that no row of the table is a statistic of a few rows.
    ``brier_score = mean((p − y)²)``; ``expected_calibration_error = Σ_b (n_b / n) ·
    |mean_predicted_b − observed_rate_b|``.
    """
    labels, values = _check_labels_scores(y_true, probability)
    if values.min() < 0 or values.max() > 1:
        raise ValueError("probability must lie in [0, 1] for calibration")
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    if strategy == "uniform":
        bin_edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        bin_edges = np.percentile(values, np.linspace(0, 100, n_bins + 1))
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    bin_ids = np.searchsorted(bin_edges[1:-1], values)
    groups = _merged_bins(np.bincount(bin_ids, minlength=n_bins), min_bin_rows)
    first = np.array([g[0] for g in groups])
    last = np.array([g[1] for g in groups])
    merged = np.zeros(n_bins, dtype=np.int64)
    for index, (a, b) in enumerate(groups):
        merged[a : b + 1] = index
    bin_ids = merged[bin_ids]
    n_groups = len(groups)
    counts = np.bincount(bin_ids, minlength=n_groups)
    predicted_sum = np.bincount(bin_ids, weights=values, minlength=n_groups)
    positive_sum = np.bincount(bin_ids, weights=labels, minlength=n_groups)
    mean_predicted = predicted_sum / counts
    observed = positive_sum / counts
    weights = counts / values.size
    table = pd.DataFrame(
        {
            "bin": first + 1,
            "lower": bin_edges[:-1][first],
            "upper": bin_edges[1:][last],
            "count": counts,
            "mean_predicted": mean_predicted,
            "observed_rate": observed,
        }
    )
    return CalibrationResult(
        table=table,
        brier_score=float(np.mean((values - labels) ** 2)),
        expected_calibration_error=float(
            np.sum(weights * np.abs(mean_predicted - observed))
        ),
    )


def _merged_bins(counts: np.ndarray, min_rows: int) -> list[tuple[int, int]]:
    """(first, last) non-empty bins of each merged bin: consecutive non-empty bins
    joined until they hold `min_rows` rows (a short last run joins the one before)."""
    groups: list[tuple[int, int]] = []
    first, held = -1, 0
    for b in np.flatnonzero(counts).tolist():
        first = b if first < 0 else first
        held += int(counts[b])
        if held >= min_rows:
            groups.append((first, b))
            first, held = -1, 0
    if first >= 0:
        last = int(np.flatnonzero(counts)[-1])
        groups[-1:] = [(groups[-1][0] if groups else first, last)]
    return groups


# --- everything at once --------------------------------------------------------------


@dataclass(frozen=True)
class EvaluationReport:
    """All metrics of one scored set; ``roc`` is downsampled for charts and JSON.

    ``calibration`` is None when the scores are not probabilities in [0, 1];
    ``psi`` is None when no reference scores were given.
    """

    n_rows: int
    n_positive: int
    positive_rate: float
    auc: float
    gini: float
    ks: KsResult
    roc: RocCurve
    lift: pd.DataFrame
    confusion: ConfusionMatrix
    calibration: CalibrationResult | None
    psi: PsiResult | None

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self.__dict__)


def evaluate(
    y_true: Any,
    score: Any,
    *,
    threshold: float | None = 0.5,
    reference_score: Any = None,
    n_bins: int = 10,
    max_curve_points: int = 500,
    min_bin_rows: int = 1,
) -> EvaluationReport:
    """Evaluate scores against labels with every metric of this module.

    ``threshold`` sets the confusion matrix; ``None`` uses the KS threshold.
    ``reference_score`` (typically the train scores) adds the PSI of ``score`` against
    it. ``n_bins`` applies to the lift table, calibration and PSI. The AUC and KS come
    from the full curve; only the stored ROC points are thinned to ``max_curve_points``.
    Lift, gains and calibration bins hold at least ``min_bin_rows`` rows (fewer lift
    bins, merged calibration bins).
    """
    labels, values = _check_labels_scores(y_true, score)
    _require_both_classes(labels, "evaluation")
    ranking = _rank(labels, values)
    ks = _ks_from_ranking(ranking)
    auc = _auc_from_ranking(ranking)
    is_probability = bool(values.min() >= 0 and values.max() <= 1)
    return EvaluationReport(
        n_rows=int(labels.size),
        n_positive=ranking.n_pos,
        positive_rate=ranking.n_pos / labels.size,
        auc=auc,
        gini=2 * auc - 1,
        ks=ks,
        roc=_roc_from_ranking(ranking, drop_intermediate=True).downsample(
            max_curve_points
        ),
        lift=_lift_from_ranking(
            ranking, max(1, min(n_bins, labels.size // max(min_bin_rows, 1)))
        ),
        confusion=confusion_at_threshold(
            labels, values, threshold=ks.threshold if threshold is None else threshold
        ),
        calibration=calibration(
            labels, values, n_bins=n_bins, min_bin_rows=min_bin_rows
        )
        if is_probability
        else None,
        psi=None
        if reference_score is None
        else population_stability_index(reference_score, values, n_bins=n_bins),
    )
