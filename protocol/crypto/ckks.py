"""CKKS on TenSEAL: 128-bit presets, public contexts, vectors, masking and flooding.

Contexts without secret keys for the peer, chunked vectors, plaintext dot and matrix
products, and the two helpers that keep decryptions from leaking the key.

Who holds what: the key owner creates a CkksContext (secret key inside) and sends
`public_bytes()` (public, relinearization and Galois keys, no secret key) to the peer,
which encrypts and computes but cannot decrypt (TenSEAL raises).

Decryptions never reach the peer raw. CKKS is not IND-CPA-D secure (Li, Micciancio,
"On the security of homomorphic encryption on approximate numbers", EUROCRYPT 2021): a
decrypted value carries the scheme's error, which is a function of the secret key, and a
peer that knows the exact plaintext learns that error, hence linear equations in the
key. So every protocol uses two helpers:
- `mask_for_decryption` (computing party): adds a fresh uniform mask in
  [-B 2^h, B 2^h] to every slot, hidden ones included (B = declared bound on |value|;
  TenSEAL hides slots beyond a vector's size, but after `dot` they hold partial sums the
  key owner can decode, see ckks_seal), keeps the mask, and sends the masked
  ciphertext; the key owner sees value + mask, whose distribution is within statistical
  distance 2^-h of the mask's alone (smudging lemma). The mask must fit the
  ciphertext's remaining modulus and costs precision in the owner's float64 decoding:
  resolution ~ B * 2^(h - 52). Default h = 30.
- `decrypt_with_flooding` (key owner): adds uniform noise in [-2^lambda E, 2^lambda E]
  to every decrypted slot, E = the preset's bound on the CKKS error. By the smudging
  lemma (Asharov et al., EUROCRYPT 2012) the noisy result is within statistical
  distance 2^-lambda of one that does not depend on the error, so it says nothing about
  the secret key. The cost is precision: the returned values are accurate to
  ~2^lambda E (table below). lambda is a required argument because the right trade-off
  depends on how many decryptions a protocol makes and how much precision it can spare.

    preset   N      log q  depth  scale  E       noise at lambda = 10 / 16 / 20 / 30
    FAST     8192   200    2      2^40   2^-16   2^-6   / 2^0   / 2^4   / 2^14
    PRECISE  8192   218    2      2^49   2^-23   2^-13  / 2^-7  / 2^-3  / 2^7
    DEEP     16384  420    6      2^50   2^-21   2^-11  / 2^-5  / 2^-1  / 2^9

E is the largest error measured over 5 trials of a plaintext product followed by a sum
of all N/2 slots (the heaviest step of a dot product or matrix product) with
|x|, |w| <= 1, times 4; pass `error_bound` for other circuits. With TenSEAL's 60-bit
primes and float64 decoding, 40-bit flooding at useful precision is out of reach:
protocols that must return exact values to the peer should use Paillier.

Security parameters: log q stays within the HomomorphicEncryption.org Security Standard
(Albrecht et al., 2018, Table 1: 128-bit classical security, ternary secrets) maximum
for each ring dimension, which SEAL also enforces: N=4096 -> 109, 8192 -> 218,
16384 -> 438, 32768 -> 881 bits.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import tenseal as ts

from protocol.crypto.ckks_seal import add_to_every_slot, add_to_every_slot_bytes

# HomomorphicEncryption.org standard, Table 1, 128-bit classical: ring dim -> max log q.
HE_STANDARD_MAX_LOG_Q_128 = {4096: 109, 8192: 218, 16384: 438, 32768: 881}

DEFAULT_MASK_HIDING_BITS = 30
FLOAT64_MANTISSA_BITS = 53


@dataclass(frozen=True)
class CkksPreset:
    """CKKS parameters and their measured error bound (see module docstring)."""

    name: str
    poly_modulus_degree: int
    coeff_mod_bit_sizes: tuple[int, ...]
    scale_bits: int
    error_bound: float

    def __post_init__(self) -> None:
        limit = HE_STANDARD_MAX_LOG_Q_128.get(self.poly_modulus_degree)
        if limit is None or sum(self.coeff_mod_bit_sizes) > limit:
            raise ValueError(
                f"preset {self.name}: log q = {sum(self.coeff_mod_bit_sizes)} exceeds "
                f"the 128-bit bound {limit} for N = {self.poly_modulus_degree}"
            )

    @property
    def slots(self) -> int:
        return self.poly_modulus_degree // 2


# Depth = number of primes between the first and the special (last) prime.
FAST = CkksPreset("FAST", 8192, (60, 40, 40, 60), 40, 2.0**-16)
PRECISE = CkksPreset("PRECISE", 8192, (60, 49, 49, 60), 49, 2.0**-23)
DEEP = CkksPreset("DEEP", 16384, (60, 50, 50, 50, 50, 50, 50, 60), 50, 2.0**-21)
PRESETS = {preset.name: preset for preset in (FAST, PRECISE, DEEP)}

_CONTEXT_MAGIC = b"DCKC"
_VECTOR_MAGIC = b"DCKV"
_FORMAT_VERSION = 1
_CONTEXT_HEADER = struct.Struct(">4sBB16s")
_VECTOR_HEADER = struct.Struct(">4sBQI")
_CHUNK_LENGTH = struct.Struct(">Q")


def secure_uniform(bound: float, count: int) -> npt.NDArray[np.float64]:
    """Uniform floats in [-bound, bound] from the OS CSPRNG (masks must be secret)."""
    words = np.frombuffer(os.urandom(8 * count), dtype=np.uint64)
    unit = (words >> np.uint64(11)).astype(np.float64) * 2.0**-53  # [0, 1)
    return (2.0 * unit - 1.0) * bound


class CkksContext:
    """A TenSEAL CKKS context plus its preset; private iff it holds the secret key."""

    __slots__ = ("_context", "preset")

    def __init__(self, context: ts.Context, preset: CkksPreset):
        self._context = context
        self.preset = preset

    @classmethod
    def create(
        cls, preset: CkksPreset = FAST, *, galois_keys: bool = True
    ) -> CkksContext:
        """New key pair with relinearization and, unless turned off, Galois (rotation)
        keys. Protocols that never rotate pass galois_keys=False: the public context
        shrinks from ~35 MB to ~2 MB at N = 8192."""
        context = ts.context(
            ts.SCHEME_TYPE.CKKS,
            poly_modulus_degree=preset.poly_modulus_degree,
            coeff_mod_bit_sizes=list(preset.coeff_mod_bit_sizes),
        )
        context.global_scale = 2.0**preset.scale_bits
        if galois_keys:
            context.generate_galois_keys()
        return cls(context, preset)

    @property
    def is_private(self) -> bool:
        return bool(self._context.is_private())

    @property
    def tenseal_context(self) -> ts.Context:
        return self._context

    def _to_bytes(self, save_secret_key: bool) -> bytes:
        name = self.preset.name.encode().ljust(16, b"\0")
        header = _CONTEXT_HEADER.pack(
            _CONTEXT_MAGIC, _FORMAT_VERSION, int(save_secret_key), name
        )
        return header + self._context.serialize(save_secret_key=save_secret_key)

    def public_bytes(self) -> bytes:
        """The context for the peer: public, relinearization, Galois keys; no secret."""
        return self._to_bytes(save_secret_key=False)

    def secret_bytes(self, *, include_secret_key: bool = False) -> bytes:
        """The full context, for the owner's own storage only (explicit opt-in)."""
        if not include_secret_key:
            raise ValueError(
                "refusing to serialize a CKKS secret key without "
                "include_secret_key=True"
            )
        return self._to_bytes(save_secret_key=True)

    @classmethod
    def from_bytes(cls, data: bytes, *, allow_secret_key: bool = False) -> CkksContext:
        """Load a context; one carrying a secret key needs `allow_secret_key=True`."""
        if len(data) < _CONTEXT_HEADER.size:
            raise ValueError("CKKS context is truncated")
        magic, version, has_secret, name = _CONTEXT_HEADER.unpack_from(data)
        if magic != _CONTEXT_MAGIC or version != _FORMAT_VERSION:
            raise ValueError("not a CKKS context in format version 1")
        preset_name = name.rstrip(b"\0").decode(errors="replace")
        preset = PRESETS.get(preset_name)
        if preset is None:
            raise ValueError(f"unknown CKKS preset {preset_name!r}")
        if has_secret and not allow_secret_key:
            raise ValueError("the CKKS context carries a secret key")
        try:
            context = ts.context_from(data[_CONTEXT_HEADER.size :])
        except (RuntimeError, ValueError) as exc:  # TenSEAL's and SEAL's parse errors
            raise ValueError(f"the CKKS context does not parse: {exc}") from None
        if context.is_private() and not allow_secret_key:
            raise ValueError("the CKKS context carries a secret key")
        if context.global_scale != 2.0**preset.scale_bits:
            raise ValueError("the CKKS context's scale does not match its preset")
        return cls(context, preset)

    def public_copy(self) -> CkksContext:
        """A copy without the secret key (TenSEAL's make_context_public)."""
        context = self._context.copy()
        context.make_context_public()
        return CkksContext(context, self.preset)

    def encrypt(self, values: npt.ArrayLike) -> CkksVector:
        """Encrypt a 1-D float array, in chunks of N/2 slots."""
        x = np.asarray(values, dtype=np.float64).ravel()
        slots = self.preset.slots
        chunks = [
            ts.ckks_vector(self._context, x[start : start + slots].tolist())
            for start in range(0, max(len(x), 1), slots)
        ]
        return CkksVector(self, chunks, len(x))

    def decrypt(self, vec: CkksVector) -> npt.NDArray[np.float64]:
        """Raw decryption for the owner's own use. Never send the result to the peer:
        use decrypt_with_flooding for anything that leaves the party."""
        if not self.is_private:
            raise ValueError("this CKKS context has no secret key and cannot decrypt")
        parts = [chunk.decrypt() for chunk in vec.chunks]
        return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts])[
            : vec.length
        ]

    def vector_from_bytes(self, data: bytes) -> CkksVector:
        """Load a vector serialized by CkksVector.to_bytes under this context."""
        if len(data) < _VECTOR_HEADER.size:
            raise ValueError("CKKS vector is truncated")
        magic, version, length, n_chunks = _VECTOR_HEADER.unpack_from(data)
        if magic != _VECTOR_MAGIC or version != _FORMAT_VERSION:
            raise ValueError("not a CKKS vector in format version 1")
        offset = _VECTOR_HEADER.size
        chunks = []
        for _ in range(n_chunks):
            (size,) = _CHUNK_LENGTH.unpack_from(data, offset)
            offset += _CHUNK_LENGTH.size
            chunks.append(
                ts.ckks_vector_from(self._context, data[offset : offset + size])
            )
            offset += size
        if offset != len(data):
            raise ValueError("trailing bytes after the CKKS vector")
        if n_chunks != -(-max(length, 1) // self.preset.slots):
            raise ValueError(f"{n_chunks} chunks for {length} values")
        return CkksVector(self, chunks, length)


class CkksVector:
    """An encrypted float vector: TenSEAL CKKS vectors of up to N/2 slots each."""

    __slots__ = ("chunks", "context", "length")

    def __init__(self, context: CkksContext, chunks: list[ts.CKKSVector], length: int):
        self.context = context
        self.chunks = chunks
        self.length = length

    def __len__(self) -> int:
        return self.length

    def _split(self, plain: npt.NDArray[np.float64]) -> list[list[float]]:
        slots = self.context.preset.slots
        return [
            plain[i * slots : (i + 1) * slots].tolist() for i in range(len(self.chunks))
        ]

    def _plain(self, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
        x = np.asarray(values, dtype=np.float64).ravel()
        if len(x) != self.length:
            raise ValueError(f"plaintext has {len(x)} values, vector has {self.length}")
        return x

    def add(self, other: CkksVector) -> CkksVector:
        if other.length != self.length:
            raise ValueError(f"lengths differ: {self.length} and {other.length}")
        chunks = [a + b for a, b in zip(self.chunks, other.chunks, strict=True)]
        return CkksVector(self.context, chunks, self.length)

    def add_plain(self, values: npt.ArrayLike) -> CkksVector:
        parts = self._split(self._plain(values))
        chunks = [c + p for c, p in zip(self.chunks, parts, strict=True)]
        return CkksVector(self.context, chunks, self.length)

    def mul_plain(self, values: npt.ArrayLike) -> CkksVector:
        parts = self._split(self._plain(values))
        chunks = [c * p for c, p in zip(self.chunks, parts, strict=True)]
        return CkksVector(self.context, chunks, self.length)

    def dot(self, weights: npt.ArrayLike) -> CkksVector:
        """Encrypted <x, w> with plaintext w (one slot)."""
        parts = self._split(self._plain(weights))
        total = self.chunks[0].dot(parts[0])
        for chunk, part in zip(self.chunks[1:], parts[1:], strict=True):
            total += chunk.dot(part)
        return CkksVector(self.context, [total], 1)

    def matmul(self, matrix: npt.ArrayLike) -> CkksVector:
        """Encrypted x @ M with plaintext M of shape (len(x), m); m <= N/2."""
        m = np.asarray(matrix, dtype=np.float64)
        if m.ndim != 2 or m.shape[0] != self.length:
            raise ValueError(
                f"matrix shape {m.shape} does not match length {self.length}"
            )
        if m.shape[1] > self.context.preset.slots:
            raise ValueError(
                f"matrix has more than {self.context.preset.slots} columns"
            )
        slots = self.context.preset.slots
        total = None
        for i, chunk in enumerate(self.chunks):
            product = chunk.matmul(m[i * slots : (i + 1) * slots].tolist())
            total = product if total is None else total + product
        assert total is not None
        return CkksVector(self.context, [total], m.shape[1])

    def modulus_bits(self) -> int:
        """Bits of the ciphertext modulus at its current level (the mask headroom)."""
        primes = self.chunks[0].ciphertext()[0].coeff_modulus_size()
        return sum(self.context.preset.coeff_mod_bit_sizes[:primes])

    def to_bytes(self) -> bytes:
        """Serialize (TenSEAL's ciphertext bytes per chunk, behind a small header)."""
        parts = [
            _VECTOR_HEADER.pack(
                _VECTOR_MAGIC, _FORMAT_VERSION, self.length, len(self.chunks)
            )
        ]
        for chunk in self.chunks:
            blob = chunk.serialize()
            parts.append(_CHUNK_LENGTH.pack(len(blob)))
            parts.append(blob)
        return b"".join(parts)


def mask_for_decryption(
    vec: CkksVector,
    *,
    value_bound: float,
    hiding_bits: int = DEFAULT_MASK_HIDING_BITS,
) -> tuple[CkksVector, npt.NDArray[np.float64]]:
    """Add a uniform mask in [-value_bound 2^h, value_bound 2^h] to every slot.

    Every slot means all N/2 slots of each ciphertext, not only the vector's visible
    ones: after `dot` the hidden slots hold partial sums the key holder could decode
    (ckks_seal). Returns the masked vector (send it for decryption) and the mask of the
    visible slots (keep it; subtract it from what comes back). Raises if the mask would
    not fit the remaining modulus.
    """
    if value_bound <= 0:
        raise ValueError("value_bound must be positive")
    bound = value_bound * 2.0**hiding_bits
    needed = int(np.ceil(np.log2(bound))) + 2  # sign and the value itself
    headroom = vec.modulus_bits() - vec.context.preset.scale_bits
    if needed > headroom:
        raise ValueError(
            f"a mask of 2^{needed - 2} needs {needed} bits but the ciphertext has "
            f"{headroom} bits of headroom left; mask before the last rescale or lower "
            f"hiding_bits"
        )
    slots = vec.context.preset.slots
    context = vec.context.tenseal_context
    chunks, visible = [], []
    for chunk in vec.chunks:
        full = secure_uniform(bound, slots)
        noisy = full + 1j * secure_uniform(bound, slots)  # imaginary parts too
        chunks.append(add_to_every_slot(chunk, context, noisy))
        visible.append(full[: chunk.size()])
    return CkksVector(vec.context, chunks, vec.length), np.concatenate(visible)


def masked_bytes(
    vec: CkksVector, real_mask: npt.ArrayLike, *, imaginary_bound: float
) -> bytes:
    """Wire bytes of `vec + real_mask + i * U(-imaginary_bound, imaginary_bound)` over
    every slot of every chunk: the caller keeps `real_mask` (one value per slot, all
    N/2 slots of each chunk) to remove it later; the imaginary part hides what a
    plaintext product leaves there (ckks_seal). For protocols that choose their own
    real masks (e.g. uniform modulo a period)."""
    slots = vec.context.preset.slots
    mask = np.asarray(real_mask, dtype=np.float64)
    if mask.shape != (len(vec.chunks) * slots,):
        raise ValueError(f"real_mask needs {len(vec.chunks) * slots} values")
    largest = max(float(np.abs(mask).max(initial=0.0)), imaginary_bound, 1.0)
    needed = int(np.ceil(np.log2(largest))) + 2  # sign and the value itself
    headroom = vec.modulus_bits() - vec.context.preset.scale_bits
    if needed > headroom:
        raise ValueError(
            f"a mask of 2^{needed - 2} does not fit the {headroom} bits of headroom"
            " left in the ciphertext"
        )
    context = vec.context.tenseal_context
    parts = [
        _VECTOR_HEADER.pack(_VECTOR_MAGIC, _FORMAT_VERSION, vec.length, len(vec.chunks))
    ]
    for i, chunk in enumerate(vec.chunks):
        noisy = mask[i * slots : (i + 1) * slots] + 1j * secure_uniform(
            imaginary_bound, slots
        )
        blob = add_to_every_slot_bytes(chunk, context, noisy)
        parts.append(_CHUNK_LENGTH.pack(len(blob)))
        parts.append(blob)
    return b"".join(parts)


def decrypt_with_flooding(
    context: CkksContext,
    vec: CkksVector,
    *,
    statistical_security_bits: int,
    error_bound: float | None = None,
) -> npt.NDArray[np.float64]:
    """Decrypt and add uniform noise in [-2^lambda E, 2^lambda E] to every slot.

    The only decryption whose result may be sent to the peer. E defaults to the preset's
    error bound; the result is accurate to about 2^lambda * E (module docstring).
    """
    bound = context.preset.error_bound if error_bound is None else error_bound
    return flood(
        context.decrypt(vec),
        error_bound=bound,
        statistical_security_bits=statistical_security_bits,
    )


def flood(
    values: npt.ArrayLike, *, error_bound: float, statistical_security_bits: int
) -> npt.NDArray[np.float64]:
    """Add uniform noise in [-2^lambda E, 2^lambda E] to values derived from raw
    decryptions (e.g. a sum of decrypted slots, whose error bound E the caller states)
    before they leave the party."""
    if statistical_security_bits < 1:
        raise ValueError("statistical_security_bits must be positive")
    if error_bound <= 0:
        raise ValueError("error_bound must be positive")
    x = np.atleast_1d(np.asarray(values, dtype=np.float64))
    width = error_bound * 2.0**statistical_security_bits
    return x + secure_uniform(width, len(x))
