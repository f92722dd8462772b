"""phe interoperability: hand our ciphertexts to phe and take phe's ciphertexts in.

Keys are phe's (paillier_keys); ciphertexts are the same integers. phe's EncodedNumber
uses a base-16 exponent, so a fixed-point scale of s bits is phe exponent -s/4.
"""

from __future__ import annotations

from collections.abc import Sequence

import phe
from gmpy2 import mpz

from protocol.crypto.paillier_keys import PaillierPublicKey
from protocol.crypto.paillier_vector import (
    DEFAULT_VALUE_BITS,
    CiphertextVector,
    make_encoding,
)


def to_phe(vec: CiphertextVector) -> list[phe.EncryptedNumber]:
    """phe EncryptedNumbers of an unpacked vector (base-16 exponent -scale/4)."""
    if vec.encoding.packing is not None:
        raise ValueError("phe cannot decode packed plaintexts")
    if vec.encoding.scale_bits % 4:
        raise ValueError(
            "phe exponents are base 16: scale_bits must be a multiple of 4"
        )
    if vec.needs_rerandomization:
        raise ValueError("re-randomize homomorphic results before handing them out")
    key = vec.public_key.to_phe()
    exponent = -vec.encoding.scale_bits // 4
    return [phe.EncryptedNumber(key, int(c), exponent) for c in vec.ciphertexts]


def from_phe(
    public_key: PaillierPublicKey,
    numbers: Sequence[phe.EncryptedNumber],
    *,
    value_bits: int = DEFAULT_VALUE_BITS,
) -> CiphertextVector:
    """Wrap phe EncryptedNumbers sharing one exponent; |value| < 2**value_bits."""
    exponents = {num.exponent for num in numbers}
    if len(exponents) > 1:
        raise ValueError(f"phe numbers carry {len(exponents)} different exponents")
    exponent = exponents.pop() if exponents else 0
    if exponent > 0:
        raise ValueError("positive phe exponents are not fixed-point values")
    for num in numbers:
        if num.public_key.n != public_key.n:
            raise ValueError("a phe number is encrypted under a different key")
    encoding = make_encoding(
        public_key.n_bits, len(numbers), -4 * exponent, value_bits, None
    )
    cts = [mpz(num.ciphertext(be_secure=False)) for num in numbers]
    # phe's ciphertexts carry r^n randomness, not a bounded DJN exponent.
    return CiphertextVector(public_key, cts, encoding, noise_bound=None)
