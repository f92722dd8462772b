"""The two parties of logistic regression on vertically split data (HE + masking).

No third party; the structure of SecretFlow's HESS-LR (each party's weights are held by
that party but encrypted under the *other* party's key, so nobody sees them during
training), with CKKS instead of Paillier, a Fourier series instead of a polynomial
sigmoid, and every masked decryption done exactly on the plaintext polynomial
(protocol/crypto/ckks_exact.py): masks are uniform integers added to all N
coefficients, so they hide every slot's real and imaginary part and the CKKS error.

Notation for one batch of m rows (zero-padded to the N/2 slots of one ciphertext):
X_b, X_o the bank's and operator's features (clipped to +-clip <= MAX_CLIP; the bank's
last column is the intercept), y the labels, [[v]]_P a CKKS encryption under party P's
key (only P can decrypt). Ciphertexts hold values at scale 2^A (A = 70); plaintext
multipliers are encoded at 2^B (B = 19); products stay at 2^(A+B) without rescaling,
so a mask of K = 157 bits fits the whole modulus q ~ 2^158. The bank holds [[w_b]]_o,
the operator [[w_o]]_b, one ciphertext per weight with the weight in every slot. Masks
come from the OS CSPRNG. What is decrypted, under which mask and value bound V:

Forward   each party computes [[X_self w_self]]_peer and adds a K-bit coefficient mask
          U_self (V: the guaranteed bound on its partial logits' RMS, below); the
          peer decrypts. A party's share of the logit z is the peer's decrypted
          partial logits (+ U_peer) minus its own mask U_self, slot by slot, modulo a
          period: z_b + z_o = z (mod P) to ~2^-30 (double-double decoding).
          `logit_share(modulus)` gives it modulo any P' (`wrap_free_modulus` is one
          no logit can reach, so shares modulo it add up to z itself).
Sigmoid   the bank sends [[e^{i k W z_b}]]_b and their conjugates (k = 1..K, complex
          slots); the operator multiplies by complex plaintexts of its own share so
          that each slot holds sigmoid(z) in its real part and the zone indicator h(z)
          (models.fourier.zone_series) in its imaginary part, adds a K-bit mask U
          (V = bound of the series) and returns it with [[-floor(U / 2^B)]]_o and
          S_U = sum of U's slots' imaginary parts.
Backward  the bank decrypts the polynomial, subtracts y (labels never leave the bank,
          not even encrypted), rescales by 2^B in the clear (floor of each
          coefficient) and re-encrypts exactly: [[e + noise]]_b to the operator, who
          removes its floor(U / 2^B) exactly, and [[e]]_o for itself, with the
          operator's [[-floor(U / 2^B)]]_o added; e = sigmoid(z) - y. It also learns
          sum_i h(z_i) = its imaginary sum - S_U (range detection, below). Each party
          then sends [[x_j e]]_peer per own feature j with a K-bit mask (V: RMS of
          x_j times |e|). The peer decrypts only the constant coefficient c_0 = m_0 +
          U_0, exactly, adds 40-bit flooding (below), and gets the masked gradient
          sum (N/2) c_0 / 2^(A+B) as an exact rational; it runs the optimizer on the
          masked sums in exact rationals and returns [[-round(step 2^A)]] under its
          own key; the owner adds round(its mask part 2^A) exactly (mask parts: the
          optimizer run on its own masks' sums; by linearity the difference is the
          true step) and adds the result to its encrypted weights.
Loss      (evaluation chunks) the bank sends, under its key, the coefficients of the
          operator's harmonics in the per-row loss softplus(z) - y z = even(z) +
          (1 - 2y) odd(z) (they involve y), with the zone indicator's in the imaginary
          parts; the operator evaluates, masks (K bits) and returns U_0 and S_U; the
          bank learns the loss summed over the chunk and sum_i h(z_i), nothing per row.
Reveal    each party's encrypted weights are exactly (its own rounded mask parts) -
          (the peer's rounded masked steps) over 2^A: the peer sends the exact integer
          sum of the steps it sent up to the best epoch, and each learns its weights.

Value bounds, guaranteed by the protocol, not by the data: features are clipped and
refused beyond MAX_CLIP; |e| <= E_max = 0.5 + sum |a_k| (the series' bound); a step
moves a party's weights by at most rate E_max ||X_batch||_2 / (sqrt(m) (1 - momentum))
in L2 norm (plus the flooding), so the owner knows a bound W on ||w_self|| at every
step, and its partial logits' RMS over the N/2 slots is at most ||X||_2 W / sqrt(N/2).
Each masked ciphertext is within statistical distance sqrt(N) 2^(A+B) V / 2^K of its
mask alone (ckks_hiding); each party sums that over what it masked
(`hiding.bits()`), and a masking whose own bound falls below MIN_CIPHERTEXT_BITS is
refused (ProtocolStateError) rather than silently weaker.

Flooding: a masked gradient sum is linear in a raw decryption, whose error depends on
the decrypting party's secret key, and the steps derived from it come back (summed,
in the clear) at the reveal. So c_0 gets uniform noise of 2^FLOOD_BITS times a bound
E on that error (ckks_hiding.constant_error_bound, three fresh encryptions times
multipliers up to MAX_CLIP) before anything is computed from it: the steps and the
reveal sums are within 2^-40 of values that do not depend on the key. Nothing else
computed from a decryption leaves a party in the clear except the loss and zone sums
the bank keeps.

Range levels: the Fourier series is periodic, so a logit beyond the valid range R
would be evaluated wrongly (and beyond P/2 wrap around). Level l uses the series with
terms, range and period scaled by 2^l (R = 0.4 P). Every batch and evaluation chunk
gives the bank sum_i h(z_i), h(z) = sin(pi z / P)^(2 terms): ~0 for the bulk of rows
(h(0.25 P) = 2^-terms), >= 2 `threshold` for a row at |z| >= R; above `threshold` the
bank moves both parties to the next level (the next Forward carries it) and repeats an
evaluation chunk at the new level; at the last level it stops with an error. A logit
that jumps from inside R to beyond P - R in a single step would not be seen.

What each party learns is stated in protocol/hetero_lr/__init__.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any

import numpy as np

from models.fourier import (
    SineSeries,
    sigmoid_series,
    softplus_series,
    zone_series,
)
from protocol.crypto.ckks import CkksContext
from protocol.crypto.ckks_exact import (
    CoefficientMask,
    DecryptedPolynomial,
    ExactCkks,
    negated,
    slot_sum,
)
from protocol.crypto.ckks_hiding import (
    ciphertext_bound_bits,
    constant_error_bound,
    flood,
)
from protocol.hetero_lr.messages import LrSetup

# Standardised features are clipped to +-DEFAULT_CLIP unless a job sets another clip
# ([model] clip); the plaintext baselines get the same preprocessing. Features beyond
# +-MAX_CLIP are refused.
DEFAULT_CLIP = 8.0
MAX_CLIP = 32.0
# Scales and masks (module docstring).
SCALE_BITS = 70  # A: ciphertexts (weights, residuals, harmonics, steps)
WEIGHT_BITS = 19  # B: plaintext multipliers (features, harmonics of own share)
PRODUCT_BITS = SCALE_BITS + WEIGHT_BITS
# The sigmoid's multipliers (harmonics of the operator's share) at 2^26: each row's
# sigmoid then carries ~2^-17 of encoding error instead of ~2^-10 at 2^19.
SIGMOID_WEIGHT_BITS = 26
SIGMOID_BITS = SCALE_BITS + SIGMOID_WEIGHT_BITS
MASK_BITS = 157
FLOOD_BITS = 40
# Each masked ciphertext must hide its value to at least 2^-48 on its own.
MIN_CIPHERTEXT_BITS = 48.0
# Fixed point of the imaginary-part sums exchanged for range detection.
SUM_BITS = 40
# Optimizer state is kept in exact rationals rounded to multiples of 2^-STATE_BITS.
STATE_BITS = 128
MAX_TERMS = 32
MAX_LEVELS = 4
# L2 is applied as a multiplicative decay of the weights' scale; below this the
# plaintext multipliers would fall under CKKS's resolution.
MIN_WEIGHT_SCALE = 2.0**-8


class ProtocolStateError(RuntimeError):
    """A call out of order, or parameters the protocol cannot run with."""


@dataclass(frozen=True)
class RangeLevel:
    """The Fourier series of one range level (module docstring, "Range levels")."""

    level: int
    fit_range: float
    sigmoid: SineSeries
    odd: SineSeries
    even: SineSeries
    zone: SineSeries

    @property
    def period(self) -> float:
        return self.sigmoid.period

    @property
    def terms(self) -> int:
        return self.sigmoid.terms

    @property
    def threshold(self) -> float:
        """Half of h at the range's edge: one row at |z| >= R exceeds it."""
        return 0.5 * float(self.zone.evaluate(np.array([self.fit_range]))[0])

    @property
    def residual_bound(self) -> float:
        """max |sigmoid~(z) - y| for y in {0, 1}."""
        return 0.5 + float(np.abs(self.sigmoid.sin_coefficients).sum())

    @property
    def sigmoid_bound(self) -> float:
        """Bound on a sigmoid slot's magnitude (real part sigmoid~, imaginary h)."""
        return math.hypot(self.residual_bound, 1.0) + 1.0

    @property
    def loss_bound(self) -> float:
        coefficients = (
            abs(self.even.offset)
            + np.abs(self.even.cos_coefficients).sum()
            + np.abs(self.odd.sin_coefficients).sum()
        )
        return math.hypot(float(coefficients), 1.0) + 1.0


