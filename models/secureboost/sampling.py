"""Row sampling (subsample, GOSS) and column sampling, drawn by the bank.

Both the federated bank and the reference trainer call these with one generator seeded
from the job's seed, in the same order (rows once per round, then columns once per
tree), so they draw the same samples.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from models.secureboost.params import BoostParams


def sample_rows(
    g: np.ndarray, params: BoostParams, rng: np.random.Generator
) -> tuple[npt.NDArray[np.int64], np.ndarray]:
    """(sorted row indices of this round, weight per sampled row).

    subsample < 1: a uniform sample without replacement of round(subsample * n) rows.
    GOSS: the goss_top_rate rows with the largest sum over outputs of |g|, plus a
    uniform goss_other_rate of all rows drawn from the others, whose g and h are
    multiplied by (1 - top) / other.
    """
    n = g.shape[0]
    if params.goss:
        n_top = max(1, int(round(params.goss_top_rate * n)))
        n_other = min(n - n_top, int(round(params.goss_other_rate * n)))
        magnitude = np.abs(g).sum(axis=1)
        order = np.argsort(-magnitude, kind="stable")
        top = order[:n_top]
        other = rng.choice(order[n_top:], size=n_other, replace=False)
        rows = np.concatenate([top, other])
        weights = np.concatenate(
            [np.ones(n_top), np.full(n_other, params.goss_amplification)]
        )
        order_rows = np.argsort(rows, kind="stable")
        return rows[order_rows].astype(np.int64), weights[order_rows]
    if params.subsample < 1.0:
        k = max(1, int(round(params.subsample * n)))
        rows = np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)
        return rows, np.ones(k)
    return np.arange(n, dtype=np.int64), np.ones(n)


def sample_columns(
    n_bank: int, n_operator: int, params: BoostParams, rng: np.random.Generator
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(bank features, operator features) of one tree: colsample_bytree of the union."""
    total = n_bank + n_operator
    if params.colsample_bytree >= 1.0 or total == 0:
        return tuple(range(n_bank)), tuple(range(n_operator))
    k = max(1, int(round(params.colsample_bytree * total)))
    chosen = np.sort(rng.choice(total, size=k, replace=False))
    bank = tuple(int(j) for j in chosen if j < n_bank)
    operator = tuple(int(j - n_bank) for j in chosen if j >= n_bank)
    return bank, operator
