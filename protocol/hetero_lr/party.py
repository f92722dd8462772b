"""The two parties of logistic regression on vertically split data (HE + masking).

No third party; structure of SecretFlow's HESS-LR (each party's weights are held by that
party but encrypted under the *other* party's key, so nobody sees them during training),
with CKKS instead of Paillier and a Fourier series instead of a polynomial sigmoid.

Notation for one batch of m rows (padded with zero rows to the N/2 slots of one
ciphertext): X_b, X_o the bank's and operator's features (the bank's last column is the
intercept), y the labels, [[v]]_P a CKKS encryption under party P's key (only P can
decrypt). The bank holds [[w_b]]_o, the operator [[w_o]]_b, one ciphertext per weight
with the weight in every slot. Masks come from the OS CSPRNG.

Forward   each party computes [[X_self w_self + r_self]]_peer and sends it; the peer
          decrypts. Shares of the logit: z_b = (X_o w_o + r_o) - r_b at the bank and
          z_o = (X_b w_b + r_b) - r_o at the operator, z = z_b + z_o.
Sigmoid   the bank sends [[sin(k W z_b)]]_b, [[cos(k W z_b)]]_b (k = 1..K) and [[y]]_b;
          the operator evaluates sum_k a_k sin(k W (z_b + z_o)) by the angle-addition
          identity with its own share in the clear, and returns [[e + u]]_b, where
          e = sigmoid(z) - y and u is its fresh mask, plus [[-u]]_o.
Backward  the bank decrypts e + u and sends it back freshly encrypted ([[e + u]]_b), so
          the operator gets [[e]]_b = [[e + u]]_b - u; the bank itself encrypts e + u
          under the operator's public key, so [[e]]_o = [[e + u]]_o + [[-u]]_o. Each
          then returns [[x_j e + t_j]]_peer per own feature j (per-slot masks t_j);
          the peer decrypts, sums the slots, scales by the learning rate and the
          optimizer state (all linear), encrypts the masked step replicated in every
          slot and returns it; the owner removes the mask's share and adds the step to
          its encrypted weights. The bank's weight step travels with its next call.

r hides a logit share modulo the Fourier period perfectly (uniform mod P) and its
magnitude statistically; u and t hide values of magnitude <= VALUE_BOUND to within
2^-MASK_BITS statistical distance; the masked gradient sums hide the gradient the same
way. Ciphertexts are only ever multiplied while they hold small values (weights,
harmonics, residuals): CKKS error scales with the encoded magnitude.

What each party learns over a whole run: its own inputs; values masked as above; at the
end its own weights (released by the peer's flooded decryption); and the bank, the
per-epoch training and validation loss (sums released by flooded decryption). No party
sees the other's weights, partial logits, residuals or gradients, so neither trap of
vertical LR is open: the operator's partial logits never reach the bank (they would span
its feature matrix after as many epochs as it has features), and the operator never sees
a gradient (whose residual signs on small batches give the labels).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from models.fourier import SineSeries, sigmoid_series, softplus_series
from protocol.crypto.ckks import (
    CkksContext,
    CkksVector,
    decrypt_with_flooding,
    flood,
    secure_uniform,
)

# Every masked value is bounded by VALUE_BOUND (features are standardised and clipped
# to +-CLIP, residuals lie in [-1.01, 1.01]) and hidden up to 2^-MASK_BITS.
MASK_BITS = 30
CLIP = 32.0
VALUE_BOUND = 64.0
# Decryptions released to the peer (each party's final weights, the bank's loss sums)
# carry smaller masks, so that their CKKS error stays small, and flooding noise of
# 2^FLOODING_BITS times that error (protocol.crypto.ckks.flood). RELEASE_ERROR is the
# measured worst per-slot error of such a decryption with the PRECISE preset
# (tests/unit/protocol/hetero_lr measure it), with a 4x margin.
RELEASE_MASK_BITS = 20
FLOODING_BITS = 12
RELEASE_ERROR = 2.0**-24


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

    def series(self) -> SineSeries:
        return sigmoid_series(self.terms, self.fit_range, self.period)

    def rate(self, epoch: int) -> float:
        return self.learning_rate / (1.0 + self.lr_decay * epoch)


def additive_mask(size: int) -> np.ndarray:
    return secure_uniform(VALUE_BOUND * 2.0**MASK_BITS, size)


def release_mask(size: int) -> np.ndarray:
    return secure_uniform(VALUE_BOUND * 2.0**RELEASE_MASK_BITS, size)


def periodic_mask(size: int, period: float) -> np.ndarray:
    """Uniform modulo `period` plus a uniformly random multiple of it."""
    span = int(VALUE_BOUND * 2.0**MASK_BITS / period)
    words = np.frombuffer(os.urandom(8 * size), dtype=np.uint64)
    turns = (words % np.uint64(2 * span)).astype(np.float64) - span
    return secure_uniform(period / 2, size) + period / 2 + turns * period


def weighted_sum(
    vectors: list[CkksVector], weights: np.ndarray, offset: np.ndarray
) -> CkksVector:
    """sum_k weights[k] * vectors[k] + offset, one multiplicative level."""
    total = vectors[0].mul_plain(weights[0])
    for vec, w in zip(vectors[1:], weights[1:], strict=True):
        total = total.add(vec.mul_plain(w))
    return total.add_plain(offset)


@dataclass
class StepState:
    """The gradient-step side of one weight vector, kept by the party that decrypts
    its (masked) gradient: momentum of the masked sums and the L2 decay scale."""

    dim: int
    hyper: LrHyper
    intercept: int | None = None
    velocity: np.ndarray = field(init=False)
    scale: np.ndarray = field(init=False)  # w = scale * w~ (L2 as multiplicative decay)

    def __post_init__(self) -> None:
        self.velocity = np.zeros(self.dim)
        self.scale = np.ones(self.dim)

    def direction(self, gradient_sum: np.ndarray) -> np.ndarray:
        """Optimizer direction for a (masked or mask-only) gradient sum: linear."""
        h = self.hyper
        if h.optimizer == "sgd":
            return gradient_sum
        self.velocity = h.momentum * self.velocity + gradient_sum
        if h.optimizer == "nesterov":
            return gradient_sum + h.momentum * self.velocity
        return self.velocity

    def step_factor(self, m: int, epoch: int) -> np.ndarray:
        """Multiplier turning a direction into the step on w~ (and advancing decay)."""
        rate = self.hyper.rate(epoch)
        if self.hyper.l2:
            decay = np.full(self.dim, 1.0 - rate * self.hyper.l2)
            if self.intercept is not None:
                decay[self.intercept] = 1.0
            self.scale = self.scale * decay
        return rate / (m * self.scale)


@dataclass
class _Party:
    features: np.ndarray  # (n, d_self), standardised and clipped
    peer_dim: int
    keys: CkksContext  # own, private
    peer: CkksContext  # the peer's public context (no secret key)
    hyper: LrHyper
    own_intercept: int | None = None
    peer_intercept: int | None = None

    def __post_init__(self) -> None:
        if not self.keys.is_private:
            raise ValueError("a party needs its own private CKKS context")
        if self.peer.is_private:
            raise ValueError("the peer's context must not carry its secret key")
        x = np.asarray(self.features, dtype=np.float64)
        if np.abs(x).max(initial=0.0) > CLIP:
            raise ValueError(f"features must be standardised and clipped to +-{CLIP}")
        self.features = np.ascontiguousarray(x)
        self.slots = self.keys.preset.slots
        self.series = self.hyper.series()
        d = self.features.shape[1]
        # My weights, encrypted under the peer's key (w = scale * w~, scale known to
        # the peer, which applies the decay).
        self.weights = [self.peer.encrypt(np.zeros(self.slots)) for _ in range(d)]
        self.best_weights = list(self.weights)
        self.peer_step = StepState(self.peer_dim, self.hyper, self.peer_intercept)
        self.own_mask_step = StepState(d, self.hyper, self.own_intercept)
        self.rows = np.zeros(0, dtype=np.int64)
        self._r = np.zeros(0)
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
        self.rows = rows

    def _x(self) -> np.ndarray:
        """Batch features padded with zero rows to the slot count, shape (d, slots)."""
        x = np.zeros((self.features.shape[1], self.slots))
        x[:, : len(self.rows)] = self.features[self.rows].T
        return x

    def masked_logits(self) -> bytes:
        """[[X_self w_self + r]]_peer; w = scale * w~ is applied to the plaintext X."""
        x = self._x() * self.own_mask_step.scale[:, None]
        self._r = periodic_mask(self.slots, self.hyper.period)
        return weighted_sum(self.weights, x, self._r).to_bytes()

    def logit_share(self, peer_logits: bytes) -> np.ndarray:
        received = self.keys.decrypt(self.keys.vector_from_bytes(peer_logits))
        return np.mod(received - self._r, self.hyper.period)

    def gradient_products(self, residual: CkksVector) -> list[bytes]:
        """[[x_j e + t_j]]_peer for each own feature; keeps sum(t_j)."""
        x = self._x()
        out, sums = [], np.zeros(len(x))
        for j, column in enumerate(x):
            mask = additive_mask(self.slots)
            sums[j] = mask.sum()
            out.append(residual.mul_plain(column).add_plain(mask).to_bytes())
        self._t_sums = sums
        return out

    def masked_peer_step(self, products: list[bytes], epoch: int) -> list[bytes]:
        """Decrypt the peer's masked gradient products, return its masked step
        (replicated, under my key): factor * direction(X_peer^T e + T)."""
        if len(products) != self.peer_dim:
            raise ValueError(
                f"expected {self.peer_dim} gradient ciphertexts, got {len(products)}"
            )
        sums = np.array(
            [self.keys.decrypt(self.keys.vector_from_bytes(p)).sum() for p in products]
        )
        step = self.peer_step.direction(sums) * self.peer_step.step_factor(
            len(self.rows), epoch
        )
        # Encrypt the negated step: the owner then only adds (no level consumed).
        return [self.keys.encrypt(np.full(self.slots, -s)).to_bytes() for s in step]

    def apply_step(self, masked_steps: list[bytes], epoch: int) -> None:
        """w~ += -(masked step) + (my mask's part), all under the peer's key."""
        if len(masked_steps) != len(self.weights):
            raise ValueError(f"expected {len(self.weights)} step ciphertexts")
        mask_part = self.own_mask_step.direction(self._t_sums)
        mask_part = mask_part * self.own_mask_step.step_factor(len(self.rows), epoch)
        for j, blob in enumerate(masked_steps):
            negated = self.peer.vector_from_bytes(blob).add_plain(
                np.full(self.slots, mask_part[j])
            )
            self.weights[j] = self.weights[j].add(negated)

    # ---- final weights ---------------------------------------------------------
    def keep_best(self) -> None:
        self.best_weights = list(self.weights)
        self._best_scale = self.own_mask_step.scale.copy()

    def masked_weights(self) -> tuple[bytes, np.ndarray]:
        """[[w~ + v]]_peer (weight j in slot j) and the mask v, for the reveal."""
        d = len(self.best_weights)
        unit = np.eye(d, self.slots)
        packed = weighted_sum(self.best_weights, unit, np.zeros(self.slots))
        mask = release_mask(self.slots)
        self._reveal_mask = mask
        return packed.add_plain(mask).to_bytes(), mask

    def open_peer_weights(self, masked: bytes) -> np.ndarray:
        """Flooded decryption of the peer's masked weights (sent back to it)."""
        vec = self.keys.vector_from_bytes(masked)
        return decrypt_with_flooding(
            self.keys,
            vec,
            statistical_security_bits=FLOODING_BITS,
            error_bound=RELEASE_ERROR,
        )

    def own_weights(self, opened: np.ndarray) -> np.ndarray:
        d = len(self.best_weights)
        scale = getattr(self, "_best_scale", self.own_mask_step.scale)
        return (np.asarray(opened)[:d] - self._reveal_mask[:d]) * scale


class BankLrParty(_Party):
    """The label holder: drives batches, learns the loss."""

    def __init__(self, *args, labels: np.ndarray, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.labels = np.asarray(labels, dtype=np.float64)
        if len(self.labels) != len(self.features):
            raise ValueError("labels and features have different row counts")
        self._share_e = np.zeros(0)

    def sigmoid_request(self, operator_logits: bytes) -> list[bytes]:
        """[[harmonics of z_b]]_b (2K) followed by [[y]]_b."""
        z = self.logit_share(operator_logits)
        sin, cos = self.series.harmonics(z)
        y = self._padded(self.labels[self.rows])
        return [self.keys.encrypt(v).to_bytes() for v in (*sin, *cos, y)]

    def backward_request(
        self, masked_residual: bytes, operator_mask: bytes
    ) -> tuple[bytes, list[bytes]]:
        """[[e + u]]_b fresh, and [[x_bj e + t_j]]_o per bank feature."""
        share = self.keys.decrypt(self.keys.vector_from_bytes(masked_residual))
        fresh = self.keys.encrypt(share).to_bytes()
        residual = self.peer.encrypt(share).add(
            self.peer.vector_from_bytes(operator_mask)
        )
        return fresh, self.gradient_products(residual)

    def loss_products(
        self, operator_logits: bytes, operator_harmonics: list[bytes]
    ) -> bytes:
        """[[loss_i + t_i]]_o over the rows, loss = softplus(z) - y z (padding: 0)."""
        z = self.logit_share(operator_logits)
        sin, cos = self.series.harmonics(z)
        odd, even = softplus_series(
            self.hyper.terms, self.hyper.fit_range, self.hyper.period
        )
        m = len(self.rows)
        live = self._padded(np.ones(m))
        sign = self._padded(1.0 - 2.0 * self.labels[self.rows])  # even + sign * odd
        o = odd.sin_coefficients[:, None]
        e = even.cos_coefficients[:, None]
        on_sin = (sign * o * cos - e * sin) * live
        on_cos = (sign * o * sin + e * cos) * live
        peer = [self.peer.vector_from_bytes(b) for b in operator_harmonics]
        mask = release_mask(self.slots) * live
        self._loss_mask = float(mask.sum())
        return weighted_sum(
            peer, np.vstack([on_sin, on_cos]), mask + even.offset * live
        ).to_bytes()

    def loss_value(self, masked_sum: float) -> float:
        return (masked_sum - self._loss_mask) / len(self.rows)


class OperatorLrParty(_Party):
    """The feature holder: answers the bank's calls."""

    def sigmoid(
        self, bank_logits: bytes, bank_harmonics: list[bytes]
    ) -> tuple[bytes, bytes]:
        """[[e + u]]_b and [[-u]]_o, e = sigmoid(z) - y."""
        terms = self.series.terms
        if len(bank_harmonics) != 2 * terms + 1:
            raise ValueError(
                f"expected {2 * terms + 1} ciphertexts (harmonics, labels)"
            )
        z = self.logit_share(bank_logits)
        sin, cos = self.series.harmonics(z)
        a = self.series.sin_coefficients[:, None]
        peer = [self.peer.vector_from_bytes(b) for b in bank_harmonics]
        self._u = additive_mask(self.slots)
        weights = np.vstack([a * cos, a * sin, -np.ones((1, self.slots))])
        residual = weighted_sum(peer, weights, self.series.offset + self._u)
        return residual.to_bytes(), self.keys.encrypt(-self._u).to_bytes()

    def backward(self, bank_share: bytes) -> list[bytes]:
        """[[x_oj e + s_j]]_b per operator feature, from the fresh [[e + u]]_b."""
        residual = self.peer.vector_from_bytes(bank_share).add_plain(-self._u)
        return self.gradient_products(residual)

    def loss_harmonics(self, bank_logits: bytes) -> list[bytes]:
        z = self.logit_share(bank_logits)
        sin, cos = self.series.harmonics(z)
        return [self.keys.encrypt(v).to_bytes() for v in (*sin, *cos)]

    def loss_sum(self, masked_loss: bytes) -> float:
        """Flooded sum of the bank's masked per-row losses."""
        values = self.keys.decrypt(self.keys.vector_from_bytes(masked_loss))
        total = flood(
            [values.sum()],
            error_bound=RELEASE_ERROR * self.slots,
            statistical_security_bits=FLOODING_BITS,
        )
        return float(total[0])