@dataclass(frozen=True)
class LrHyper:
    learning_rate: float = 0.5
    optimizer: str = "sgd"  # sgd | momentum | nesterov
    momentum: float = 0.9
    lr_decay: float = 0.0
    l2: float = 0.0
    terms: int = 8
    fit_range: float = 16.0
    period: float = 40.0

    def __post_init__(self) -> None:
        values = (self.learning_rate, self.momentum, self.lr_decay, self.l2,
                  self.fit_range, self.period)  # fmt: skip
        if not all(math.isfinite(v) for v in values):
            raise ValueError("hyperparameters must be finite")
        if self.optimizer not in ("sgd", "momentum", "nesterov"):
            raise ValueError("optimizer must be sgd, momentum or nesterov")
        if not 0 < self.learning_rate <= 10 or not 0 <= self.momentum < 1:
            raise ValueError("learning_rate must be in (0, 10], momentum in [0, 1)")
        if self.lr_decay < 0 or not 0 <= self.learning_rate * self.l2 < 1:
            raise ValueError("need lr_decay >= 0 and 0 <= learning_rate * l2 < 1")
        if not 1 <= self.terms <= MAX_TERMS or not 0 < self.fit_range < self.period / 2:
            raise ValueError(
                f"need 1 <= terms <= {MAX_TERMS} and 0 < fit_range < period / 2"
            )
        if self.period > 1000:
            raise ValueError("the Fourier period must be at most 1000")

    @classmethod
    def of_setup(cls, setup: LrSetup) -> LrHyper:
        """The hyperparameters the bank sent at Setup (ValueError if unusable)."""
        return cls(
            learning_rate=setup.learning_rate,
            optimizer=setup.optimizer,
            momentum=setup.momentum,
            lr_decay=setup.lr_decay,
            l2=setup.l2,
            terms=setup.sigmoid_terms,
            fit_range=setup.sigmoid_range,
            period=setup.sigmoid_period,
        )

    @property
    def max_level(self) -> int:
        """The last range level: terms 2^l stays within MAX_TERMS."""
        level = 0
        while level + 1 < MAX_LEVELS and self.terms << (level + 1) <= MAX_TERMS:
            level += 1
        return level

    @property
    def evaluation_modulus(self) -> float:
        """The modulus of the logit shares given to protocol.evaluation: the last
        range level's period. A job stops when a logit leaves the last level's range
        (0.4 of that period), so the logits of a finished job's evaluations lie within
        it and their shares modulo it sum to the logits themselves, at any level."""
        return self.level(self.max_level).period

    def level(self, level: int) -> RangeLevel:
        if not 0 <= level <= self.max_level:
            raise ValueError(f"range level must be 0..{self.max_level}")
        return _range_level(self.terms, self.fit_range, self.period, level)

    def series(self) -> SineSeries:
        return sigmoid_series(self.terms, self.fit_range, self.period)

    @cached_property
    def residual_bound(self) -> float:
        """|e| <= this at every level (+ margin for CKKS and rounding errors)."""
        worst = max(self.level(k).residual_bound for k in range(self.max_level + 1))
        return worst + 2.0**-10

    @property
    def direction_factor(self) -> float:
        """||direction|| <= factor * max ||gradient|| (momentum sums a geometric
        series; Nesterov's g + beta v has the same bound)."""
        return 1.0 if self.optimizer == "sgd" else 1.0 / (1.0 - self.momentum)

    def rate(self, epoch: int) -> float:
        return self.learning_rate / (1.0 + self.lr_decay * epoch)


