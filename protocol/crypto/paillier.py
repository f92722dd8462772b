"""Paillier ciphertext vectors: encryption, decryption, homomorphic ops, re-randomizing.

Operations take and return CiphertextVector (paillier_vector): raw gmpy2 ciphertexts
with their encoding and local overflow bounds, no per-value objects. phe interop is in
phe_interop, wire forms are in wire.

Who may call what:
- anyone with the public key: `encrypt_vector`, homomorphic operations, `rerandomize`;
- the key owner only: `owner_encrypt_vector` (CRT, faster) and `decrypt_*`.

Re-randomization. Results of homomorphic work (sums, scalar products, plaintext
additions, even a product with 0) must be re-randomized before they leave the party:
otherwise the key holder, who knows its own ciphertexts, can test which of them went
into a sum. Vectors remember this (`needs_rerandomization`) and the wire encoder refuses
them. The fresh exponent is 40 bits longer than the accumulated one, so the result is
statistically independent of which inputs were combined, even for the key holder (see
paillier_raw). This assumes inputs were encrypted by this module (DJN randomness); for
ciphertexts from other encryptors (phe's r^n) pass `uniform=True`, which multiplies by
r^n with r uniform in Z_n* like phe's obfuscate(), at phe's cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import gmpy2
import numpy as np
import numpy.typing as npt
from gmpy2 import mpz

from protocol.crypto import paillier_raw as raw
from protocol.crypto import parallel
from protocol.crypto.fixedpoint import (
    FixedPointCodec,
    PackingSpec,
    decode_fixed_point,
)
from protocol.crypto.paillier_keys import PaillierPrivateKey, PaillierPublicKey
from protocol.crypto.paillier_vector import (
    CiphertextVector,
    VectorEncoding,
    make_encoding,
    noise_sum,
    noise_times,
)

__all__ = [
    "CiphertextVector",
    "VectorEncoding",
    "add",
    "add_plain",
    "concatenate",
    "decrypt_ints",
    "decrypt_packed",
    "decrypt_vector",
    "encrypt_floats",
    "encrypt_packed",
    "encrypt_vector",
    "mul_plain",
    "mul_scalar",
    "owner_encrypt_floats",
    "owner_encrypt_vector",
    "rerandomize",
    "sum_all",
    "sum_groups",
    "warm_up",
]

# Below these sizes the pools cost more than they save.
_MIN_CHUNK_ENCRYPT = 8
_MIN_CHUNK_DECRYPT = 4
_MIN_CHUNK_MULMOD = 256
_MIN_CHUNK_POWMOD = 64


def _chunks(count: int, min_size: int) -> list[tuple[int, int]]:
    return parallel.split_ranges(count, 4 * parallel.worker_count(), min_size)


def _plaintexts(
    n_bits: int,
    ints: Sequence[int] | npt.ArrayLike,
    encoding_value_bits: int,
    packing: PackingSpec | None,
) -> tuple[list[int], int]:
    """Check bounds and return (plaintext integers, number of values)."""
    values = [int(v) for v in np.asarray(ints, dtype=object).ravel()]
    if packing is not None:
        packing.check_fits(n_bits)
        return packing.pack(values), len(values)
    bound = (1 << encoding_value_bits) - 1
    for index, v in enumerate(values):
        if not -bound <= v <= bound:
            raise OverflowError(
                f"value at index {index} exceeds the declared bound "
                f"+-(2**{encoding_value_bits} - 1)"
            )
    return values, len(values)


def _encrypt(
    public_key: PaillierPublicKey,
    ints: Sequence[int] | npt.ArrayLike,
    scale_bits: int,
    value_bits: int | None,
    packing: PackingSpec | None,
    owner: tuple[int, int],
) -> CiphertextVector:
    n_bits = public_key.n_bits
    probe = make_encoding(n_bits, 0, scale_bits, value_bits, packing)
    plaintexts, length = _plaintexts(n_bits, ints, probe.value_bits, packing)
    encoding = replace(probe, length=length)
    n, width = int(public_key.n), public_key.ciphertext_width
    tasks = [
        (n, plaintexts[a:b], raw.DJN_EXPONENT_BITS, width, owner)
        for a, b in _chunks(len(plaintexts), _MIN_CHUNK_ENCRYPT)
    ]
    blobs = parallel.map_processes(raw.encrypt_chunk, tasks)
    ciphertexts = [c for blob in blobs for c in raw.from_fixed_bytes(blob, width)]
    return CiphertextVector(public_key, ciphertexts, encoding)


def encrypt_vector(
    public_key: PaillierPublicKey,
    ints: Sequence[int] | npt.ArrayLike,
    *,
    scale_bits: int = 0,
    value_bits: int | None = None,
    packing: PackingSpec | None = None,
) -> CiphertextVector:
    """Encrypt fixed-point integers (|v| < 2**value_bits) with the public key.

    `scale_bits` is metadata: the integers already carry the scale (FixedPointCodec).
    With `packing`, values are packed into slots first and value_bits is the spec's.
    """
    return _encrypt(public_key, ints, scale_bits, value_bits, packing, (0, 0))


def owner_encrypt_vector(
    private_key: PaillierPrivateKey,
    ints: Sequence[int] | npt.ArrayLike,
    *,
    scale_bits: int = 0,
    value_bits: int | None = None,
    packing: PackingSpec | None = None,
) -> CiphertextVector:
    """Like encrypt_vector, for the key owner: CRT mod p^2 and q^2, same output."""
    owner = (int(private_key.p), int(private_key.q))
    return _encrypt(
        private_key.public_key, ints, scale_bits, value_bits, packing, owner
    )


def encrypt_floats(
    public_key: PaillierPublicKey,
    values: npt.ArrayLike,
    codec: FixedPointCodec,
    *,
    packing: PackingSpec | None = None,
) -> CiphertextVector:
    """Encode floats with `codec` and encrypt them with the public key."""
    return encrypt_vector(
        public_key,
        codec.encode(values),
        scale_bits=codec.scale_bits,
        value_bits=None if packing else codec.value_bits,
        packing=packing,
    )


def owner_encrypt_floats(
    private_key: PaillierPrivateKey,
    values: npt.ArrayLike,
    codec: FixedPointCodec,
    *,
    packing: PackingSpec | None = None,
) -> CiphertextVector:
    """Encode floats with `codec` and encrypt them with the owner's CRT path."""
    return owner_encrypt_vector(
        private_key,
        codec.encode(values),
        scale_bits=codec.scale_bits,
        value_bits=None if packing else codec.value_bits,
        packing=packing,
    )


