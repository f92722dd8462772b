"""Wire forms of Paillier keys and ciphertext vectors: fixed layouts, no pickle.

Ciphertext vector (all integers big-endian):

    offset size  field
    0      4     magic b"DPCV"
    4      1     format version (1)
    5      1     flags: bit 0 = packed, bit 1 = randomness not from DJN (e.g. phe's r^n)
    6      32    SHA-256 fingerprint of the public key (paillier_keys)
    38     2     n_bits of the key
    40     2     ciphertext width W in bytes (= ceil(2 * n_bits / 8))
    42     2     fixed-point scale_bits
    44     2     value_bits (declared bound |v| < 2**value_bits per value or slot input)
    46     2     packing n_slots (0 when not packed)
    48     8     packing max_summands (0 when not packed)
    56     8     length: number of logical values
    64     8     count: number of ciphertexts
    72     W*count  ciphertexts, each W bytes

Only declared parameters travel: no running bounds, counts of additions or anything
else derived from data, so a reader tracks overflow from the declared value bound as for
fresh data (honest peers send fresh vectors or final results). The reader checks the
fingerprint against the key it expects and every ciphertext's range before any
arithmetic. Vectors holding homomorphic results are refused unless re-randomized (see
paillier.rerandomize); `allow_not_rerandomized=True` is for storage that stays inside
the party.

Public key: b"DPPK", version, n_bits (2 bytes), n (ceil(n_bits/8) bytes).
Private key: b"DPSK", version, n_bits, p, q (ceil(n_bits/16) bytes each), written
only with `include_secret_key=True` for the owner's own key store; never sent.
"""

from __future__ import annotations

import struct

from gmpy2 import mpz

from protocol.crypto import paillier_raw as raw
from protocol.crypto.fixedpoint import PackingSpec
from protocol.crypto.paillier_keys import PaillierPrivateKey, PaillierPublicKey
from protocol.crypto.paillier_vector import (
    WIRE_NOISE_BOUND,
    CiphertextVector,
    VectorEncoding,
)

FORMAT_VERSION = 1

_VECTOR_MAGIC = b"DPCV"
_PUBLIC_MAGIC = b"DPPK"
_SECRET_MAGIC = b"DPSK"
_VECTOR_HEADER = struct.Struct(">4sBB32sHHHHHQQQ")
_KEY_HEADER = struct.Struct(">4sBH")
_FLAG_PACKED = 0x01
# The encryptor's randomness is not a short DJN exponent (ciphertexts from phe): the
# receiver must re-randomize such results uniformly (paillier.rerandomize).
_FLAG_NON_DJN = 0x02


class WireFormatError(ValueError):
    """Bytes that are not a valid encoding of the expected object."""


def _check_header(magic: bytes, version: int, expected_magic: bytes, what: str) -> None:
    if magic != expected_magic:
        raise WireFormatError(f"not a {what}: bad magic {magic!r}")
    if version != FORMAT_VERSION:
        raise WireFormatError(f"unsupported {what} format version {version}")


def public_key_to_bytes(key: PaillierPublicKey) -> bytes:
    """Encode a public key."""
    header = _KEY_HEADER.pack(_PUBLIC_MAGIC, FORMAT_VERSION, key.n_bits)
    return header + key.n.to_bytes(key.n_bytes, "big")


def public_key_from_bytes(
    data: bytes, *, allow_insecure_test_key: bool = False
) -> PaillierPublicKey:
    """Decode a public key (short keys refused unless the test-only flag is set)."""
    if len(data) < _KEY_HEADER.size:
        raise WireFormatError("public key is truncated")
    magic, version, n_bits = _KEY_HEADER.unpack_from(data)
    _check_header(magic, version, _PUBLIC_MAGIC, "Paillier public key")
    body = data[_KEY_HEADER.size :]
    if len(body) != (n_bits + 7) // 8:
        raise WireFormatError(
            f"public key body has {len(body)} bytes for {n_bits} bits"
        )
    key = PaillierPublicKey(
        mpz.from_bytes(body, "big"), allow_insecure_test_key=allow_insecure_test_key
    )
    if key.n_bits != n_bits:
        raise WireFormatError(f"modulus has {key.n_bits} bits, header says {n_bits}")
    return key


def private_key_to_bytes(
    key: PaillierPrivateKey, *, include_secret_key: bool = False
) -> bytes:
    """Encode a private key for the owner's own storage (explicit opt-in)."""
    if not include_secret_key:
        raise ValueError(
            "refusing to serialize a Paillier secret key without "
            "include_secret_key=True"
        )
    n_bits = key.public_key.n_bits
    half = (n_bits + 15) // 16
    header = _KEY_HEADER.pack(_SECRET_MAGIC, FORMAT_VERSION, n_bits)
    return header + key.p.to_bytes(half, "big") + key.q.to_bytes(half, "big")