def _range_level(terms: int, fit_range: float, period: float, level: int) -> RangeLevel:
    k, r, p = terms << level, fit_range * 2**level, period * 2**level
    odd, even = softplus_series(k, r, p)
    return RangeLevel(level, r, sigmoid_series(k, r, p), odd, even, zone_series(k, p))


# ---- value bounds (module docstring); pure functions the tests reuse ---------------
def spectral_norm(x: np.ndarray) -> float:
    """||X||_2 (largest singular value) of X (rows, d), from the d x d Gram matrix,
    rounded up by a relative 2^-20 for the floating-point error."""
    if not x.size:
        return 0.0
    gram = x.T @ x
    return math.sqrt(max(float(np.linalg.eigvalsh(gram)[-1]), 0.0)) * (1 + 2.0**-20)


def logit_value_bound(x: np.ndarray, weight_bound: float, slots: int) -> float:
    """RMS over the N/2 slots of X w for ||w|| <= weight_bound, X (rows, d), plus a
    margin for the CKKS errors in the slots."""
    return spectral_norm(x) * weight_bound / math.sqrt(slots) + 1.0


def gradient_value_bound(
    column: np.ndarray, residual_bound: float, slots: int
) -> float:
    """RMS over the N/2 slots of x_j e (real part |e| <= residual_bound, imaginary
    part h in [0, 1]), plus a margin."""
    rms = math.sqrt(float(np.square(column).sum()) / slots)
    return rms * math.hypot(residual_bound, 1.0) + 1.0


def step_norm_bound(
    batch_norm: float, m: int, d: int, rate: float, hyper: LrHyper
) -> float:
    """Bound on ||w_{t+1} - w_t|| for one step on a batch X of m rows and d columns
    with spectral norm `batch_norm`: the mean gradient X^T e / m has norm <=
    ||X||_2 E_max / sqrt(m); the flooding adds at most sqrt(d) 2^-4 / m; momentum
    multiplies by `direction_factor`; L2 decay only shrinks."""
    gradient = batch_norm * hyper.residual_bound / math.sqrt(m)
    return rate * hyper.direction_factor * (gradient + math.sqrt(d) * 2.0**-4 / m)


