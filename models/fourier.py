"""Fourier-series approximations of the sigmoid and the logistic loss.

Two-party logistic regression needs sigmoid(z) where z = z_bank + z_operator is split
between the parties. A sum of sines is the one family that evaluates on such a split
with a single homomorphic round, because
    sin(k w (a + b)) = sin(k w a) cos(k w b) + cos(k w a) sin(k w b),
and it is periodic, so each party may reduce its share modulo the period P: masks drawn
uniformly modulo P then hide a share perfectly (Boura et al., "High-precision
privacy-preserving real-valued function evaluation", FC 2018).

Unlike a Taylor or minimax polynomial (FATE's SSHE-LR and SecretFlow's HESS-LR use
0.5 + z/4 and 0.5 + z/8), the series stays bounded for large |z|: we fit
sigmoid(z) - 1/2 on [-R, R] and, between R and P/2, a target that keeps the correct
sign and tapers to 0 at the period's edge. Logits beyond R are outside the valid
range: the protocol detects them with `zone_series` and moves to a wider period
(protocol.hetero_lr.party, "Range levels"); a logit beyond P/2 would wrap around.

`SigmoidSeries.evaluate` is the plaintext reference; the protocol evaluates the same
coefficients on ciphertexts (protocol.hetero_lr).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# Defaults: 8 harmonics with R = 0.4 P = 16, P = 40 give max |error| 0.0083 on
# [-16, 16] and reach scikit-learn's AUC on default_credit (scripts/bench_lr.py); the
# wider range levels scale all three by 2^l (same accuracy, 0.0107 at l = 2).
DEFAULT_TERMS = 8
DEFAULT_RANGE = 16.0
DEFAULT_PERIOD = 40.0


@dataclass(frozen=True)
class SineSeries:
    """f(z) = offset + sum_k sin_k sin(k w z) + cos_k cos(k w z), w = 2 pi / period."""

    period: float
    offset: float
    sin_coefficients: np.ndarray
    cos_coefficients: np.ndarray

    @property
    def omega(self) -> float:
        return 2.0 * np.pi / self.period

    @property
    def terms(self) -> int:
        return len(self.sin_coefficients)

    def harmonics(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(sin(k w z), cos(k w z)) for k = 1..K, each of shape (K, len(z)).

        `z` is reduced modulo the period first, so huge masked shares keep full float
        precision in the trigonometric functions.
        """
        reduced = np.mod(np.asarray(z, dtype=np.float64), self.period)
        angles = np.outer(np.arange(1, self.terms + 1), reduced) * self.omega
        return np.sin(angles), np.cos(angles)

    def evaluate(self, z: np.ndarray) -> np.ndarray:
        s, c = self.harmonics(z)
        return self.offset + self.sin_coefficients @ s + self.cos_coefficients @ c

    def evaluate_split(self, z_a: np.ndarray, z_b: np.ndarray) -> np.ndarray:
        """f(z_a + z_b) from the two shares via the angle-addition identity (this is
        exactly what the protocol computes, one side in the clear, one encrypted)."""
        sa, ca = self.harmonics(z_a)
        sb, cb = self.harmonics(z_b)
        sin_sum = sa * cb + ca * sb  # sin(k w (a + b))
        cos_sum = ca * cb - sa * sb  # cos(k w (a + b))
        return (
            self.offset
            + self.sin_coefficients @ sin_sum
            + self.cos_coefficients @ cos_sum
        )


def _fit(
    target: np.ndarray,
    grid: np.ndarray,
    period: float,
    terms: int,
    weights: np.ndarray,
    odd: bool,
) -> tuple[np.ndarray, np.ndarray, float]:
    omega = 2.0 * np.pi / period
    k = np.arange(1, terms + 1)
    sines = np.sin(np.outer(grid, k) * omega)
    if odd:
        design = sines
    else:
        design = np.hstack([np.ones((len(grid), 1)), np.cos(np.outer(grid, k) * omega)])
    coef, *_ = np.linalg.lstsq(design * weights[:, None], target * weights, rcond=None)
    if odd:
        return coef, np.zeros(terms), 0.0
    return np.zeros(terms), coef[1:], float(coef[0])


def _taper(grid: np.ndarray, fit_range: float, period: float) -> np.ndarray:
    """1 inside [-R, R], falling smoothly to 0 at +-P/2 (keeps the series smooth)."""
    ramp = np.clip((period / 2 - np.abs(grid)) / (period / 2 - fit_range), 0.0, 1.0)
    return np.where(np.abs(grid) <= fit_range, 1.0, np.sin(ramp * np.pi / 2))