def encrypt_packed(
    public_key: PaillierPublicKey,
    ints: Sequence[int] | npt.ArrayLike,
    spec: PackingSpec,
    *,
    scale_bits: int = 0,
) -> CiphertextVector:
    """Pack integers by `spec` and encrypt the plaintexts."""
    return encrypt_vector(public_key, ints, scale_bits=scale_bits, packing=spec)


def _check_owner(private_key: PaillierPrivateKey, vec: CiphertextVector) -> None:
    if private_key.public_key != vec.public_key:
        raise ValueError("the vector was encrypted under a different public key")


def decrypt_ints(private_key: PaillierPrivateKey, vec: CiphertextVector) -> list[int]:
    """Return the signed fixed-point integers (slots unpacked), exactly."""
    _check_owner(private_key, vec)
    p, q = int(private_key.p), int(private_key.q)
    raw.owner_context(p, q)  # build once here, not racily in the threads
    cts = vec.ciphertexts
    parts = parallel.map_threads(
        lambda a, b: raw.decrypt_ciphertexts(p, q, cts[a:b]),
        _chunks(len(cts), _MIN_CHUNK_DECRYPT),
    )
    n = int(private_key.public_key.n)
    signed = [raw.to_signed(m, n) for part in parts for m in part]
    packing = vec.encoding.packing
    if packing is not None:
        return packing.unpack(signed, vec.encoding.length)
    return signed


def decrypt_packed(private_key: PaillierPrivateKey, vec: CiphertextVector) -> list[int]:
    """Decrypt a packed vector into its slot values (overflow-checked)."""
    if vec.encoding.packing is None:
        raise ValueError("vector is not packed")
    return decrypt_ints(private_key, vec)


def decrypt_vector(
    private_key: PaillierPrivateKey, vec: CiphertextVector
) -> npt.NDArray[np.float64]:
    """Decrypt and decode to floats at the vector's fixed-point scale."""
    ints = decrypt_ints(private_key, vec)
    return decode_fixed_point(np.array(ints, dtype=object), vec.encoding.scale_bits)


def _check_compatible(a: CiphertextVector, b: CiphertextVector) -> None:
    if a.public_key != b.public_key:
        raise ValueError("vectors are encrypted under different public keys")
    if a.encoding != b.encoding:
        raise ValueError(
            f"vectors have different encodings: {a.encoding} and {b.encoding}"
        )


def _threaded_mulmod(a: Sequence[mpz], b: Sequence[mpz], nsquare: mpz) -> list[mpz]:
    parts = parallel.map_threads(
        lambda lo, hi: raw.add_ciphertexts(a[lo:hi], b[lo:hi], nsquare),
        _chunks(len(a), _MIN_CHUNK_MULMOD),
    )
    return [c for part in parts for c in part]