def wrap_free_modulus(
    period: float, dims: int, hyper: LrHyper, rate_sum: float, clip: float = MAX_CLIP
) -> float:
    """A multiple P 2^k of `period` that no logit can reach after steps whose rates
    sum to `rate_sum`: |z| <= sum over parties of ||x_i|| ||w|| with ||x_i|| <=
    clip sqrt(dims) and ||w|| <= rate_sum E_max clip sqrt(dims) / (1 - beta).
    Shares of z modulo it add up to z itself (e.g. for scoring)."""
    row = clip * math.sqrt(dims)
    reach = 2.0 * row * row * hyper.residual_bound * hyper.direction_factor * rate_sum
    modulus = period
    while modulus <= 2.0 * reach + period:
        modulus *= 2.0
    return modulus


class HidingLedger:
    """The statistical distance of everything a party masked for the peer: the sum
    over its masked ciphertexts of sqrt(N) 2^(A+B) V / 2^K (ckks_hiding)."""

    def __init__(self, degree: int) -> None:
        self.degree = degree
        self.distance: dict[str, float] = {}
        self.count: dict[str, int] = {}

    def record(
        self, kind: str, value_bound: float, scale_bits: int = PRODUCT_BITS
    ) -> None:
        bits = ciphertext_bound_bits(
            degree=self.degree,
            scale_bits=scale_bits,
            value_bound=value_bound,
            mask_bits=MASK_BITS,
        )
        if bits < MIN_CIPHERTEXT_BITS:
            raise ProtocolStateError(
                f"the guaranteed bound on the {kind} ({value_bound:.3g}) would leave"
                f" only {bits:.1f} bits of statistical hiding per ciphertext (minimum"
                f" {MIN_CIPHERTEXT_BITS:g}); lower the learning rate, the epochs or"
                " the clip"
            )
        self.distance[kind] = self.distance.get(kind, 0.0) + 2.0**-bits
        self.count[kind] = self.count.get(kind, 0) + 1

    def bits(self) -> float:
        """-log2 of the total distance (inf if nothing was masked)."""
        total = sum(self.distance.values())
        return math.inf if total == 0 else -math.log2(total)


def _rounded(value: Fraction) -> Fraction:
    return Fraction(round(value * (1 << STATE_BITS)), 1 << STATE_BITS)


class StepState:
    """The gradient-step side of one weight vector: momentum of a (masked) gradient sum
    and the L2 decay scale (w = scale * w~), in exact rationals. The decrypting party
    runs it on masked sums, the owner on its masks' sums; by linearity the difference
    is the true step (up to the 2^-128 rounding of the state)."""

    def __init__(self, dim: int, hyper: LrHyper, intercept: int | None) -> None:
        self.hyper = hyper
        self.intercept = intercept
        self.velocity = [Fraction(0)] * dim
        self.scale = [Fraction(1)] * dim
        self.steps = 0
        self.rate_sum = 0.0

    def step(
        self, gradient_sum: Sequence[Fraction], m: int, epoch: int
    ) -> list[Fraction]:
        h = self.hyper
        g = list(gradient_sum)
        if h.optimizer == "sgd":
            direction = g
        else:
            beta = Fraction(h.momentum)
            self.velocity = [
                _rounded(beta * v + x) for v, x in zip(self.velocity, g, strict=True)
            ]
            direction = (
                [x + beta * v for x, v in zip(g, self.velocity, strict=True)]
                if h.optimizer == "nesterov"
                else list(self.velocity)
            )
        rate = Fraction(h.rate(epoch))
        if h.l2:
            decay = 1 - rate * Fraction(h.l2)
            self.scale = [
                s if j == self.intercept else _rounded(s * decay)
                for j, s in enumerate(self.scale)
            ]
            if min(self.scale) < MIN_WEIGHT_SCALE:
                raise ProtocolStateError(
                    "L2 decay has shrunk the weights' scale below CKKS resolution;"
                    " lower l2, the learning rate or the number of steps"
                )
        self.steps += 1
        self.rate_sum += float(rate)
        return [d * rate / (m * s) for d, s in zip(direction, self.scale, strict=True)]

    def scales(self) -> np.ndarray:
        return np.array([float(s) for s in self.scale])


def evaluation_chunks(rows: int, slots: int) -> list[np.ndarray]:
    """The fixed partition of a split's positions into evaluation chunks; both parties
    compute it, and the operator evaluates each chunk at most once per epoch and range
    level."""
    if rows <= 0:
        return []
    return [c for c in np.array_split(np.arange(rows), math.ceil(rows / slots))]


def _checked_ints(values: Sequence[int], dim: int, what: str) -> list[int]:
    out = [int(v) for v in values]
    if len(out) != dim:
        raise ValueError(f"expected {dim} {what}, got {len(out)}")
    if any(abs(v) >= 1 << 512 for v in out):
        raise ValueError(f"{what} out of range")
    return out