@lru_cache(maxsize=16)
def sigmoid_series(
    terms: int = DEFAULT_TERMS,
    fit_range: float = DEFAULT_RANGE,
    period: float = DEFAULT_PERIOD,
) -> SineSeries:
    """Odd sine series approximating sigmoid(z) on [-R, R], saturating sign beyond."""
    if not 0 < fit_range < period / 2:
        raise ValueError("need 0 < fit_range < period / 2")
    grid = np.linspace(-period / 2, period / 2, 8001)
    inside = 1.0 / (1.0 + np.exp(-np.clip(grid, -fit_range, fit_range))) - 0.5
    target = inside * _taper(grid, fit_range, period)
    weights = np.where(np.abs(grid) <= fit_range, 10.0, 1.0)
    sin_c, cos_c, _ = _fit(target, grid, period, terms, weights, odd=True)
    return SineSeries(period, 0.5, sin_c, cos_c)


@lru_cache(maxsize=16)
def softplus_series(
    terms: int = DEFAULT_TERMS,
    fit_range: float = DEFAULT_RANGE,
    period: float = DEFAULT_PERIOD,
) -> tuple[SineSeries, SineSeries]:
    """(odd part, even part) of softplus(z) = log(1 + e^z) = z/2 + log(2 cosh(z/2)).

    The logistic loss of a row is softplus(z) - y z = softplus(-z) if y = 1 else
    softplus(z); with the parts split, loss = even(z) + (1/2 - y) * 2 * odd(z), a form
    the label holder can evaluate per row with plaintext coefficients.
    """
    grid = np.linspace(-period / 2, period / 2, 8001)
    weights = np.where(np.abs(grid) <= fit_range, 10.0, 1.0)
    odd_target, even_target = _softplus_targets(grid, fit_range, period)
    odd_s, _, _ = _fit(odd_target, grid, period, terms, weights, odd=True)
    _, even_c, even_0 = _fit(even_target, grid, period, terms, weights, odd=False)
    zeros = np.zeros(terms)
    return (
        SineSeries(period, 0.0, odd_s, zeros),
        SineSeries(period, even_0, zeros, even_c),
    )


def _softplus_targets(
    grid: np.ndarray, fit_range: float, period: float
) -> tuple[np.ndarray, np.ndarray]:
    """z/2 and log(2 cosh(z/2)) on [-R, R], continued to P/2 with continuous slopes
    (a kink at R would cost accuracy inside the range): the odd part by a cubic
    Hermite arc to 0 at P/2, the even part by a quarter sine that flattens there."""
    a = np.abs(grid)
    span = period / 2 - fit_range
    t = np.clip((a - fit_range) / span, 0.0, 1.0)
    h00, h10, h11 = 2 * t**3 - 3 * t**2 + 1, t**3 - 2 * t**2 + t, t**3 - t**2
    arc = (fit_range / 2) * h00 + 0.5 * span * h10 - 0.75 * fit_range * h11
    odd = np.where(a <= fit_range, a / 2, arc) * np.sign(grid)
    cap = np.log(2 * np.cosh(fit_range / 2)) + span / np.pi * np.sin(np.pi / 2 * t)
    even = np.where(a <= fit_range, np.log(2 * np.cosh(a / 2)), cap)
    return odd, even


@lru_cache(maxsize=16)
def zone_series(terms: int, period: float) -> SineSeries:
    """h(z) = sin(pi z / P)^(2 terms), exactly, as a cosine series of `terms`
    harmonics: 0 at z = 0, 1 at z = P/2, and exponentially small near 0 (h(0.25 P)
    = 2^-terms), so a sum over thousands of rows near 0 stays ~0 while one row near
    the wrap point counts ~1. The protocol sums it over a batch to detect logits
    that left the sigmoid's range."""
    k = np.arange(1, terms + 1)
    binomial = np.array([math.comb(2 * terms, terms - j) for j in k], dtype=float)
    cos_c = 2.0 * (-1.0) ** k * binomial / 4.0**terms
    offset = math.comb(2 * terms, terms) / 4.0**terms
    return SineSeries(period, offset, np.zeros(terms), cos_c)


def max_sigmoid_error(series: SineSeries, fit_range: float) -> float:
    grid = np.linspace(-fit_range, fit_range, 4001)
    return float(np.abs(series.evaluate(grid) - 1.0 / (1.0 + np.exp(-grid))).max())