def private_key_from_bytes(
    data: bytes, *, allow_insecure_test_key: bool = False
) -> PaillierPrivateKey:
    """Decode a private key written by private_key_to_bytes."""
    if len(data) < _KEY_HEADER.size:
        raise WireFormatError("private key is truncated")
    magic, version, n_bits = _KEY_HEADER.unpack_from(data)
    _check_header(magic, version, _SECRET_MAGIC, "Paillier private key")
    half = (n_bits + 15) // 16
    body = data[_KEY_HEADER.size :]
    if len(body) != 2 * half:
        raise WireFormatError(
            f"private key body has {len(body)} bytes for {n_bits} bits"
        )
    p = mpz.from_bytes(body[:half], "big")
    q = mpz.from_bytes(body[half:], "big")
    public = PaillierPublicKey(p * q, allow_insecure_test_key=allow_insecure_test_key)
    return PaillierPrivateKey(public, p, q)


def vector_to_bytes(
    vec: CiphertextVector, *, allow_not_rerandomized: bool = False
) -> bytes:
    """Encode a ciphertext vector; refuses homomorphic results not yet re-randomized."""
    if vec.needs_rerandomization and not allow_not_rerandomized:
        raise ValueError(
            "the vector holds homomorphic results that were not re-randomized; call "
            "rerandomize() before it leaves this party"
        )
    key, enc = vec.public_key, vec.encoding
    packing = enc.packing
    header = _VECTOR_HEADER.pack(
        _VECTOR_MAGIC,
        FORMAT_VERSION,
        (_FLAG_PACKED if packing else 0)
        | (_FLAG_NON_DJN if vec.noise_bound is None else 0),
        key.fingerprint,
        key.n_bits,
        key.ciphertext_width,
        enc.scale_bits,
        enc.value_bits,
        packing.n_slots if packing else 0,
        packing.max_summands if packing else 0,
        enc.length,
        len(vec.ciphertexts),
    )
    return header + raw.to_fixed_bytes(vec.ciphertexts, key.ciphertext_width)


def vector_wire_bytes(public_key: PaillierPublicKey, count: int) -> int:
    """Size of the wire form of `count` ciphertexts under `public_key`: what a
    receiver that knows the count expects, before reading any of it."""
    return _VECTOR_HEADER.size + count * public_key.ciphertext_width


def vector_from_bytes(data: bytes, public_key: PaillierPublicKey) -> CiphertextVector:
    """Decode a ciphertext vector that must be encrypted under `public_key`."""
    if len(data) < _VECTOR_HEADER.size:
        raise WireFormatError("ciphertext vector is truncated")
    (
        magic,
        version,
        flags,
        fingerprint,
        n_bits,
        width,
        scale_bits,
        value_bits,
        n_slots,
        max_summands,
        length,
        count,
    ) = _VECTOR_HEADER.unpack_from(data)
    _check_header(magic, version, _VECTOR_MAGIC, "Paillier ciphertext vector")
    if fingerprint != public_key.fingerprint:
        raise WireFormatError("ciphertext vector is encrypted under a different key")
    if n_bits != public_key.n_bits or width != public_key.ciphertext_width:
        raise WireFormatError(f"key size {n_bits} / width {width} do not match the key")
    if flags & ~(_FLAG_PACKED | _FLAG_NON_DJN):
        raise WireFormatError(f"unknown flags {flags:#x}")
    packing = None
    if flags & _FLAG_PACKED:
        try:
            packing = PackingSpec(value_bits, n_slots, max_summands)
            packing.check_fits(n_bits)
        except ValueError as exc:
            raise WireFormatError(f"invalid packing: {exc}") from exc
    elif n_slots or max_summands:
        raise WireFormatError("packing fields set on an unpacked vector")
    encoding = VectorEncoding(length, scale_bits, value_bits, packing)
    if count != encoding.n_ciphertexts:
        raise WireFormatError(f"{count} ciphertexts for {length} values")
    body = memoryview(data)[_VECTOR_HEADER.size :]
    if len(body) != count * width:
        raise WireFormatError(
            f"payload has {len(body)} bytes, expected {count * width}"
        )
    ciphertexts = raw.from_fixed_bytes(body, width)
    nsquare = public_key.nsquare
    for index, c in enumerate(ciphertexts):
        if not 0 < c < nsquare:
            raise WireFormatError(f"ciphertext {index} is outside (0, n^2)")
    try:
        noise = None if flags & _FLAG_NON_DJN else WIRE_NOISE_BOUND
        return CiphertextVector(public_key, ciphertexts, encoding, noise_bound=noise)
    except (ValueError, OverflowError) as exc:
        raise WireFormatError(f"invalid encoding: {exc}") from exc
