"""Pack many result ciphertexts into few before the key holder decrypts them.

Bin sums (WOE counts, SecureBoost histograms) come out one ciphertext per bin, and CRT
decryption costs ~2.7 ms per ciphertext at 2048 bits whatever it holds. The computing
party can shift ciphertexts homomorphically and add them (Horner's rule),

    Enc(P_0 + P_1 * 2^(kW) + P_2 * 2^(2kW) + ...) = ((c_2^(2^kW) * c_1)^(2^kW)) * c_0,

so that one plaintext carries the slots of g ciphertexts. A group costs about n_bits
modular squarings (~10 ms at 2048 bits) and saves g - 1 decryptions (g = 35 for 57-bit
slots at 2048 bits). The slot width is the declared one (PackingSpec), never derived
from data, so the packing metadata tells the key holder nothing new.

The result's randomness exponent is multiplied by up to 2^n_bits, so it is marked as
unknown and `paillier.rerandomize` obfuscates it with uniform r^n (phe's method): a few
ciphertexts per result, so the cost does not matter.

Many results (one ciphertext per row, as in evaluation/) make that ~10 ms per packed
ciphertext dominate. Then re-randomize the inputs instead (DJN flooding, ~0.1 ms each)
and pass `flooded=True`: each input's exponent is statistically independent of the
ciphertext it came from, and a combination of them with public shifts is a function
of those exponents only, so it hides which inputs it combined as well as they do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import gmpy2
from gmpy2 import mpz

from protocol.crypto import parallel
from protocol.crypto.fixedpoint import PackingSpec, plaintext_capacity_bits
from protocol.crypto.paillier_vector import CiphertextVector


def _horner(group: Sequence[mpz], shift: mpz, nsquare: mpz) -> mpz:
    acc = group[-1]
    for c in reversed(group[:-1]):
        acc = gmpy2.powmod(acc, shift, nsquare) * c % nsquare
    return acc


def compress(
    vec: CiphertextVector, *, max_summands: int | None = None, flooded: bool = False
) -> CiphertextVector:
    """Return the same values in as few ciphertexts as the key size allows.

    A packed vector keeps its slot width; an unpacked one gets slots for its declared
    value_bits with headroom for `max_summands` additions (required then, and checked
    against the values' tracked bound). The result must be re-randomized before it
    leaves the party, unless `flooded=True` says that `vec` itself was re-randomized
    after its last homomorphic operation (refused otherwise; see the module docstring).
    """
    if flooded and (vec.needs_rerandomization or vec.noise_bound is None):
        raise ValueError(
            "flooded=True needs inputs re-randomized by paillier.rerandomize (DJN"
            " flooding) after their last homomorphic operation"
        )
    enc = vec.encoding
    if enc.packing is None:
        if max_summands is None:
            raise ValueError("compressing an unpacked vector needs max_summands")
        slots = PackingSpec(enc.value_bits, 1, max_summands)
    else:
        slots = enc.packing
    if vec.magnitude_bound > slots.slot_capacity:
        raise ValueError(
            f"values may reach {vec.magnitude_bound.bit_length()} bits, more than the "
            f"{slots.slot_bits}-bit slots hold; declare a larger max_summands"
        )
    block_bits = slots.n_slots * slots.slot_bits
    per_group = plaintext_capacity_bits(vec.public_key.n_bits) // block_bits
    if per_group < 2:
        return vec
    spec = PackingSpec(slots.value_bits, slots.n_slots * per_group, slots.max_summands)
    nsquare = vec.public_key.nsquare
    shift = mpz(1) << block_bits
    cts = vec.ciphertexts
    starts = range(0, len(cts), per_group)
    packed = parallel.map_threads(
        lambda start: _horner(cts[start : start + per_group], shift, nsquare),
        [(start,) for start in starts],
    )
    return CiphertextVector(
        vec.public_key,
        packed,
        replace(enc, value_bits=spec.value_bits, packing=spec),
        magnitude_bound=vec.magnitude_bound,
        noise_bound=None,
        needs_rerandomization=not flooded,
    )
