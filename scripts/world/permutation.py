"""Keyed bijections on integer ranges, so identifiers are unique by construction.

Phone numbers and resident IDs are assigned as `bijection(person index)`: two people
can never receive the same value, yet no chunk has to remember what other chunks
issued, which keeps memory flat at 29 M subscribers. A balanced Feistel network is a
permutation whatever its round function; cycle walking restricts it to any range.
"""

from __future__ import annotations

import numpy as np

_ROUNDS = 4
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(values: np.ndarray, key: np.uint64) -> np.ndarray:
    """Scramble uint64 values with a key (splitmix64 finaliser)."""
    with np.errstate(over="ignore"):
        z = (values + key) & _MASK64
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


class BinaryFeistel:
    """Permutation of [0, 2**(2 * half_bits)) on two halves of `half_bits` bits."""

    def __init__(self, half_bits: int, keys: np.ndarray) -> None:
        self.half_bits = half_bits
        self.keys = np.asarray(keys, dtype=np.uint64)[:_ROUNDS]
        self.size = 1 << (2 * half_bits)

    def apply(self, x: np.ndarray) -> np.ndarray:
        mask = np.uint64((1 << self.half_bits) - 1)
        shift = np.uint64(self.half_bits)
        x = np.asarray(x, dtype=np.uint64)
        left, right = x >> shift, x & mask
        for key in self.keys:
            left, right = right, left ^ (_mix(right, key) & mask)
        return ((left << shift) | right).astype(np.int64)


class RangePermutation:
    """Keyed permutation of [0, n) for any n >= 1 by cycle walking a Feistel network."""

    def __init__(self, n: int, keys: np.ndarray) -> None:
        if n < 1:
            raise ValueError("range must hold at least one value")
        half_bits = max(1, ((n - 1).bit_length() + 1) // 2)
        self.n = n
        self.feistel = BinaryFeistel(half_bits, keys)

    def apply(self, x: np.ndarray) -> np.ndarray:
        out = self.feistel.apply(np.asarray(x, dtype=np.int64))
        # Values that leave [0, n) are walked on until they come back; each step lands
        # in range with probability >= 1/4, so a handful of passes always suffice.
        outside = np.flatnonzero(out >= self.n)
        while outside.size:
            out[outside] = self.feistel.apply(out[outside])
            outside = outside[out[outside] >= self.n]
        return out


class DecimalFeistel:
    """Permutation of [0, 10**8): the 8-digit subscriber part of a mobile number.

    Working on two base-10**4 halves with modular addition keeps it an exact
    bijection of the decimal range with no cycle walking.
    """

    size = 10**8
    _HALF = np.int64(10**4)

    def __init__(self, keys: np.ndarray) -> None:
        self.keys = np.asarray(keys, dtype=np.uint64)[:_ROUNDS]

    def apply(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.int64)
        left, right = x // self._HALF, x % self._HALF
        for key in self.keys:
            f = (_mix(right.astype(np.uint64), key) % np.uint64(10**4)).astype(np.int64)
            left, right = right, (left + f) % self._HALF
        return left * self._HALF + right
