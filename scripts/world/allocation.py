"""Split a population into exact category counts, then place people by a permutation.

Used wherever a population must follow a distribution *and* stay collision-free: phone
prefixes and resident-ID birth cells. Counts come from the largest-remainder method, so
shares are exact up to one person per category, and a keyed permutation of the person
index decides who lands in which category.
"""

from __future__ import annotations

import numpy as np


def exact_counts(total: int, weights: np.ndarray) -> np.ndarray:
    """Return integer counts summing to `total`, proportional to `weights`."""
    weights = np.asarray(weights, dtype=np.float64)
    share = weights / weights.sum() * total
    counts = np.floor(share).astype(np.int64)
    short = total - int(counts.sum())
    if short:
        # Hand the leftover people to the largest fractional parts (ties: lowest index).
        order = np.argsort(-(share - counts), kind="stable")
        counts[order[:short]] += 1
    return counts


def place(ranks: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map ranks in [0, counts.sum()) to (category, rank within category)."""
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    category = np.searchsorted(np.cumsum(counts), ranks, side="right")
    return category, ranks - starts[category]
