"""Objectives as XGBoost defines them: margins, gradients, hessians, losses.

binary:logistic: p = sigmoid(margin), g = p - y, h = max(p (1 - p), 1e-16).
multi:softprob / multi:softmax: p = softmax(margins), g_k = p_k - [y = k],
h_k = max(2 p_k (1 - p_k), 1e-16) (XGBoost's factor 2). Validation losses are
XGBoost's default metrics, logloss and mlogloss.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from models.secureboost.params import BINARY, BoostParams

HESSIAN_FLOOR = 1e-16
PROBABILITY_CLIP = 1e-15


def check_labels(labels: npt.ArrayLike, params: BoostParams) -> npt.NDArray[np.int64]:
    """Integer class labels in [0, n_classes); clear error naming the first bad row."""
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {y.shape}")
    as_float = y.astype(np.float64)
    bad = ~np.isfinite(as_float) | (as_float != np.round(as_float))
    bad |= (as_float < 0) | (as_float >= params.n_classes)
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(
            f"label at row {row} is not a class in 0..{params.n_classes - 1}"
        )
    return as_float.astype(np.int64)


def base_margin(labels: npt.NDArray[np.int64], params: BoostParams) -> np.ndarray:
    """Initial margin per output: the log-odds of the label mean (binary), 0 (multi)."""
    if params.objective == BINARY:
        mean = float(np.clip(labels.mean(), 1e-6, 1 - 1e-6)) if labels.size else 0.5
        return np.array([np.log(mean / (1.0 - mean))])
    return np.zeros(params.n_classes)


def probabilities(margins: np.ndarray, params: BoostParams) -> np.ndarray:
    """(rows, outputs) margins to probabilities: P(y=1) for binary, rows x classes."""
    if params.objective == BINARY:
        return 1.0 / (1.0 + np.exp(-margins[:, 0]))
    shifted = margins - margins.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def gradients(
    margins: np.ndarray, labels: npt.NDArray[np.int64], params: BoostParams
) -> tuple[np.ndarray, np.ndarray]:
    """(g, h), each (rows, outputs) float64."""
    p = probabilities(margins, params)
    if params.objective == BINARY:
        g = (p - labels)[:, None]
        h = np.maximum(p * (1.0 - p), HESSIAN_FLOOR)[:, None]
        return g, h
    onehot = np.zeros_like(p)
    onehot[np.arange(labels.size), labels] = 1.0
    return p - onehot, np.maximum(2.0 * p * (1.0 - p), HESSIAN_FLOOR)


def loss(
    margins: np.ndarray, labels: npt.NDArray[np.int64], params: BoostParams
) -> float:
    """Mean logloss (binary) or mlogloss (multi-class)."""
    p = probabilities(margins, params)
    if params.objective == BINARY:
        q = np.clip(p, PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
        return float(-np.mean(labels * np.log(q) + (1 - labels) * np.log(1 - q)))
    q = np.clip(p[np.arange(labels.size), labels], PROBABILITY_CLIP, 1.0)
    return float(-np.mean(np.log(q)))
