"""Label protection for the embedding gradients the bank returns, and its measurement.

The gradient of a row's loss with respect to the operator's embedding is
(p - y) * dz/dE: its norm is larger for the rare class and its direction flips with
the label, so a passive party can read labels off it (Li et al., "Label Leakage and
Protection in Two-party Split Learning", arXiv 2102.08504). Two attacks are measured:

- norm attack: score each row by the norm of its gradient;
- direction attack: score each row by the cosine between its gradient and the gradient
  of one row the attacker knows to be positive.

Each attack's label-recovery AUC is computed per batch and reported as the *leak*
max over batches of |AUC - 0.5| + 0.5 (an inverted signal leaks as much as a direct
one: max-norm clipping's AUC near 0.08 is a 0.92 leak). The norm attack is also run on
each row's gradient norm averaged across rounds, which removes noise that is fresh
every round.

The defence is Marvell (same paper): per batch, Gaussian noise whose covariance per
class minimises the symmetrised KL divergence between the two classes' perturbed
gradient distributions under a noise power budget P = scale * ||mean_pos -
mean_neg||^2. The optimal covariances have one variance along the class-mean
difference and one isotropic variance for each class (four numbers, solved here with
SLSQP). Marvell models each class as isotropic around its mean, but a row's gradient
is (p - y) times a row-dependent vector, so its components across the gap also flip
sign with the label; an attacker who projects out the noise direction reads them
(measured). Every across variance is therefore at least ``across_floor`` times the
larger within-class per-coordinate variance. Finally the class whose perturbed
gradients would have the smaller expected squared norm gets extra isotropic noise,
so both classes' expected norms match and averaging over rounds finds no norm gap.
Max-norm clipping alone is not offered: it leaves the direction intact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

# scipy and models.metrics (pandas) are imported where used: the operator's processes
# import this module for DefenceSpec only, and Flower starts one per message.

DefenceKind = Literal["marvell", "none"]
# A batch needs this many rows of each class for its own class statistics; smaller
# batches use the whole round's statistics instead.
MIN_CLASS_ROWS = 2


@dataclass(frozen=True)
class DefenceSpec:
    """``scale`` sets the noise power relative to the class-mean gap (Marvell's s)."""

    kind: DefenceKind = "marvell"
    scale: float = 24.0
    batch_size: int = 4096
    across_floor: float = 16.0

    def __post_init__(self) -> None:
        if self.kind not in ("marvell", "none"):
            raise ValueError(f"defence: unknown kind {self.kind!r} (marvell, none)")
        if not 0 < self.scale <= 1e6:
            raise ValueError(f"defence.scale: must be in (0, 1e6], got {self.scale}")
        if self.batch_size < 2:
            raise ValueError(f"defence.batch_size: must be >= 2, got {self.batch_size}")
        if not 0 <= self.across_floor <= 1e6:
            raise ValueError(
                f"defence.across_floor: must be in [0, 1e6], got {self.across_floor}"
            )


@dataclass(frozen=True)
class NoiseCovariance:
    """Noise variances: along the class-mean difference and per other dimension."""

    negative_along: float
    negative_across: float
    positive_along: float
    positive_across: float


def sum_kl(cov: NoiseCovariance, u: float, v: float, dims: int, gap2: float) -> float:
    """Symmetrised KL between N(mean_neg, (u+noise) I) and N(mean_pos, (v+noise) I).

    ``u`` and ``v`` are the per-coordinate gradient variances of the negative and
    positive class, ``gap2`` the squared distance between the class means.
    """
    a0 = cov.negative_along + u
    a1 = cov.positive_along + v
    b0 = cov.negative_across + u
    b1 = cov.positive_across + v
    across = (dims - 1) * (b0 / b1 + b1 / b0 - 2.0)
    along = (a0 + gap2) / a1 + (a1 + gap2) / a0 - 2.0
    return 0.5 * (across + along)


def marvell_covariance(
    u: float, v: float, dims: int, gap2: float, positive_rate: float, power: float
) -> NoiseCovariance:
    """The noise covariance minimising sum-KL with p*tr(S1) + (1-p)*tr(S0) <= power."""
    from scipy.optimize import minimize

    u = max(u, 1e-12)
    v = max(v, 1e-12)
    if gap2 <= 0.0 or power <= 0.0:
        return NoiseCovariance(0.0, 0.0, 0.0, 0.0)
    p = positive_rate
    scale = power  # optimise in units of the budget for a well-conditioned problem

    def unpack(x: np.ndarray) -> NoiseCovariance:
        # x = (along_neg, across_neg, along_pos, across_pos) in units of `scale`;
        # "along" is the total variance in the gap direction, so along >= across.
        return NoiseCovariance(*(float(max(value, 0.0)) * scale for value in x))

    def objective(x: np.ndarray) -> float:
        return sum_kl(unpack(x), u, v, dims, gap2)

    def budget(x: np.ndarray) -> float:
        c = unpack(x)
        spent = p * (c.positive_along + (dims - 1) * c.positive_across) + (1 - p) * (
            c.negative_along + (dims - 1) * c.negative_across
        )
        return 1.0 - spent / scale

    # Start from equal across-variances (the orthogonal term's optimum) and spend the
    # rest of the budget along the gap, split evenly between the classes.
    across = max(u, v)
    across_cost = (dims - 1) * (p * (across - v) + (1 - p) * (across - u))
    if across_cost < power:
        rest = power - across_cost
        x0 = np.array([across - u + rest, across - u, across - v + rest, across - v])
    else:
        x0 = np.array([power, 0.0, power, 0.0])
    constraints = [
        {"type": "ineq", "fun": budget},
        {"type": "ineq", "fun": lambda x: x[0] - x[1]},
        {"type": "ineq", "fun": lambda x: x[2] - x[3]},
    ]
    result = minimize(
        objective,
        np.maximum(x0, 0.0) / scale,
        method="SLSQP",
        bounds=[(0.0, None)] * 4,
        constraints=constraints,
        options={"ftol": 1e-10, "maxiter": 200},
    )
    best = unpack(result.x)
    # SLSQP may stop slightly outside the budget; never spend more than allowed.
    overspend = 1.0 - budget(result.x)
    if overspend > 1.0:
        factor = 1.0 / overspend
        best = NoiseCovariance(*(value * factor for value in vars(best).values()))
    return best


def even_batches(order: np.ndarray, size: int) -> list[np.ndarray]:
    """``order`` cut into batches of about ``size`` rows, all of (nearly) equal size.

    No short remainder batch: its class statistics (for the noise) and its AUC (for
    the attacks) would be the noisiest of the round.
    """
    count = max(1, round(len(order) / size))
    return [batch for batch in np.array_split(order, count) if len(batch)]


@dataclass(frozen=True)
class _ClassStats:
    gap: np.ndarray  # mean_pos - mean_neg
    u: float  # per-coordinate variance of negatives
    v: float  # per-coordinate variance of positives
    positive_rate: float


def _class_stats(gradients: np.ndarray, labels: np.ndarray) -> _ClassStats | None:
    positive = gradients[labels == 1]
    negative = gradients[labels == 0]
    if len(positive) < MIN_CLASS_ROWS or len(negative) < MIN_CLASS_ROWS:
        return None
    mean_pos = positive.mean(axis=0)
    mean_neg = negative.mean(axis=0)
    return _ClassStats(
        gap=mean_pos - mean_neg,
        u=float(((negative - mean_neg) ** 2).mean()),
        v=float(((positive - mean_pos) ** 2).mean()),
        positive_rate=float(labels.mean()),
    )


def protect(
    gradients: np.ndarray,
    labels: np.ndarray,
    order: np.ndarray,
    spec: DefenceSpec,
    rng: np.random.Generator,
) -> np.ndarray:
    """The gradients to send: Marvell noise added per batch of ``order`` (a copy).

    ``rng`` must be unpredictable to the operator in production (seeded from the
    OS); a seeded generator is for tests only.
    """
    out = np.array(gradients, dtype=np.float64, copy=True)
    if spec.kind == "none":
        return out.astype(np.float32)
    labels = np.asarray(labels).astype(np.int64)
    fallback = _class_stats(out, labels)
    if fallback is None:
        raise ValueError(
            "label protection needs at least 2 training rows of each class"
        )
    dims = out.shape[1]
    for rows in even_batches(order, spec.batch_size):
        stats = _class_stats(out[rows], labels[rows]) or fallback
        gap2 = float(stats.gap @ stats.gap)
        cov = marvell_covariance(
            stats.u, stats.v, dims, gap2, stats.positive_rate, spec.scale * gap2
        )
        direction = stats.gap / np.sqrt(gap2) if gap2 > 0 else np.zeros(dims)
        is_pos = labels[rows] == 1
        floor = spec.across_floor * max(stats.u, stats.v)
        along_var = {
            0: max(cov.negative_along - cov.negative_across, 0.0),
            1: max(cov.positive_along - cov.positive_across, 0.0),
        }
        across_var = {
            0: max(cov.negative_across, floor),
            1: max(cov.positive_across, floor),
        }
        # Equal expected squared norms for both classes: otherwise the class with
        # the smaller noise keeps a norm signal that averaging over rounds recovers.
        batch = out[rows]
        expected = {
            y: float((batch[labels[rows] == y] ** 2).sum(axis=1).mean())
            + along_var[y]
            + dims * across_var[y]
            for y in (0, 1)
            if np.any(labels[rows] == y)
        }
        if len(expected) == 2:
            low = 0 if expected[0] < expected[1] else 1
            across_var[low] += abs(expected[1] - expected[0]) / dims
        along = np.full(len(rows), np.sqrt(along_var[0]))
        along[is_pos] = np.sqrt(along_var[1])
        across = np.full(len(rows), np.sqrt(across_var[0]))
        across[is_pos] = np.sqrt(across_var[1])
        noise = rng.standard_normal(len(rows))[:, None] * along[:, None] * direction
        noise += rng.standard_normal((len(rows), dims)) * across[:, None]
        out[rows] += noise
    return out.astype(np.float32)


# ---- attacks -----------------------------------------------------------------------


def leak(auc: float) -> float:
    """|AUC - 0.5| + 0.5: how well a score separates the labels, either way round."""
    return abs(auc - 0.5) + 0.5


def norm_attack_auc(gradients: np.ndarray, labels: np.ndarray) -> float:
    from models.metrics import roc_auc

    return roc_auc(labels, np.linalg.norm(gradients, axis=1))


def _cosine_auc(gradients: np.ndarray, labels: np.ndarray) -> float:
    from models.metrics import roc_auc

    reference = int(np.flatnonzero(labels == 1)[0])
    ref = gradients[reference]
    norms = np.linalg.norm(gradients, axis=1) * np.linalg.norm(ref)
    cosine = gradients @ ref / np.maximum(norms, 1e-30)
    others = np.ones(len(labels), dtype=bool)
    others[reference] = False
    return roc_auc(labels[others], cosine[others])


def direction_attack_auc(gradients: np.ndarray, labels: np.ndarray) -> float:
    """Cosine with the first positive row's gradient (the attacker's known positive).

    Run twice, on the gradients as received and with the batch's principal direction
    projected out (where noise concentrated along one direction hides the rest; the
    attacker needs no labels to find it); the AUC of the larger leak is returned.
    """
    plain = _cosine_auc(gradients, labels)
    centred = gradients - gradients.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    principal = vt[0]
    projected = gradients - np.outer(gradients @ principal, principal)
    across = _cosine_auc(projected, labels)
    return plain if leak(plain) >= leak(across) else across


def _has_both(labels: np.ndarray, extra_positive: int = 0) -> bool:
    positives = int(labels.sum())
    return positives >= 1 + extra_positive and positives < len(labels)


@dataclass
class LeakMeter:
    """Accumulates both attacks over the rounds of one training run."""

    labels: np.ndarray
    batch_size: int
    norm_leaks: list[float] = field(default_factory=list)
    direction_leaks: list[float] = field(default_factory=list)
    norm_sum: np.ndarray | None = None
    rounds: int = 0

    def add_round(
        self, gradients: np.ndarray, order: np.ndarray
    ) -> tuple[float, float]:
        """Record what was sent this round; returns its (norm, direction) leak."""
        labels = np.asarray(self.labels).astype(np.int64)
        norm_round, direction_round = 0.5, 0.5
        for rows in even_batches(order, self.batch_size):
            batch_labels = labels[rows]
            if _has_both(batch_labels):
                norm_round = max(
                    norm_round, leak(norm_attack_auc(gradients[rows], batch_labels))
                )
            if _has_both(batch_labels, extra_positive=1):
                direction_round = max(
                    direction_round,
                    leak(direction_attack_auc(gradients[rows], batch_labels)),
                )
        norms = np.linalg.norm(gradients, axis=1)
        self.norm_sum = norms if self.norm_sum is None else self.norm_sum + norms
        self.rounds += 1
        self.norm_leaks.append(norm_round)
        self.direction_leaks.append(direction_round)
        return norm_round, direction_round

    def averaged_norm_leak(self) -> float:
        """Norm attack on each row's norm averaged over rounds, max over batches."""
        from models.metrics import roc_auc

        if self.norm_sum is None:
            return 0.5
        labels = np.asarray(self.labels).astype(np.int64)
        worst = 0.5
        for rows in even_batches(np.arange(len(labels)), self.batch_size):
            if _has_both(labels[rows]):
                worst = max(worst, leak(roc_auc(labels[rows], self.norm_sum[rows])))
        return worst

    def report(self) -> dict[str, Any]:
        averaged = self.averaged_norm_leak()
        per_batch = max(self.norm_leaks, default=0.5)
        return {
            "norm_attack_auc": max(per_batch, averaged),
            "norm_attack_auc_per_batch": per_batch,
            "norm_attack_auc_averaged_rounds": averaged,
            "direction_attack_auc": max(self.direction_leaks, default=0.5),
            "attack_batch_size": self.batch_size,
            "rounds": self.rounds,
            "per_round": [
                {"round": i, "norm": n, "direction": d}
                for i, (n, d) in enumerate(
                    zip(self.norm_leaks, self.direction_leaks, strict=True)
                )
            ],
        }
