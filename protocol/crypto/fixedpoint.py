"""Fixed-point encoding with one explicit scale per tensor, and packing of integers.

Both parties decode what the other encoded, so this module is part of the wire contract.

Fixed point. A real x is carried as the integer round(x * 2**scale_bits). The scale is
one number for the whole tensor and is chosen by the protocol, never by the data: phe's
per-value exponent (base 16, derived from each float's magnitude) tells anyone who sees
the ciphertext's metadata roughly how large each value is.

Packing. Several signed integers ("slots") share one Paillier plaintext:

    P = s_0 + s_1 * 2**W + s_2 * 2**(2W) + ... + s_{k-1} * 2**((k-1)W)

with slot 0 in the least significant bits. Slots are *balanced signed digits*: each slot
of width W holds a value in [-(2**(W-1) - 1), 2**(W-1) - 1] and unpacking reads the low
W bits as a two's-complement number, subtracts it and shifts. Because packing is linear,
adding packed plaintexts (or multiplying them by an integer) adds (multiplies) every
slot, and negative sums borrow from the next slot in a way the unpacker undoes exactly.
Unlike an offset encoding (value + 2**(b-1) per slot), the decoder needs no count of how
many plaintexts were summed, so the key holder does not learn bin sizes from the
metadata.

Slot width: W = value_bits + ceil(log2(max_summands)) + 1, i.e. the declared magnitude
of one input value, headroom for `max_summands` of them to be added, and a sign bit. The
plaintext must keep |P| < n/4 so that it decodes unambiguously (and phe, whose signed
range is n/3, agrees): k * W <= n_bits - 3.

Overflow is never silent: `pack` rejects any value outside its declared range naming the
slot and the bound; ciphertext operations track a bound on every slot and raise
PackingOverflowError before an operation could exceed the slot width; `unpack` checks
the final remainder. Error messages name positions and bounds, never the values
themselves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# A signed plaintext must satisfy |v| < 2**(n_bits - 3): then |v| < n/4 < n/3 (phe's
# signed range, so phe decodes our plaintexts) and packed plaintexts stay clear of the
# wrap point.
PLAINTEXT_MARGIN_BITS = 3

# float64 holds 53 significant bits; fixed-point integers from floats stay below 2**62
# so the conversion through int64 is exact.
MAX_FLOAT_VALUE_BITS = 62


class PackingOverflowError(OverflowError):
    """A value or a homomorphic result does not fit the declared slot width."""


def plaintext_capacity_bits(n_bits: int) -> int:
    """Return b such that signed plaintexts with |v| < 2**b decode unambiguously."""
    return n_bits - PLAINTEXT_MARGIN_BITS


def headroom_bits(max_summands: int) -> int:
    """Bits needed so that up to `max_summands` values can be added without overflow."""
    if max_summands < 1:
        raise ValueError(f"max_summands must be >= 1, got {max_summands}")
    return math.ceil(math.log2(max_summands)) if max_summands > 1 else 0


@dataclass(frozen=True)
class FixedPointCodec:
    """Encode floats as round(x * 2**scale_bits) with a bound on the encoded magnitude.

    `value_bits` declares |round(x * 2**scale_bits)| < 2**value_bits for every input; it
    is what packing and overflow tracking rely on, so choose it from the protocol's
    value range (e.g. gradients in [-1, 1] with scale_bits=24 need value_bits=25).
    """

    scale_bits: int
    value_bits: int = MAX_FLOAT_VALUE_BITS

    def __post_init__(self) -> None:
        if not 0 <= self.scale_bits <= MAX_FLOAT_VALUE_BITS:
            raise ValueError(f"scale_bits must be in [0, 62], got {self.scale_bits}")
        if not 1 <= self.value_bits <= MAX_FLOAT_VALUE_BITS:
            raise ValueError(f"value_bits must be in [1, 62], got {self.value_bits}")

    def encode(self, values: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Fixed-point integers of a 1-D float array; raises on NaN or overflow."""
        x = np.asarray(values, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"expected a 1-D array, got shape {x.shape}")
        finite = np.isfinite(x)
        if not finite.all():
            index = int(np.argmin(finite))
            raise ValueError(f"value at index {index} is not finite")
        # ldexp scales by a power of two exactly; rint then rounds half to even.
        scaled = np.rint(np.ldexp(x, self.scale_bits))
        bound = float(2**self.value_bits)
        too_big = np.abs(scaled) >= bound
        if too_big.any():
            index = int(np.argmax(too_big))
            raise OverflowError(
                f"value at index {index} exceeds the fixed-point bound "
                f"2**{self.value_bits} / 2**{self.scale_bits}"
            )
        return scaled.astype(np.int64)

    def decode(self, ints: Sequence[int] | npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Return floats from fixed-point integers carried at this codec's scale."""
        return decode_fixed_point(ints, self.scale_bits)


def decode_fixed_point(
    ints: Sequence[int] | npt.ArrayLike, scale_bits: int
) -> npt.NDArray[np.float64]:
    """Return ints / 2**scale_bits as float64 (correctly rounded, any int size)."""
    arr = np.asarray(ints)
    if arr.dtype == object:
        # Python ints may exceed int64 after homomorphic sums or products; float(int)
        # rounds correctly for any size.
        as_float = np.array([float(v) for v in arr], dtype=np.float64)
    else:
        as_float = arr.astype(np.float64)
    return np.ldexp(as_float, -scale_bits)


@dataclass(frozen=True)
class PackingSpec:
    """How integers are packed into plaintexts: k slots of width W (see module
    docstring).

    value_bits: every packed input satisfies |v| < 2**value_bits.
    n_slots: slots per plaintext (k).
    max_summands: how many packed plaintexts may be added together (the headroom).
    """

    value_bits: int
    n_slots: int
    max_summands: int = 1

    def __post_init__(self) -> None:
        if self.value_bits < 1:
            raise ValueError(f"value_bits must be >= 1, got {self.value_bits}")
        if self.n_slots < 1:
            raise ValueError(f"n_slots must be >= 1, got {self.n_slots}")
        headroom_bits(self.max_summands)

    @property
    def slot_bits(self) -> int:
        """Width W of one slot: value bits + headroom bits + sign bit."""
        return self.value_bits + headroom_bits(self.max_summands) + 1

    @property
    def slot_capacity(self) -> int:
        """Largest magnitude a slot can hold: 2**(W-1) - 1."""
        return (1 << (self.slot_bits - 1)) - 1

    @property
    def value_bound(self) -> int:
        """Largest magnitude of one packed input value: 2**value_bits - 1."""
        return (1 << self.value_bits) - 1

    @classmethod
    def for_key(
        cls, n_bits: int, value_bits: int, max_summands: int = 1
    ) -> PackingSpec:
        """Return the spec with as many slots as a key of `n_bits` can hold."""
        width = value_bits + headroom_bits(max_summands) + 1
        n_slots = plaintext_capacity_bits(n_bits) // width
        if n_slots < 1:
            raise ValueError(
                f"a {width}-bit slot does not fit a {n_bits}-bit key's plaintext"
            )
        return cls(value_bits=value_bits, n_slots=n_slots, max_summands=max_summands)

    def check_fits(self, n_bits: int) -> None:
        """Raise ValueError if k slots of width W do not fit a key of `n_bits`."""
        needed = self.n_slots * self.slot_bits
        if needed > plaintext_capacity_bits(n_bits):
            raise ValueError(
                f"packing needs {needed} bits ({self.n_slots} slots x {self.slot_bits}"
                f" bits) but a {n_bits}-bit key holds "
                f"{plaintext_capacity_bits(n_bits)}"
            )

    def n_plaintexts(self, length: int) -> int:
        """Number of plaintexts needed for `length` values."""
        return -(-length // self.n_slots)

    def pack(self, values: Sequence[int] | npt.ArrayLike) -> list[int]:
        """Pack integers into plaintexts (last one zero-padded); check every bound."""
        ints = [int(v) for v in np.asarray(values).ravel()]
        bound = self.value_bound
        for index, v in enumerate(ints):
            if not -bound <= v <= bound:
                raise PackingOverflowError(
                    f"value at index {index} (slot {index % self.n_slots} of "
                    f"plaintext {index // self.n_slots}) exceeds the slot bound "
                    f"+-(2**{self.value_bits} - 1)"
                )
        width = self.slot_bits
        k = self.n_slots
        packed: list[int] = []
        for start in range(0, len(ints), k):
            acc = 0
            # Horner from the most significant slot; Python ints carry negatives
            # exactly.
            for v in reversed(ints[start : start + k]):
                acc = (acc << width) + v
            packed.append(acc)
        return packed

    def unpack(self, plaintexts: Sequence[int], length: int) -> list[int]:
        """Return the first `length` slot values of signed plaintexts (undoes pack)."""
        width = self.slot_bits
        mask = (1 << width) - 1
        half = 1 << (width - 1)
        out: list[int] = []
        for p_index, plaintext in enumerate(plaintexts):
            rest = int(plaintext)
            for _ in range(self.n_slots):
                low = rest & mask
                value = low - (1 << width) if low >= half else low
                out.append(value)
                rest = (rest - value) >> width
            if rest != 0:
                # Only a slot sum beyond the headroom can leave bits above the last
                # slot.
                raise PackingOverflowError(
                    f"plaintext {p_index} overflowed its top slot {self.n_slots - 1}: "
                    f"a slot sum exceeded +-(2**{width - 1} - 1)"
                )
        if length > len(out):
            raise ValueError(f"asked for {length} values but only {len(out)} slots")
        return out[:length]