def add(a: CiphertextVector, b: CiphertextVector) -> CiphertextVector:
    """Elementwise (slotwise) sum of two vectors with the same key and encoding."""
    _check_compatible(a, b)
    cts = _threaded_mulmod(a.ciphertexts, b.ciphertexts, a.public_key.nsquare)
    return a._derived(
        cts,
        magnitude_bound=a.magnitude_bound + b.magnitude_bound,
        noise_bound=noise_sum(a.noise_bound, b.noise_bound),
    )


def add_plain(
    a: CiphertextVector, ints: Sequence[int] | npt.ArrayLike
) -> CiphertextVector:
    """Add plaintext fixed-point integers at the vector's scale (and packing)."""
    enc = a.encoding
    plaintexts, length = _plaintexts(
        a.public_key.n_bits, ints, enc.value_bits, enc.packing
    )
    if length != enc.length:
        raise ValueError(f"plaintext has {length} values, vector has {enc.length}")
    pub = a.public_key
    encoded = [1 + (p % pub.n) * pub.n for p in plaintexts]  # (n+1)^p mod n^2
    cts = _threaded_mulmod(a.ciphertexts, encoded, pub.nsquare)
    return a._derived(
        cts,
        magnitude_bound=a.magnitude_bound + enc.fresh_magnitude(),
        noise_bound=a.noise_bound,
    )


def mul_scalar(
    a: CiphertextVector, scalar: int, *, scale_bits: int = 0
) -> CiphertextVector:
    """Multiply every value (every slot) by one integer; the scale adds `scale_bits`."""
    return _mul(a, [int(scalar)] * len(a.ciphertexts), abs(int(scalar)), scale_bits)


def mul_plain(
    a: CiphertextVector, ints: Sequence[int] | npt.ArrayLike, *, scale_bits: int = 0
) -> CiphertextVector:
    """Elementwise product with plaintext integers (unpacked vectors only)."""
    if a.encoding.packing is not None:
        raise ValueError("mul_plain multiplies values one by one; the vector is packed")
    scalars = [int(v) for v in np.asarray(ints, dtype=object).ravel()]
    if len(scalars) != len(a):
        raise ValueError(f"plaintext has {len(scalars)} values, vector has {len(a)}")
    return _mul(a, scalars, max((abs(k) for k in scalars), default=0), scale_bits)


def _mul(
    a: CiphertextVector, scalars: list[int], max_abs: int, scale_bits: int
) -> CiphertextVector:
    nsquare = a.public_key.nsquare
    cts = a.ciphertexts
    parts = parallel.map_threads(
        lambda lo, hi: raw.mul_scalars(cts[lo:hi], scalars[lo:hi], nsquare),
        _chunks(len(cts), _MIN_CHUNK_POWMOD),
    )
    encoding = replace(a.encoding, scale_bits=a.encoding.scale_bits + scale_bits)
    return a._derived(
        [c for part in parts for c in part],
        magnitude_bound=a.magnitude_bound * max_abs,
        noise_bound=noise_times(a.noise_bound, max_abs),
        encoding=encoding,
    )


def sum_groups(
    a: CiphertextVector, groups: npt.ArrayLike, n_groups: int
) -> CiphertextVector:
    """Per-group sums of ciphertexts (histogram bins): out[g] = sum of rows in group g.

    `groups[i]` is the group of ciphertext i (for packed vectors, of plaintext i, so
    each ciphertext should hold one row's slots); negative groups are skipped. The
    result has n_groups ciphertexts with the same packing.
    """
    group_ids = np.asarray(groups, dtype=np.int64).ravel()
    if len(group_ids) != len(a.ciphertexts):
        raise ValueError(
            f"{len(group_ids)} group ids for {len(a.ciphertexts)} ciphertexts"
        )
    counts = np.bincount(group_ids[group_ids >= 0], minlength=n_groups)[:n_groups]
    largest = int(counts.max()) if n_groups else 0
    nsquare = a.public_key.nsquare
    cts = a.ciphertexts
    ids = group_ids.tolist()
    parts = parallel.map_threads(
        lambda lo, hi: raw.grouped_products(cts[lo:hi], ids[lo:hi], n_groups, nsquare),
        _chunks(len(cts), _MIN_CHUNK_MULMOD),
    )
    sums = (
        parts[0]
        if len(parts) == 1
        else [raw.product(col, nsquare) for col in zip(*parts, strict=True)]
    )
    packing = a.encoding.packing
    length = n_groups * packing.n_slots if packing else n_groups
    return a._derived(
        sums,
        magnitude_bound=a.magnitude_bound * largest,
        noise_bound=noise_times(a.noise_bound, largest),
        encoding=replace(a.encoding, length=length),
    )


