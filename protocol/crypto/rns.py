"""Exact arithmetic on polynomials in RNS form: q = p_1 ... p_L, residues (L, N) uint64.

SEAL stores a ciphertext or plaintext polynomial modulo q as its residues modulo each
prime p_i < 2^61. This module converts exactly between those residues and integers
(Python ints, or non-negative integers given as 32-bit limbs for the hot paths), reads
the constant coefficient of a polynomial from its NTT-form residues, and samples
uniform residues. numpy has no 64 x 64 -> 128-bit product, so `_mulmod` reduces
x * y mod p for y < 2^32 with a float64 quotient estimate (off by at most one) and a
wrapping uint64 remainder, corrected into [0, p).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
LIMB_BITS = 32
_LIMB_MASK = np.uint64((1 << LIMB_BITS) - 1)


def _mulmod(x: U64, y: int | U64, p: U64) -> U64:
    """x * y mod p for x < p < 2^61 and y < 2^32 (elementwise, broadcasting)."""
    yy = np.asarray(y, dtype=np.uint64)
    quotient = np.floor(
        x.astype(np.float64) * yy.astype(np.float64) / p.astype(np.float64)
    )
    q64 = quotient.astype(np.uint64)
    rem = (x * yy - q64 * p).view(np.int64)  # wraps mod 2^64; true value in [-p, 2p)
    rem = np.where(rem < 0, rem + p.view(np.int64), rem)
    rem = np.where(rem >= p.view(np.int64), rem - p.view(np.int64), rem)
    return rem.view(np.uint64)


def _addmod(x: U64, y: U64, p: U64) -> U64:
    s = x + y
    return np.where(s >= p, s - p, s)


@dataclass(frozen=True)
class RnsBasis:
    """The modulus of one ciphertext level and exact conversions for degree N."""

    primes: tuple[int, ...]
    degree: int
    q: int = field(init=False)
    _p: U64 = field(init=False, repr=False)
    _inverse_halves: tuple[tuple[int, int], ...] = field(init=False, repr=False)
    _cofactor_limbs: tuple[tuple[int, ...], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.primes or max(self.primes) >= 1 << 61:
            raise ValueError("RNS primes must be below 2^61")
        q = 1
        for p in self.primes:
            q *= p
        object.__setattr__(self, "q", q)
        object.__setattr__(self, "_p", np.array(self.primes, dtype=np.uint64)[:, None])
        # x = sum_i r_i * (q/p_i) * ((q/p_i)^-1 mod p_i) mod q
        inverses = [pow(q // p, -1, p) for p in self.primes]
        object.__setattr__(
            self,
            "_inverse_halves",
            tuple((v >> LIMB_BITS, v & ((1 << LIMB_BITS) - 1)) for v in inverses),
        )
        object.__setattr__(
            self, "_cofactor_limbs", tuple(_to_limbs(q // p) for p in self.primes)
        )

    @property
    def half(self) -> int:
        """Largest centered value: representatives lie in [-half, half]."""
        return (self.q - 1) // 2

    # ---- integers -> residues ---------------------------------------------------
    def residues_of_ints(self, values: Sequence[int]) -> U64:
        """Residues (L, len(values)) of arbitrary (signed) Python ints."""
        return np.array(
            [[v % p for v in values] for p in self.primes], dtype=np.uint64
        ).reshape(len(self.primes), len(values))

    def residues_of_limbs(self, limbs: U64, offset: int = 0) -> U64:
        """Residues of sum_l limbs[l] * 2^(32 l) + offset; limbs (K, n), each < 2^32."""
        p, pi = self._p, self._p.view(np.int64)
        inverse = 1.0 / p.astype(np.float64)
        r = np.zeros((len(self.primes), limbs.shape[1]), dtype=np.uint64)
        estimate = np.zeros(r.shape)
        for limb in limbs[::-1]:  # Horner from the top limb: r = r * 2^32 + limb
            v = limb[None, :]
            np.multiply(r, 2.0**LIMB_BITS, out=estimate)
            estimate += v
            estimate *= inverse
            quotient = np.floor(estimate).astype(np.uint64)  # off by at most one
            r <<= np.uint64(LIMB_BITS)  # wraps mod 2^64, as does the product below
            r += v
            r -= quotient * p
            signed = r.view(np.int64)  # now the true remainder, in [-p, 2p)
            signed += pi * (signed < 0)
            signed -= pi * (signed >= pi)
        if offset:
            shift = np.array([offset % q for q in self.primes], dtype=np.uint64)[
                :, None
            ]
            r = _addmod(r, np.broadcast_to(shift, r.shape), p)
        return r

    def uniform_residues(self, count: int) -> U64:
        """Residues of `count` integers uniform modulo q (CSPRNG, by rejection)."""
        out = np.empty((len(self.primes), count), dtype=np.uint64)
        for i, p in enumerate(self.primes):
            limit = (1 << 64) - (1 << 64) % p  # accept below a multiple of p
            filled = 0
            while filled < count:
                words = np.frombuffer(os.urandom(8 * (count - filled + 64)), np.uint64)
                words = words[words < np.uint64(limit)][: count - filled]
                out[i, filled : filled + len(words)] = words % np.uint64(p)
                filled += len(words)
        return out

    # ---- residues -> integers ---------------------------------------------------
    def centered(self, value: int) -> int:
        """The representative of value modulo q in [-half, half]."""
        value %= self.q
        return value - self.q if value > self.half else value

    @property
    def lift(self) -> int:
        """H = 2^(32 k) > q: `limbs` holds x + H, non-negative for centered x."""
        return 1 << (LIMB_BITS * -(-self.q.bit_length() // LIMB_BITS))

    def limbs(self, residues: U64) -> U64:
        """32-bit limbs of x + H for the centered x of each column of residues (L, n).

        Exact CRT: x = sum_i y_i Q_i - k q with Q_i = q / p_i, y_i = r_i Q_i^-1 mod p_i
        and k = round(sum_i y_i / p_i); k is exact whenever |x| < q/2 - q 2^-40
        (otherwise x may come out as its other representative x -+ q).
        """
        n = residues.shape[1]
        width = self.lift.bit_length() // LIMB_BITS + 2
        acc = np.zeros((width, n), dtype=np.int64)
        estimate = np.zeros(n)
        for r, p, (inv_hi, inv_lo), q_limbs in zip(
            residues, self._p, self._inverse_halves, self._cofactor_limbs, strict=True
        ):
            y = _addmod(
                _mulmod(_mulmod(r, inv_hi, p), 1 << LIMB_BITS, p),
                _mulmod(r, inv_lo, p),
                p,
            )
            estimate += y.astype(np.float64) / float(p[0])
            for half, part in enumerate((y & _LIMB_MASK, y >> np.uint64(LIMB_BITS))):
                for i, q_limb in enumerate(q_limbs):
                    product = part * np.uint64(q_limb)  # < 2^64
                    acc[i + half] += (product & _LIMB_MASK).view(np.int64)
                    acc[i + half + 1] += (product >> np.uint64(LIMB_BITS)).view(
                        np.int64
                    )
        k = np.rint(estimate).astype(np.int64)
        for i, q_limb in enumerate(_to_limbs(self.q)):
            acc[i] -= k * q_limb
        acc[self.lift.bit_length() // LIMB_BITS] += 1
        for i in range(width - 1):  # carries (arithmetic shift keeps borrows)
            acc[i + 1] += acc[i] >> LIMB_BITS
            acc[i] &= (1 << LIMB_BITS) - 1
        return acc.view(np.uint64)

    def ints(self, residues: U64) -> list[int]:
        """Centered integers of residues (L, n), exactly (see `limbs`)."""
        return ints_of_limbs(self.limbs(residues), -self.lift)

    def constant_of_ntt(self, residues: U64) -> int:
        """The constant coefficient (centered) of a polynomial given in NTT form.

        The NTT values are the polynomial's evaluations at the N roots of X^N + 1
        modulo p_i, and the sum of the k-th powers of those roots vanishes for
        0 < k < N, so sum_t NTT_t = N * c_0 (mod p_i): no inverse transform needed.
        """
        low = (residues & _LIMB_MASK).sum(axis=1, dtype=np.uint64)
        high = (residues >> np.uint64(LIMB_BITS)).sum(axis=1, dtype=np.uint64)
        constant = []
        for lo, hi, p in zip(low.tolist(), high.tolist(), self.primes, strict=True):
            total = (hi << LIMB_BITS) + lo
            constant.append(total * pow(self.degree, -1, p) % p)
        return self.ints(np.array(constant, dtype=np.uint64)[:, None])[0]


def _to_limbs(value: int) -> tuple[int, ...]:
    out = []
    while value:
        out.append(value & ((1 << LIMB_BITS) - 1))
        value >>= LIMB_BITS
    return tuple(out)


def ints_of_limbs(limbs: U64, offset: int = 0) -> list[int]:
    """sum_l limbs[l] * 2^(32 l) + offset, per column, as Python ints."""
    if len(limbs) % 2:
        limbs = np.vstack([limbs, np.zeros((1, limbs.shape[1]), dtype=np.uint64)])
    words = limbs[0::2] | (limbs[1::2] << np.uint64(LIMB_BITS))  # 64-bit words
    total = np.array(words[-1].tolist(), dtype=object)
    for word in words[-2::-1]:
        total = (total << 64) + np.array(word.tolist(), dtype=object)
    if offset:
        total = total + offset
    return [int(v) for v in total.tolist()]


def random_limbs(bits: int, count: int) -> U64:
    """`count` integers uniform in [0, 2^bits) as 32-bit limbs (K, count) (CSPRNG)."""
    if bits < 1:
        raise ValueError("bits must be positive")
    n_limbs = -(-bits // LIMB_BITS)
    words = np.frombuffer(os.urandom(4 * n_limbs * count), dtype=np.uint32)
    limbs = words.reshape(n_limbs, count).astype(np.uint64)
    top_bits = bits - LIMB_BITS * (n_limbs - 1)
    limbs[-1] &= np.uint64((1 << top_bits) - 1)
    return limbs


def shift_limbs(limbs: U64, bits: int) -> U64:
    """floor(value / 2^bits) of non-negative limb integers, as limbs."""
    whole, part = divmod(bits, LIMB_BITS)
    rest = limbs[whole:]
    if not len(rest):
        return np.zeros((1, limbs.shape[1]), dtype=np.uint64)
    if part == 0:
        return rest.copy()
    shifted = rest >> np.uint64(part)
    shifted[:-1] |= (rest[1:] << np.uint64(LIMB_BITS - part)) & _LIMB_MASK
    return shifted
