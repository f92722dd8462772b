"""The two parties of logistic regression on vertically split data (HE + masking).

No third party; the structure of SecretFlow's HESS-LR (each party's weights are held by
that party but encrypted under the *other* party's key, so nobody sees them during
training), with CKKS instead of Paillier and a Fourier series instead of a polynomial
sigmoid.

Notation for one batch of m rows (padded with zero rows to the N/2 slots of one
ciphertext): X_b, X_o the bank's and operator's features (the bank's last column is the
intercept), y the labels, [[v]]_P a CKKS encryption under party P's key (only P can
decrypt). The bank holds [[w_b]]_o, the operator [[w_o]]_b, one ciphertext per weight
with the weight in every slot. Masks come from the OS CSPRNG.

Forward   each party computes [[X_self w_self + r_self]]_peer and sends it; the peer
          decrypts. Shares of the logit: z_b = (X_o w_o + r_o) - r_b at the bank and
          z_o = (X_b w_b + r_b) - r_o at the operator, z = z_b + z_o.
Sigmoid   the bank sends [[sin(k W z_b)]]_b, [[cos(k W z_b)]]_b (k = 1..K); the
          operator evaluates sum_k a_k sin(k W (z_b + z_o)) by the angle-addition
          identity with its own share in the clear and returns [[sigmoid(z) + u]]_b
          with a fresh mask u it keeps, plus [[-u]]_o.
Backward  the bank decrypts, subtracts y (labels never leave the bank, not even
          encrypted) and has e + u, e = sigmoid(z) - y; it sends e + u back freshly
          encrypted, so the operator gets [[e]]_b = [[e + u]]_b - u, and itself forms
          [[e]]_o = [[e + u]]_o + [[-u]]_o. Each then returns [[x_j e + t_j]]_peer per
          own feature j (masks t_j); the peer decrypts, sums the slots, applies the
          learning rate and optimizer state (all linear) to the masked sum, and returns
          the masked step encrypted under its own key; the owner removes its mask's part
          and adds the step to its encrypted weights. The bank's step for the operator
          travels with its next call.
Loss      (evaluation only) the bank sends, under its key, the coefficients of the
          operator's harmonics in the per-row logistic loss (they involve y); the
          operator evaluates, masks and returns the ciphertext with the sum of its mask
          in clear; the bank decrypts and learns the loss summed over the rows only.
Reveal    no decryption: each party's encrypted weights are the sum of the peer's masked
          steps (the peer knows that sum in clear) and of its own mask parts (it knows
          those), so the peer sends its sum and each party learns exactly its own
          weights.

Masks: r hides a logit share perfectly modulo the Fourier period and its magnitude
statistically (2^-MASK_BITS); u and t hide values of magnitude <= VALUE_BOUND to within
2^-MASK_BITS. Every ciphertext a peer decrypts also gets a uniform imaginary mask:
CKKS slots are complex and a product's imaginary part would otherwise carry
x * (input error), which the decrypting party knows (protocol/crypto/ckks_seal.py).
Ciphertexts are only ever multiplied while they hold small values.

What each party learns is stated in protocol/hetero_lr/__init__.py.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.fourier import SineSeries, sigmoid_series, softplus_series
from protocol.crypto.ckks import CkksContext, CkksVector, masked_bytes, secure_uniform
from protocol.hetero_lr.messages import LrSetup

# Standardised features are clipped to +-DEFAULT_CLIP unless a job sets another clip
# ([model] clip); the plaintext baselines get the same preprocessing.
DEFAULT_CLIP = 8.0
# Every masked value is bounded by VALUE_BOUND (features are standardised and clipped
# to at most +-MAX_CLIP, residuals lie in [-1.01, 1.01], logits are small) and hidden
# up to 2^-MASK_BITS; masks stay far below the 2^59 ceiling of a rescaled ciphertext.
MASK_BITS = 30
MAX_CLIP = 32.0
VALUE_BOUND = 2 * MAX_CLIP
IMAGINARY_BOUND = VALUE_BOUND * 2.0**MASK_BITS
# L2 is applied as a multiplicative decay of the weights' scale; below this the
# plaintext multipliers would fall under CKKS's resolution.
MIN_WEIGHT_SCALE = 2.0**-8


class ProtocolStateError(RuntimeError):
    """A call out of order, or parameters the protocol cannot run with."""


@dataclass(frozen=True)
class LrHyper:
    learning_rate: float = 0.5
    optimizer: str = "sgd"  # sgd | momentum | nesterov
    momentum: float = 0.9
    lr_decay: float = 0.0
    l2: float = 0.0
    terms: int = 8
    fit_range: float = 8.0
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
        if not 1 <= self.terms <= 32 or not 0 < self.fit_range < self.period / 2:
            raise ValueError("need 1 <= terms <= 32 and 0 < fit_range < period / 2")
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

    def series(self) -> SineSeries:
        return sigmoid_series(self.terms, self.fit_range, self.period)

    def rate(self, epoch: int) -> float:
        return self.learning_rate / (1.0 + self.lr_decay * epoch)


def additive_mask(size: int) -> np.ndarray:
    return secure_uniform(VALUE_BOUND * 2.0**MASK_BITS, size)


def periodic_mask(size: int, period: float) -> np.ndarray:
    """Uniform modulo `period` plus a uniformly random multiple of it."""
    span = int(VALUE_BOUND * 2.0**MASK_BITS / period)
    words = np.frombuffer(os.urandom(8 * size), dtype=np.uint64)
    turns = (words % np.uint64(2 * span)).astype(np.float64) - span
    return secure_uniform(period / 2, size) + period / 2 + turns * period


def evaluation_chunks(rows: int, slots: int) -> list[np.ndarray]:
    """The fixed partition of a split's positions into evaluation chunks; both parties
    compute it, and the operator evaluates each chunk at most once per epoch."""
    if rows <= 0:
        return []
    return [c for c in np.array_split(np.arange(rows), math.ceil(rows / slots))]


def weighted_sum(
    vectors: list[CkksVector], weights: np.ndarray, offset: np.ndarray
) -> CkksVector:
    """sum_k weights[k] * vectors[k] + offset, one multiplicative level."""
    total = vectors[0].mul_plain(weights[0])
    for vec, w in zip(vectors[1:], weights[1:], strict=True):
        total = total.add(vec.mul_plain(w))
    return total.add_plain(offset)


class StepState:
    """The gradient-step side of one weight vector: momentum of a (masked) gradient sum
    and the L2 decay scale (w = scale * w~). The decrypting party runs it on masked
    sums, the owner on its masks' sums; by linearity the difference is the true step."""

    def __init__(self, dim: int, hyper: LrHyper, intercept: int | None) -> None:
        self.hyper = hyper
        self.intercept = intercept
        self.velocity = np.zeros(dim)
        self.scale = np.ones(dim)

    def step(self, gradient_sum: np.ndarray, m: int, epoch: int) -> np.ndarray:
        h = self.hyper
        if h.optimizer == "sgd":
            direction = gradient_sum
        else:
            self.velocity = h.momentum * self.velocity + gradient_sum
            direction = (
                gradient_sum + h.momentum * self.velocity
                if h.optimizer == "nesterov"
                else self.velocity
            )
        rate = h.rate(epoch)
        if h.l2:
            decay = np.full(len(self.scale), 1.0 - rate * h.l2)
            if self.intercept is not None:
                decay[self.intercept] = 1.0
            self.scale = self.scale * decay
            if self.scale.min() < MIN_WEIGHT_SCALE:
                raise ProtocolStateError(
                    "L2 decay has shrunk the weights' scale below CKKS resolution;"
                    " lower l2, the learning rate or the number of steps"
                )
        return direction * rate / (m * self.scale)


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
    ) -> None:
        if not keys.is_private:
            raise ValueError("a party needs its own private CKKS context")
        if peer.is_private:
            raise ValueError("the peer's context must not carry its secret key")
        if keys.preset != peer.preset:
            raise ValueError("both parties must use the same CKKS preset")
        x = np.asarray(features, dtype=np.float64)
        if not np.isfinite(x).all() or np.abs(x).max(initial=0.0) > MAX_CLIP:
            raise ValueError(
                f"features must be standardised and clipped to +-{MAX_CLIP}"
            )
        self.features = np.ascontiguousarray(x)
        self.keys, self.peer, self.hyper = keys, peer, hyper
        self.slots = keys.preset.slots
        self.series = hyper.series()
        d = self.features.shape[1]
        # My weights w = scale * w~, with w~ encrypted under the peer's key.
        self.weights = [peer.encrypt(np.zeros(self.slots)) for _ in range(d)]
        self.own_step = StepState(d, hyper, own_intercept)  # my masks' parts
        self.peer_step = StepState(peer_dim, hyper, peer_intercept)  # peer's masked
        self.peer_dim = peer_dim
        # Every mask part I added to w~ and every masked step I sent the peer: summed
        # exactly (math.fsum) at the reveal, because the two sums are large and cancel.
        self._mask_parts: list[np.ndarray] = []
        self._sent_steps: list[np.ndarray] = []
        self._best = (0, 0, np.ones(d))
        self.rows = np.zeros(0, dtype=np.int64)
        self._r = np.zeros(0)
        self._share = np.zeros(0)
        self._t_sums = np.zeros(0)

    # ---- batches ---------------------------------------------------------------
    def _padded(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros(self.slots)
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

    def masked_logits(self) -> bytes:
        """[[X_self w_self + r]]_peer; w = scale * w~ is applied to the plaintext X."""
        x = self._x() * self.own_step.scale[:, None]
        self._r = periodic_mask(self.slots, self.hyper.period)
        product = weighted_sum(self.weights, x, np.zeros(self.slots))
        return masked_bytes(product, self._r, imaginary_bound=IMAGINARY_BOUND)

    def logit_share(self, peer_logits: bytes) -> np.ndarray:
        received = self.keys.decrypt(self.keys.vector_from_bytes(peer_logits))
        self._share = np.mod(received - self._r, self.hyper.period)
        return self._share

    def chunk_share(self) -> np.ndarray:
        """My share, modulo the period, of the current batch's logits (its rows only;
        set by the last logit_share), for protocol.evaluation."""
        return self._share[: len(self.rows)].copy()

    def gradient_products(self, residual: CkksVector) -> list[bytes]:
        """[[x_j e + t_j]]_peer for each own feature; keeps sum(t_j)."""
        out, sums = [], []
        for column in self._x():
            mask = additive_mask(self.slots)
            sums.append(mask.sum())
            out.append(
                masked_bytes(
                    residual.mul_plain(column), mask, imaginary_bound=IMAGINARY_BOUND
                )
            )
        self._t_sums = np.array(sums)
        return out

    def masked_peer_step(self, products: list[bytes], epoch: int) -> list[bytes]:
        """Decrypt the peer's masked gradient products; return its masked step,
        negated and replicated, encrypted under my key."""
        if len(products) != self.peer_dim:
            raise ValueError(
                f"expected {self.peer_dim} gradient ciphertexts, got {len(products)}"
            )
        sums = np.array(
            [self.keys.decrypt(self.keys.vector_from_bytes(p)).sum() for p in products]
        )
        step = self.peer_step.step(sums, len(self.rows), epoch)
        self._sent_steps.append(step)
        return [self.keys.encrypt(np.full(self.slots, -s)).to_bytes() for s in step]

    def apply_step(self, masked_steps: list[bytes], epoch: int) -> None:
        """w~ += -(masked step) + (my mask's part), under the peer's key."""
        if len(masked_steps) != len(self.weights):
            raise ValueError(f"expected {len(self.weights)} step ciphertexts")
        part = self.own_step.step(self._t_sums, len(self.rows), epoch)
        self._mask_parts.append(part)
        for j, blob in enumerate(masked_steps):
            negated = self.peer.vector_from_bytes(blob)
            self.weights[j] = self.weights[j].add(
                negated.add_plain(np.full(self.slots, part[j]))
            )

    # ---- early stopping and the reveal -------------------------------------------
    def keep_best(self) -> None:
        self._best = (
            len(self._mask_parts),
            len(self._sent_steps),
            self.own_step.scale.copy(),
        )

    @staticmethod
    def _exact_sum(vectors: list[np.ndarray], dim: int) -> np.ndarray:
        if not vectors:
            return np.zeros(dim)
        stacked = np.vstack(vectors)
        return np.array([math.fsum(stacked[:, j]) for j in range(dim)])

    def reveal_sum(self) -> np.ndarray:
        """For the peer: the sum of the masked steps I sent it, up to the best epoch."""
        return self._exact_sum(self._sent_steps[: self._best[1]], self.peer_dim)

    def own_weights(self, peer_sent_sum: np.ndarray) -> np.ndarray:
        """My weights at the best epoch: w~ = (my masks) - (peer's masked steps)."""
        received = np.asarray(peer_sent_sum, dtype=np.float64)
        dim = len(self.weights)
        if received.shape != (dim,) or not np.isfinite(received).all():
            raise ValueError(f"expected {dim} finite step sums")
        masks = self._exact_sum(self._mask_parts[: self._best[0]], dim)
        return self._best[2] * (masks - received)


class BankLrParty(_Party):
    """The label holder: drives batches, learns the loss."""

    def __init__(self, *args: Any, labels: np.ndarray, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.labels = np.asarray(labels, dtype=np.float64)
        if len(self.labels) != len(self.features):
            raise ValueError("labels and features have different row counts")
        self._loss_rows = 0

    def sigmoid_request(self, operator_logits: bytes) -> list[bytes]:
        """[[sin(k W z_b)]]_b (K) then [[cos(k W z_b)]]_b (K)."""
        z = self.logit_share(operator_logits)
        sin, cos = self.series.harmonics(z)
        return [self.keys.encrypt(v).to_bytes() for v in (*sin, *cos)]

    def backward_request(
        self, masked_sigmoid: bytes, negated_mask: bytes
    ) -> tuple[bytes, list[bytes]]:
        """e + u = (sigmoid + u) - y; returns [[e + u]]_b and [[x_bj e + t_j]]_o."""
        decrypted = self.keys.decrypt(self.keys.vector_from_bytes(masked_sigmoid))
        share = decrypted - self._padded(self.labels[self.rows])
        fresh = self.keys.encrypt(share).to_bytes()
        residual = self.peer.encrypt(share).add(
            self.peer.vector_from_bytes(negated_mask)
        )
        return fresh, self.gradient_products(residual)

    def loss_terms(self, operator_logits: bytes) -> list[bytes]:
        """[[P_k]]_b, [[Q_k]]_b: the multipliers of the operator's cos and sin of
        k W z_o in the per-row loss softplus(z) - y z = even(z) + (1 - 2y) odd(z)."""
        z = self.logit_share(operator_logits)
        sin, cos = self.series.harmonics(z)
        odd, even = softplus_series(
            self.hyper.terms, self.hyper.fit_range, self.hyper.period
        )
        live = self._live()
        sign = self._padded(1.0 - 2.0 * self.labels[self.rows])
        o = odd.sin_coefficients[:, None]
        e = even.cos_coefficients[:, None]
        on_cos = (e * cos + sign * o * sin) * live
        on_sin = (-e * sin + sign * o * cos) * live
        self._loss_rows = len(self.rows)
        return [self.keys.encrypt(v).to_bytes() for v in (*on_cos, *on_sin)]

    def loss_value(self, masked_loss: bytes, mask_sum: float) -> float:
        """Mean loss over the evaluated rows (only the sum is ever decrypted)."""
        values = self.keys.decrypt(self.keys.vector_from_bytes(masked_loss))
        return float(values.sum() - mask_sum) / self._loss_rows


class OperatorLrParty(_Party):
    """The feature holder: answers the bank's calls."""

    def _harmonics_of(self, bank_logits: bytes) -> tuple[np.ndarray, np.ndarray]:
        z = self.logit_share(bank_logits)
        live = self._live()
        sin, cos = self.series.harmonics(z)
        return sin * live, cos * live

    def sigmoid(
        self, bank_logits: bytes, bank_harmonics: list[bytes]
    ) -> tuple[bytes, bytes]:
        """[[sigmoid(z) + u]]_b and [[-u]]_o."""
        terms = self.series.terms
        if len(bank_harmonics) != 2 * terms:
            raise ValueError(f"expected {2 * terms} harmonic ciphertexts")
        sin, cos = self._harmonics_of(bank_logits)
        a = self.series.sin_coefficients[:, None]
        peer = [self.peer.vector_from_bytes(b) for b in bank_harmonics]
        self._u = additive_mask(self.slots)
        value = weighted_sum(
            peer, np.vstack([a * cos, a * sin]), self.series.offset * self._live()
        )
        masked = masked_bytes(value, self._u, imaginary_bound=IMAGINARY_BOUND)
        return masked, self.keys.encrypt(-self._u).to_bytes()

    def backward(self, bank_share: bytes) -> list[bytes]:
        """[[x_oj e + s_j]]_b per operator feature, from the fresh [[e + u]]_b."""
        residual = self.peer.vector_from_bytes(bank_share).add_plain(-self._u)
        return self.gradient_products(residual)

    def loss(self, bank_logits: bytes, bank_terms: list[bytes]) -> tuple[bytes, float]:
        """[[sum of the per-row loss terms + t]]_b and sum(t) in clear."""
        terms = self.series.terms
        if len(bank_terms) != 2 * terms:
            raise ValueError(f"expected {2 * terms} loss-term ciphertexts")
        sin, cos = self._harmonics_of(bank_logits)
        _, even = softplus_series(terms, self.hyper.fit_range, self.hyper.period)
        peer = [self.peer.vector_from_bytes(b) for b in bank_terms]
        value = weighted_sum(peer, np.vstack([cos, sin]), even.offset * self._live())
        mask = additive_mask(self.slots)
        return masked_bytes(value, mask, imaginary_bound=IMAGINARY_BOUND), float(
            mask.sum()
        )