class _Party:
    def __init__(
        self,
        features: np.ndarray,
        peer_dim: int,
        keys: CkksContext,
        peer: CkksContext,
        hyper: LrHyper,
        *,
        own_intercept: int | None = None,
        peer_intercept: int | None = None,
        clip: float = MAX_CLIP,
    ) -> None:
        if not 1.0 <= clip <= MAX_CLIP:
            raise ValueError(f"the clip must be in [1, {MAX_CLIP:g}]")
        if not keys.is_private:
            raise ValueError("a party needs its own private CKKS context")
        if peer.is_private:
            raise ValueError("the peer's context must not carry its secret key")
        if keys.preset != peer.preset:
            raise ValueError("both parties must use the same CKKS preset")
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or not np.isfinite(x).all() or np.abs(x).max(initial=0.0) > clip:
            raise ValueError(f"features must be standardised and clipped to +-{clip:g}")
        self.clip = clip
        self.features = np.ascontiguousarray(x)
        self.keys, self.peer, self.hyper = keys, peer, hyper
        self.exact = ExactCkks(keys)  # my key: decrypt, encrypt (symmetric)
        self.peer_exact = ExactCkks(peer)  # the peer's public key: compute, mask
        self.slots = self.exact.slots
        self.degree = self.exact.degree
        d = self.features.shape[1]
        self.peer_dim = peer_dim
        self.level = 0
        # My weights w = scale * w~, with w~ encrypted under the peer's key.
        self.weights = [
            self.peer_exact.encrypt([0.0], scale_bits=SCALE_BITS) for _ in range(d)
        ]
        self.own_step = StepState(d, hyper, own_intercept)  # my masks' parts
        self.peer_step = StepState(peer_dim, hyper, peer_intercept)  # peer's masked
        self.weight_bound = 0.0  # guaranteed bound on ||my weights||
        self.hiding = HidingLedger(self.degree)  # what I masked for the peer
        # round(2^A x) of every mask part I added to w~ and every masked step I sent
        # the peer: summed exactly at the reveal.
        self._mask_parts: list[list[int]] = []
        self._sent_steps: list[list[int]] = []
        self._best: tuple[int, int, list[Fraction]] = (0, 0, [Fraction(1)] * d)
        self.rows = np.zeros(0, dtype=np.int64)
        self._logit_mask: CoefficientMask | None = None
        self._decrypted: tuple[bytes, DecryptedPolynomial] | None = None
        self._t_constants: list[int] = []
        self._u: CoefficientMask | None = None  # the operator's sigmoid mask
        self._batch_norm = 0.0
        # E for flooding: fresh errors of up to 3 encryptions times multipliers of
        # magnitude <= clip at 2^B (the peer's features, clipped to the job's clip;
        # I cannot see them).
        self._flood_bound = constant_error_bound(
            degree=self.degree,
            weight_scale_bits=WEIGHT_BITS,
            weight_bound=clip,
            fresh_ciphertexts=3,
        )

    @property
    def series(self) -> RangeLevel:
        return self.hyper.level(self.level)

    def set_level(self, level: int) -> None:
        """Move to a range level (never back)."""
        if not self.level <= level <= self.hyper.max_level:
            raise ValueError(
                f"range level must be {self.level}..{self.hyper.max_level}"
            )
        self.level = level

    # ---- batches ---------------------------------------------------------------
    def _padded(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros(self.slots, dtype=np.asarray(values).dtype)
        out[: len(values)] = values
        return out

    def start(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        if not 0 < len(rows) <= self.slots:
            raise ValueError(f"a batch needs 1..{self.slots} rows, got {len(rows)}")
        if rows.min() < 0 or rows.max() >= len(self.features):
            raise ValueError("batch rows out of range")
        if len(np.unique(rows)) != len(rows):
            raise ValueError("batch rows must be distinct")
        self.rows = rows

    def _x(self) -> np.ndarray:
        """Batch features padded with zero rows to the slot count, shape (d, slots)."""
        x = np.zeros((self.features.shape[1], self.slots))
        x[:, : len(self.rows)] = self.features[self.rows].T
        return x

    def _live(self) -> np.ndarray:
        return self._padded(np.ones(len(self.rows)))

    def _load_own(self, blob: bytes, scale_bits: int) -> Any:
        """A ciphertext under my key from the peer (ValueError if malformed)."""
        return self.exact.load(blob, scale_bits=scale_bits)

    def _load_peer(self, blob: bytes, scale_bits: int) -> Any:
        """A ciphertext under the peer's key from the peer (ValueError if malformed)."""
        return self.peer_exact.load(blob, scale_bits=scale_bits)

    def _mask(
        self,
        ciphertext: Any,
        kind: str,
        value_bound: float,
        scale_bits: int = PRODUCT_BITS,
    ) -> tuple[bytes, CoefficientMask]:
        self.hiding.record(kind, value_bound, scale_bits)
        masked, mask = self.peer_exact.mask(
            ciphertext, bits=MASK_BITS, value_bound=value_bound
        )
        return self.peer_exact.dump(masked), mask

    def masked_logits(self) -> bytes:
        """[[X_self w_self + U]]_peer; w = scale * w~ is applied to the plaintext X."""
        batch = self.features[self.rows]
        x = self._x() * self.own_step.scales()[:, None]
        product = self.peer_exact.weighted_sum(
            self.weights, x, weight_scale_bits=WEIGHT_BITS
        )
        bound = logit_value_bound(batch, self.weight_bound, self.slots)
        blob, self._logit_mask = self._mask(product, "logits", bound)
        return blob

    def check_peer_logits(self, peer_logits: bytes) -> None:
        """ValueError (no state change) unless the peer's masked partial logits are a
        valid ciphertext under my key at 2^(A+B)."""
        self._load_own(peer_logits, PRODUCT_BITS)

    def _decrypt_logits(self, peer_logits: bytes) -> DecryptedPolynomial:
        if self._decrypted is None or self._decrypted[0] != peer_logits:
            polynomial = self.exact.decrypt_polynomial(
                self._load_own(peer_logits, PRODUCT_BITS)
            )
            self._decrypted = (peer_logits, polynomial)
        return self._decrypted[1]

    def logit_share(
        self, peer_logits: bytes, modulus: float | None = None
    ) -> np.ndarray:
        """My share of each slot's logit modulo `modulus` (default: the current
        range level's period), N/2 values in [0, modulus): the two parties' shares of
        the batch's rows add up to z modulo it. The decryption is cached per
        ciphertext. ValueError if the ciphertext is malformed."""
        if self._logit_mask is None:
            raise ProtocolStateError("no logits were masked for this batch")
        period = self.series.period if modulus is None else float(modulus)
        if not (math.isfinite(period) and period > 0):
            raise ValueError("the modulus must be positive")
        received = self._decrypt_logits(peer_logits).share_mod(period)
        return np.mod(received + self._logit_mask.share_mod(period), period)

    def wrap_free_modulus(self, rate_sum: float) -> float:
        """`wrap_free_modulus` for this job's dimensions (both parties agree on it
        given the same `rate_sum`, e.g. the rates of all steps so far)."""
        dims = self.features.shape[1] + self.peer_dim
        return wrap_free_modulus(
            self.series.period, dims, self.hyper, rate_sum, self.clip
        )

    def _harmonics(self, z: np.ndarray) -> np.ndarray:
        """e^{i k W z} for k = 1..K, shape (K, len(z))."""
        level = self.series
        k = np.arange(1, level.terms + 1)
        reduced = np.mod(z, level.period)
        return np.exp(1j * np.outer(k, reduced) * (2.0 * np.pi / level.period))

    def gradient_products(self, residual: Any) -> list[bytes]:
        """[[x_j e + U_j]]_peer for each own feature; keeps each U_j's constant."""
        batch = self.features[self.rows]
        bound_e = self.hyper.residual_bound
        out, constants = [], []
        for column in self._x():
            product = self.peer_exact.weighted_sum(
                [residual], column[None, :], weight_scale_bits=WEIGHT_BITS
            )
            bound = gradient_value_bound(column, bound_e, self.slots)
            blob, mask = self._mask(product, "gradients", bound)
            constants.append(mask.constant())
            out.append(blob)
        self._t_constants = constants
        self._batch_norm = spectral_norm(batch)
        return out

    def load_products(self, products: Sequence[bytes]) -> list[Any]:
        """The peer's masked gradient products, checked (ValueError, no state
        change): one per peer weight, valid ciphertexts under my key at 2^(A+B)."""
        if len(products) != self.peer_dim:
            raise ValueError(
                f"expected {self.peer_dim} gradient ciphertexts, got {len(products)}"
            )
        return [self._load_own(p, PRODUCT_BITS) for p in products]

    def load_steps(self, masked_steps: Sequence[bytes]) -> list[Any]:
        """The peer's masked steps for my weights, checked (ValueError, no state
        change); none when no step is pending."""
        if masked_steps and len(masked_steps) != len(self.weights):
            raise ValueError(
                f"expected {len(self.weights)} step ciphertexts, got"
                f" {len(masked_steps)}"
            )
        return [self._load_peer(b, SCALE_BITS) for b in masked_steps]

    def masked_peer_step(self, products: Sequence[Any], epoch: int) -> list[bytes]:
        """Decrypt the constant coefficients of the peer's masked gradient products
        (bytes, or as checked by `load_products`), flood them, and return its masked
        step, negated and replicated (an exact constant polynomial), encrypted under
        my key."""
        ciphertexts = (
            self.load_products(products)
            if any(isinstance(p, bytes) for p in products)
            else list(products)
        )
        if len(ciphertexts) != self.peer_dim:
            raise ValueError(f"expected {self.peer_dim} gradient ciphertexts")
        constants = [self.exact.decrypt_constant(c) for c in ciphertexts]
        flooded = flood(constants, error_bound=self._flood_bound, bits=FLOOD_BITS)
        sums = [
            slot_sum(c, degree=self.degree, scale_bits=PRODUCT_BITS) for c in flooded
        ]
        step = self.peer_step.step(sums, len(self.rows), epoch)
        units = [round(s * (1 << SCALE_BITS)) for s in step]
        self._sent_steps.append(units)
        return [
            self.exact.dump(self.exact.encrypt_constant(-u, scale_bits=SCALE_BITS))
            for u in units
        ]

    def apply_step(self, masked_steps: Sequence[Any], epoch: int) -> None:
        """w~ += -(masked step) + (my mask's part), under the peer's key; the steps
        as bytes or as checked by `load_steps`."""
        received = (
            self.load_steps(masked_steps)
            if any(isinstance(b, bytes) for b in masked_steps)
            else list(masked_steps)
        )
        if len(received) != len(self.weights):
            raise ValueError(f"expected {len(self.weights)} step ciphertexts")
        mask_sums = [
            slot_sum(u, degree=self.degree, scale_bits=PRODUCT_BITS)
            for u in self._t_constants
        ]
        m = len(self.rows)
        part = self.own_step.step(mask_sums, m, epoch)
        units = [round(p * (1 << SCALE_BITS)) for p in part]
        self._mask_parts.append(units)
        for j, ciphertext in enumerate(received):
            step = self.peer_exact.add_constant(ciphertext, units[j])
            self.weights[j] = self.peer_exact.add(self.weights[j], step)
        self.weight_bound += step_norm_bound(
            self._batch_norm, m, len(units), self.hyper.rate(epoch), self.hyper
        )

    # ---- early stopping and the reveal -------------------------------------------
    def keep_best(self) -> None:
        self._best = (
            len(self._mask_parts),
            len(self._sent_steps),
            list(self.own_step.scale),
        )

    @staticmethod
    def _sum(vectors: list[list[int]], dim: int) -> list[int]:
        return [sum(v[j] for v in vectors) for j in range(dim)]

    def reveal_sum(self) -> list[int]:
        """For the peer: the exact sum of round(2^A step) of the masked steps I sent
        it, up to the best epoch."""
        return self._sum(self._sent_steps[: self._best[1]], self.peer_dim)

    def own_weights(self, peer_sent_sum: Sequence[int]) -> np.ndarray:
        """My weights at the best epoch: w~ = (my masks - peer's masked steps) / 2^A,
        exactly what my ciphertexts hold up to encryption noise. ValueError (and no
        state change) if the peer's sum is malformed."""
        dim = len(self.weights)
        received = _checked_ints(peer_sent_sum, dim, "step sums")
        masks = self._sum(self._mask_parts[: self._best[0]], dim)
        scale = self._best[2]
        return np.array(
            [
                float(s * Fraction(a - b, 1 << SCALE_BITS))
                for s, a, b in zip(scale, masks, received, strict=True)
            ]
        )


class BankLrParty(_Party):
    """The label holder: drives batches, learns the loss and the range sums."""

    def __init__(self, *args: Any, labels: np.ndarray, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.labels = np.asarray(labels, dtype=np.float64)
        if len(self.labels) != len(self.features):
            raise ValueError("labels and features have different row counts")
        if not np.isin(self.labels, (0.0, 1.0)).all():
            raise ValueError("labels must be 0 or 1")
        self._loss_rows = 0
        self.zone = 0.0  # sum_i h(z_i) of the last batch or chunk

    def out_of_range(self) -> bool:
        """Did the last batch or chunk have a logit beyond the level's range?"""
        return self.zone > self.series.threshold

    def sigmoid_request(self, operator_logits: bytes) -> list[bytes]:
        """[[e^{i k W z_b}]]_b (K) then their conjugates (K), under my key."""
        waves = self._harmonics(self.logit_share(operator_logits))
        return [
            self.exact.dump(self.exact.encrypt(v, scale_bits=SCALE_BITS))
            for v in (*waves, *np.conj(waves))
        ]

    def backward_request(
        self, masked_sigmoid: bytes, negated_mask: bytes, zone_mask: int
    ) -> tuple[bytes, list[bytes]]:
        """e + U = (sigmoid + U) - y, rescaled in the clear; returns [[e + U']]_b for
        the operator and [[x_bj e + U_j]]_o. Sets `zone`."""
        masked = self._load_own(masked_sigmoid, SIGMOID_BITS)
        part = self._load_peer(negated_mask, SCALE_BITS)
        labels = self._padded(self.labels[self.rows])
        polynomial = self.exact.decrypt_polynomial(
            self.exact.add_values(masked, -labels)
        )
        zone = polynomial.imaginary_sum(SUM_BITS) - int(zone_mask)
        self.zone = zone / 2.0**SUM_BITS
        share = polynomial.shifted_residues(SIGMOID_WEIGHT_BITS)
        fresh = self.exact.dump(
            self.exact.encrypt_integers(share, scale_bits=SCALE_BITS)
        )
        residual = self.peer_exact.add(
            self.peer_exact.encrypt_integers(share, scale_bits=SCALE_BITS), part
        )
        return fresh, self.gradient_products(residual)

    def loss_terms(self, operator_logits: bytes) -> list[bytes]:
        """[[P_k + i c_k cos_k]]_b, [[Q_k - i c_k sin_k]]_b: the multipliers of the
        operator's cos and sin of k W z_o in the per-row loss softplus(z) - y z =
        even(z) + (1 - 2y) odd(z) (real parts) and in the zone indicator h(z)
        (imaginary parts)."""
        level = self.series
        z = self.logit_share(operator_logits)
        sin, cos = level.sigmoid.harmonics(z)
        live = self._live()
        sign = self._padded(1.0 - 2.0 * self.labels[self.rows])
        o = level.odd.sin_coefficients[:, None]
        e = level.even.cos_coefficients[:, None]
        c = level.zone.cos_coefficients[:, None]
        on_cos = ((e * cos + sign * o * sin) + 1j * c * cos) * live
        on_sin = ((-e * sin + sign * o * cos) - 1j * c * sin) * live
        self._loss_rows = len(self.rows)
        return [
            self.exact.dump(self.exact.encrypt(v, scale_bits=SCALE_BITS))
            for v in (*on_cos, *on_sin)
        ]

    def loss_value(
        self, masked_loss: bytes, mask_constant: int, zone_mask: int
    ) -> float:
        """Mean loss over the evaluated rows (only the sums over the chunk are ever
        decrypted exactly); sets `zone`."""
        if self._loss_rows == 0:
            raise ProtocolStateError("no loss terms were sent for this chunk")
        polynomial = self.exact.decrypt_polynomial(
            self._load_own(masked_loss, PRODUCT_BITS)
        )
        total = slot_sum(
            polynomial.constant() - int(mask_constant),
            degree=self.degree,
            scale_bits=PRODUCT_BITS,
        )
        self.zone = (
            polynomial.imaginary_sum(SUM_BITS) - int(zone_mask)
        ) / 2.0**SUM_BITS
        return float(total) / self._loss_rows


class OperatorLrParty(_Party):
    """The feature holder: answers the bank's calls."""

    def _waves_of(self, bank_logits: bytes) -> np.ndarray:
        return self._harmonics(self.logit_share(bank_logits)) * self._live()

    def sigmoid(
        self, bank_logits: bytes, bank_harmonics: list[bytes]
    ) -> tuple[bytes, bytes, int]:
        """[[sigmoid(z) + i h(z) + U]]_b, [[-floor(U / 2^B)]]_o and S_U."""
        level = self.series
        if len(bank_harmonics) != 2 * level.terms:
            raise ValueError(f"expected {2 * level.terms} harmonic ciphertexts")
        received = [self._load_peer(b, SCALE_BITS) for b in bank_harmonics]
        waves = self._waves_of(bank_logits)
        a = level.sigmoid.sin_coefficients[:, None]
        c = level.zone.cos_coefficients[:, None]
        # sum_k gamma_k e^{ik(a+b)} + delta_k e^{-ik(a+b)} = a_k sin + i c_k cos
        weights = np.vstack([0.5j * (c - a) * waves, 0.5j * (c + a) * np.conj(waves)])
        offset = (level.sigmoid.offset + 1j * level.zone.offset) * self._live()
        value = self.peer_exact.weighted_sum(
            received, weights, weight_scale_bits=SIGMOID_WEIGHT_BITS, offset=offset
        )
        blob, mask = self._mask(value, "sigmoid", level.sigmoid_bound, SIGMOID_BITS)
        floor_part = negated(
            mask.shifted_residues(SIGMOID_WEIGHT_BITS), self.exact.basis
        )
        own_part = self.exact.encrypt_integers(floor_part, scale_bits=SCALE_BITS)
        self._u = mask
        return blob, self.exact.dump(own_part), mask.imaginary_sum(SUM_BITS)

    def load_share(self, bank_share: bytes) -> Any:
        """The bank's [[e + floor(U/2^B)]]_b, checked (ValueError, no state change)."""
        return self._load_peer(bank_share, SCALE_BITS)

    def backward(self, bank_share: Any) -> list[bytes]:
        """[[x_oj e + U_j]]_b per operator feature, from [[e + floor(U/2^B)]]_b
        (bytes, or as checked by `load_share`)."""
        if self._u is None:
            raise ProtocolStateError("no sigmoid was evaluated for this batch")
        share = (
            self.load_share(bank_share) if isinstance(bank_share, bytes) else bank_share
        )
        floor_part = negated(
            self._u.shifted_residues(SIGMOID_WEIGHT_BITS), self.peer_exact.basis
        )
        residual = self.peer_exact.add_integers(share, floor_part)
        return self.gradient_products(residual)

    def loss(
        self, bank_logits: bytes, bank_terms: list[bytes]
    ) -> tuple[bytes, int, int]:
        """[[loss terms + i h + U]]_b summed per row, U_0 and S_U."""
        level = self.series
        if len(bank_terms) != 2 * level.terms:
            raise ValueError(f"expected {2 * level.terms} loss-term ciphertexts")
        received = [self._load_peer(b, SCALE_BITS) for b in bank_terms]
        sin, cos = level.sigmoid.harmonics(self.logit_share(bank_logits))
        live = self._live()
        offset = (level.even.offset + 1j * level.zone.offset) * live
        value = self.peer_exact.weighted_sum(
            received,
            np.vstack([cos * live, sin * live]),
            weight_scale_bits=WEIGHT_BITS,
            offset=offset,
        )
        blob, mask = self._mask(value, "loss", level.loss_bound)
        return blob, mask.constant(), mask.imaginary_sum(SUM_BITS)
