"""Ciphertext vector type: raw ciphertexts, their encoding and local overflow bounds.

A CiphertextVector is a list of raw gmpy2 ciphertexts plus the encoding both parties
need to read it (fixed-point scale, declared value bound, optional packing) and two
local bounds that are never sent: the largest magnitude a value/slot can have, checked
whenever a vector is built so that overflow raises instead of wrapping, and the largest
DJN randomness exponent, which sizes re-randomization (paillier.rerandomize).
"""

from __future__ import annotations

from dataclasses import dataclass

from gmpy2 import mpz

from protocol.crypto import paillier_raw as raw
from protocol.crypto.fixedpoint import (
    PackingOverflowError,
    PackingSpec,
    plaintext_capacity_bits,
)
from protocol.crypto.paillier_keys import PaillierPublicKey

DEFAULT_VALUE_BITS = 64

FRESH_NOISE_BOUND = (1 << raw.DJN_EXPONENT_BITS) - 1

# Vectors read from the wire are assumed to carry DJN exponents below 2^(256 + 64): true
# for fresh encryptions and for sums of up to 2^64 of them, which is what honest peers
# send. It only sizes the flooding exponent of a later re-randomization.
WIRE_NOISE_BOUND = (1 << (raw.DJN_EXPONENT_BITS + 64)) - 1


@dataclass(frozen=True)
class VectorEncoding:
    """What a reader needs to decode a vector; travels on the wire with it."""

    length: int
    scale_bits: int
    value_bits: int
    packing: PackingSpec | None = None

    @property
    def n_ciphertexts(self) -> int:
        if self.packing is None:
            return self.length
        return self.packing.n_plaintexts(self.length)

    def magnitude_capacity(self, n_bits: int) -> int:
        """Largest |value| (or |slot|) this encoding can hold under an n_bits key."""
        if self.packing is not None:
            return self.packing.slot_capacity
        return (1 << plaintext_capacity_bits(n_bits)) - 1

    def fresh_magnitude(self) -> int:
        """Bound on |value| (or |slot|) of freshly encrypted data."""
        return (1 << self.value_bits) - 1


class CiphertextVector:
    """Encrypted integers (fixed-point, optionally packed) under one public key."""

    __slots__ = (
        "ciphertexts",
        "encoding",
        "magnitude_bound",
        "needs_rerandomization",
        "noise_bound",
        "public_key",
    )

    def __init__(
        self,
        public_key: PaillierPublicKey,
        ciphertexts: list[mpz],
        encoding: VectorEncoding,
        *,
        magnitude_bound: int | None = None,
        noise_bound: int | None = FRESH_NOISE_BOUND,
        needs_rerandomization: bool = False,
    ):
        if len(ciphertexts) != encoding.n_ciphertexts:
            raise ValueError(
                f"{len(ciphertexts)} ciphertexts for an encoding that needs "
                f"{encoding.n_ciphertexts}"
            )
        self.public_key = public_key
        self.ciphertexts = ciphertexts
        self.encoding = encoding
        self.magnitude_bound = (
            encoding.fresh_magnitude() if magnitude_bound is None else magnitude_bound
        )
        self.noise_bound = noise_bound
        self.needs_rerandomization = needs_rerandomization
        check_magnitude(self)

    def __len__(self) -> int:
        return self.encoding.length

    def __repr__(self) -> str:
        return (
            f"<CiphertextVector len={len(self)} ciphertexts={len(self.ciphertexts)} "
            f"scale=2^-{self.encoding.scale_bits} packing={self.encoding.packing}>"
        )

    def _derived(
        self,
        ciphertexts: list[mpz],
        *,
        magnitude_bound: int,
        noise_bound: int | None,
        encoding: VectorEncoding | None = None,
    ) -> CiphertextVector:
        return CiphertextVector(
            self.public_key,
            ciphertexts,
            encoding or self.encoding,
            magnitude_bound=magnitude_bound,
            noise_bound=noise_bound,
            needs_rerandomization=True,
        )


def noise_sum(*bounds: int | None) -> int | None:
    # None: randomness not from a DJN exponent (phe's r^n); it stays unknown.
    return None if any(b is None for b in bounds) else sum(b for b in bounds if b)


def noise_times(bound: int | None, factor: int) -> int | None:
    return None if bound is None else bound * max(factor, 1)


def check_magnitude(vec: CiphertextVector) -> None:
    capacity = vec.encoding.magnitude_capacity(vec.public_key.n_bits)
    if vec.magnitude_bound <= capacity:
        return
    packing = vec.encoding.packing
    if packing is not None:
        raise PackingOverflowError(
            f"slot bound {vec.magnitude_bound.bit_length()} bits exceeds the slot "
            f"capacity 2**{packing.slot_bits - 1} - 1 "
            f"(value_bits={packing.value_bits}, "
            f"max_summands={packing.max_summands}); declare more headroom"
        )
    raise OverflowError(
        f"value bound {vec.magnitude_bound.bit_length()} bits exceeds the plaintext "
        f"capacity of a {vec.public_key.n_bits}-bit key"
    )


def make_encoding(
    n_bits: int,
    length: int,
    scale_bits: int,
    value_bits: int | None,
    packing: PackingSpec | None,
) -> VectorEncoding:
    if packing is not None:
        if value_bits not in (None, packing.value_bits):
            raise ValueError("value_bits must equal packing.value_bits when packing")
        value_bits = packing.value_bits
    elif value_bits is None:
        value_bits = DEFAULT_VALUE_BITS
    if value_bits > plaintext_capacity_bits(n_bits):
        raise ValueError(
            f"value_bits={value_bits} exceeds the plaintext capacity "
            f"({plaintext_capacity_bits(n_bits)} bits) of a {n_bits}-bit key"
        )
    return VectorEncoding(length, scale_bits, value_bits, packing)