def concatenate(vectors: Sequence[CiphertextVector]) -> CiphertextVector:
    """One vector holding the ciphertexts of `vectors` in order (same key, same
    encoding apart from length); e.g. per-feature bin sums re-randomized together.

    Packed inputs keep their ciphertext boundaries: the result's length counts every
    slot, so the zero padding of a partly filled last plaintext stays in place."""
    if not vectors:
        raise ValueError("nothing to concatenate")
    first = vectors[0]
    for vec in vectors[1:]:
        if vec.public_key != first.public_key:
            raise ValueError("vectors are under different keys")
        if replace(vec.encoding, length=0) != replace(first.encoding, length=0):
            raise ValueError("vectors have different encodings")
    packing = first.encoding.packing
    length = sum(
        len(v.ciphertexts) * (packing.n_slots if packing else 1) for v in vectors
    )
    noise = [v.noise_bound for v in vectors]
    return CiphertextVector(
        first.public_key,
        [c for v in vectors for c in v.ciphertexts],
        replace(first.encoding, length=length),
        magnitude_bound=max(v.magnitude_bound for v in vectors),
        noise_bound=None if None in noise else max(n for n in noise if n is not None),
        needs_rerandomization=any(v.needs_rerandomization for v in vectors),
    )


def sum_all(a: CiphertextVector) -> CiphertextVector:
    """Sum of all ciphertexts: one value (packed: one plaintext of slotwise sums)."""
    return sum_groups(a, np.zeros(len(a.ciphertexts), dtype=np.int64), 1)


def rerandomize(
    a: CiphertextVector, *, uniform: bool = False, extra_bits: int = 0
) -> CiphertextVector:
    """Same plaintexts under fresh randomness: safe to send to the key holder.

    The fresh exponent has STATISTICAL_SECURITY_BITS (+ `extra_bits`) more bits than
    the accumulated randomness bound, so each result hides which inputs it came from
    (distance <= 2^-(40 + extra_bits) per ciphertext; a protocol that sends 2^k of them
    in one transcript passes extra_bits=k to keep the whole transcript within 2^-40).
    `uniform=True` multiplies by r^n with r uniform (phe's obfuscation, ~60x slower); it
    is also used whenever the inputs' randomness is unknown (vectors from phe).
    """
    if extra_bits < 0:
        raise ValueError(f"extra_bits must be >= 0, got {extra_bits}")
    pub = a.public_key
    noise: int | None
    if uniform or a.noise_bound is None:
        cts = a.ciphertexts
        parts = parallel.map_threads(
            lambda lo, hi: _uniform_obfuscation(pub, cts[lo:hi]),
            _chunks(len(cts), _MIN_CHUNK_DECRYPT),
        )
        fresh = [c for part in parts for c in part]
        noise = None
    else:
        bits = max(
            raw.DJN_EXPONENT_BITS,
            a.noise_bound.bit_length() + raw.STATISTICAL_SECURITY_BITS + extra_bits,
        )
        width = pub.ciphertext_width
        tasks = [
            (int(pub.n), raw.to_fixed_bytes(a.ciphertexts[lo:hi], width), bits, width)
            for lo, hi in _chunks(len(a.ciphertexts), _MIN_CHUNK_ENCRYPT)
        ]
        blobs = parallel.map_processes(raw.rerandomize_chunk, tasks)
        fresh = [c for blob in blobs for c in raw.from_fixed_bytes(blob, width)]
        noise = a.noise_bound + (1 << bits) - 1
    return CiphertextVector(
        pub, fresh, a.encoding, magnitude_bound=a.magnitude_bound, noise_bound=noise
    )


def _uniform_obfuscation(pub: PaillierPublicKey, cts: Sequence[mpz]) -> list[mpz]:
    n, nsquare = pub.n, pub.nsquare
    r_values = raw.random_exponents(pub.n_bits + 64, len(cts))
    return [
        c * gmpy2.powmod(r % n, n, nsquare) % nsquare
        for c, r in zip(cts, r_values, strict=True)
    ]


def warm_up(
    key: PaillierPublicKey | PaillierPrivateKey, *, rerandomize_bits: int = 0
) -> None:
    """Build the encryption tables in every worker now (they are ~0.5 s per key)."""
    bits = max(raw.DJN_EXPONENT_BITS, rerandomize_bits)
    if isinstance(key, PaillierPrivateKey):
        args = (int(key.public_key.n), bits, (int(key.p), int(key.q)))
    else:
        args = (int(key.n), bits, (0, 0))
    pool = parallel.process_pool()
    if pool is None:
        raw.warm_up(*args)
    else:
        pool.broadcast(raw.warm_up, args)
