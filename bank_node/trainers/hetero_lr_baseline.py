"""The bank-only baseline of a hetero_lr job: the same training, in plaintext, on the
bank's own inputs.

What the operator's data is worth is the joint model's AUC minus what the bank gets
without it, so the baseline repeats the protocol's training with nothing changed but
the operator's features removed: the same design matrix (standardised on the training
rows, clipped, intercept last; or WOE values), the protocol's Fourier sigmoid and
softplus loss with its range levels, the same optimizer state
(protocol.hetero_lr.party.StepState: momentum or Nesterov on gradient sums,
learning-rate decay, decoupled L2), the same batches
(hetero_lr_driver.draw_batches with the job's seed over the bank's own row keys, none
below the operator's minimum), the same evaluation chunks, epochs and early stopping on
the validation loss, and the weights of the best epoch. It runs locally, on the bank's
own data only, and costs milliseconds per epoch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from sklearn.metrics import roc_auc_score

from bank_node.trainers.hetero_lr_driver import LrHistory, LrSettings, draw_batches
from protocol.crypto.ckks import PRECISE
from protocol.domain import Split
from protocol.hetero_lr.party import RangeLevel, StepState, evaluation_chunks

# The driver's threshold for a validation-loss improvement (early stopping).
MIN_IMPROVEMENT = 1e-5


@dataclass(frozen=True)
class BaselineResult:
    weights: np.ndarray  # last = intercept, at the best epoch
    best_epoch: int
    history: LrHistory
    validation_auc: float


class PlainLr:
    """One party's logistic regression in plaintext, step for step as the protocol
    updates the bank's weights when the operator contributes nothing, moving to the
    next range level after a batch with a logit beyond the current level's range (as
    the driver does on the protocol's range sums)."""

    def __init__(self, x: np.ndarray, labels: np.ndarray, settings: LrSettings) -> None:
        self.x = np.asarray(x, dtype=np.float64)
        self.labels = np.asarray(labels, dtype=np.float64)
        self.hyper = settings.hyper
        self.level = 0
        self.state = StepState(
            self.x.shape[1], self.hyper, intercept=self.x.shape[1] - 1
        )
        self.scaled = np.zeros(self.x.shape[1])  # w~; w = scale * w~ (as encrypted)

    @property
    def series(self) -> RangeLevel:
        return self.hyper.level(self.level)

    @property
    def weights(self) -> np.ndarray:
        return self.state.scales() * self.scaled

    def step(self, rows: np.ndarray, epoch: int) -> None:
        x, level = self.x[rows], self.series
        z = x @ self.weights
        residual = level.sigmoid.evaluate(z) - self.labels[rows]
        gradient = [Fraction(float(g)) for g in x.T @ residual]
        step = self.state.step(gradient, len(rows), epoch)
        self.scaled = self.scaled - np.array([float(v) for v in step])
        self.widen(z)

    def widen(self, z: np.ndarray) -> bool:
        """Move to the next range level if a logit left the current range."""
        top = self.level == self.hyper.max_level
        if top or np.abs(z).max(initial=0.0) < self.series.fit_range:
            return False
        self.level += 1
        return True

    def loss(self, rows: np.ndarray) -> tuple[float, bool]:
        """Mean protocol loss (softplus series of the current level) over `rows`, and
        whether a logit left the range (the level is then raised)."""
        z = self.x[rows] @ self.weights
        sign = 1.0 - 2.0 * self.labels[rows]
        level = self.series
        loss = np.mean(level.even.evaluate(z) + sign * level.odd.evaluate(z))
        return float(loss), self.widen(z)


def train_bank_only(
    x: np.ndarray,
    labels: np.ndarray,
    positions: Mapping[Split, np.ndarray],
    settings: LrSettings,
    stable_key: np.ndarray,
) -> BaselineResult:
    """Train on the bank's design matrix `x` (all aligned rows, intercept last) as
    BankLrDriver.train does, and score the validation split at the best epoch."""
    train, validation = positions[Split.TRAIN], positions[Split.VALIDATION]
    model = PlainLr(x, labels, settings)
    slots = PRECISE.slots
    chunks = {
        Split.TRAIN: evaluation_chunks(min(slots, len(train)), slots),
        Split.VALIDATION: evaluation_chunks(len(validation), slots),
    }

    def loss(split: Split) -> float:
        """As the driver: restarted at the next level if a chunk left the range."""
        rows = positions[split]
        while True:
            total, count = 0.0, 0
            for chunk in chunks[split]:
                value, widened = model.loss(rows[chunk])
                total, count = total + value * len(chunk), count + len(chunk)
                if widened:
                    break
            else:
                return total / count

    rng = np.random.default_rng(settings.seed)
    train_key = np.asarray(stable_key)[train]
    history = LrHistory()
    best, best_epoch, stale = np.inf, 0, 0
    best_weights = model.weights.copy()
    for epoch in range(settings.epochs):
        for rows in draw_batches(
            train_key, settings.batch_size, settings.min_batch, rng
        ):
            model.step(train[rows], epoch)
        train_loss, val_loss = loss(Split.TRAIN), loss(Split.VALIDATION)
        history.epochs.append(epoch + 1)
        history.train_loss.append(train_loss)
        history.validation_loss.append(val_loss)
        history.seconds.append(0.0)
        if val_loss < best - MIN_IMPROVEMENT:
            best, best_epoch, stale = val_loss, epoch + 1, 0
            best_weights = model.weights.copy()
        else:
            stale += 1
            if settings.patience and stale >= settings.patience:
                break
    scores = np.asarray(x, dtype=np.float64)[validation] @ best_weights
    auc = float(roc_auc_score(labels[validation], scores))
    return BaselineResult(best_weights, best_epoch, history, auc)
