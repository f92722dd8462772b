"""How much a CKKS transcript hides: per-ciphertext and whole-transcript statistical
distance of coefficient-masked decryptions, and flooding of exact decrypted integers.

Masking (ckks_exact): the key owner decrypts m + U, U's N coefficients uniform in
[-2^(K-1), 2^(K-1)), m the plaintext polynomial (values, hidden slots, imaginary parts
and CKKS error). For U uniform on a box, SD(m + U, U) = 1 - prod_k (1 - |m_k| / 2^K)
<= ||m||_1 / 2^K <= sqrt(N) ||m||_2 / 2^K, and by Parseval for the negacyclic DFT
||m||_2^2 = (2/N) D^2 sum_j |z_j|^2 <= D^2 V^2, with D the scale and V a bound on the
RMS (or maximum) magnitude of the N/2 complex slots z_j. Hence one decryption is within
2^-(K - log2 D - log2 V - log2(N)/2) of a mask-only view, and a transcript within the
sum of its decryptions' bounds (union bound over independent masks).

Flooding: a key owner that sends anything computed from a decryption adds uniform noise
in [-2^lambda E, 2^lambda E] to the exact integers first; if E bounds the error they
carry (`constant_error_bound`), the result is within 2^-lambda of one computed from
error-free values (smudging lemma), so it reveals nothing about the secret key.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass


def fresh_noise_std(degree: int) -> float:
    """Standard deviation of a coefficient of a fresh SEAL public-key encryption's
    error: SEAL encrypts at the key level and divides by the special prime, which
    leaves the rounding r0 + r1 s (|r| <= 1/2, s ternary with ~2N/3 non-zero
    coefficients): sqrt((2N/3 + 1) / 12), ~21 at N = 8192 (measured in the tests)."""
    return math.sqrt((2 * degree / 3 + 1) / 12)


def constant_error_bound(
    *,
    degree: int,
    weight_scale_bits: int,
    weight_bound: float,
    fresh_ciphertexts: int = 1,
    sigmas: float = 13.0,
) -> int:
    """A bound on the error of the constant coefficient of (a sum of
    `fresh_ciphertexts` fresh encryptions) times a plaintext encoded at scale
    2^weight_scale_bits whose slots have RMS (or max) at most weight_bound.

    e_0 = sum_k eta_k p'_k: a sum of N error coefficients (independent of the
    plaintext p) weighted by p's coefficients, ||p||_2 <= 2^b weight_bound +
    sqrt(N)/2 (Parseval plus rounding); the usual CKKS heuristic treats it as
    Gaussian with deviation sigma ||p||_2, so `sigmas` = 13 fails with probability
    ~2^-120. Use it as E in `flood` (coefficient units at the product's scale).
    """
    plain_norm = 2.0**weight_scale_bits * weight_bound + math.sqrt(degree) / 2
    std = fresh_noise_std(degree) * math.sqrt(fresh_ciphertexts)
    return math.ceil(sigmas * std * plain_norm)


def flood(values: Sequence[int], *, error_bound: int, bits: int) -> list[int]:
    """values + uniform integers in [-2^bits E, 2^bits E] (CSPRNG), E = error_bound
    in the values' own units (e.g. coefficient units at the ciphertext's scale)."""
    if bits < 1 or error_bound < 1:
        raise ValueError("bits and error_bound must be positive")
    width = (error_bound << bits) * 2 + 1
    draw_bytes = (width.bit_length() + 64 + 7) // 8  # 64 extra bits: bias < 2^-64
    return [
        v + int.from_bytes(os.urandom(draw_bytes), "little") % width - (width >> 1)
        for v in values
    ]


def ciphertext_bound_bits(
    *, degree: int, scale_bits: int, value_bound: float, mask_bits: int | None
) -> float:
    """-log2 of the statistical-distance bound sqrt(N) D V / 2^K of one masked
    decryption (module docstring); mask_bits None = uniform modulo q (distance 0)."""
    if mask_bits is None:
        return math.inf
    return mask_bits - scale_bits - math.log2(value_bound) - math.log2(degree) / 2


@dataclass(frozen=True)
class TranscriptEntry:
    """`ciphertexts` decryptions of the same kind (see ciphertext_bound_bits)."""

    ciphertexts: int
    value_bound: float
    scale_bits: int
    mask_bits: int | None
    degree: int = 8192

    def bound_bits(self) -> float:
        return ciphertext_bound_bits(
            degree=self.degree,
            scale_bits=self.scale_bits,
            value_bound=self.value_bound,
            mask_bits=self.mask_bits,
        )


def transcript_bound_bits(entries: Sequence[TranscriptEntry]) -> float:
    """-log2 of the union bound sum_i n_i 2^-bits_i over a whole transcript: the
    key owner's view is within statistical distance 2^-result of a view made of
    the masks alone."""
    total = sum(e.ciphertexts * 2.0 ** -e.bound_bits() for e in entries)
    return math.inf if total == 0 else -math.log2(total)
