"""Exact CKKS: coefficient-domain masks, exact decryption and re-encryption, flooding.

Why. `ckks.mask_for_decryption` masks each slot with a float in [-B 2^h, B 2^h]; the
key owner's float64 decoding caps h near 30, and a job decrypts ~2^24 slots, so the
statistical distance of its view from a mask-only view is only bounded by ~2^-10.
This layer works on the plaintext polynomial itself, in exact integers, via SEAL
(`seal_codec`, `rns`):

- The masking party adds a trivial encryption (U, 0) of a polynomial U whose N
  coefficients are independent and uniform in [-2^(K-1), 2^(K-1)) (CSPRNG). The key
  owner decrypts m + U (integers, no wrap modulo q: `mask` checks the headroom), and
  for every plaintext m (real and imaginary parts of all N/2 slots, hidden ones
  included, and the CKKS error)

      SD(m + U, U) <= ||m||_1 / 2^K <= sqrt(N) ||m||_2 / 2^K <= sqrt(N) D V / 2^K,

  where D is the ciphertext's scale and V bounds sqrt((2/N) sum_j |z_j|^2) for the
  decrypted slots z_j (any bound on max_j |z_j| will do): by Parseval
  (negacyclic DFT) ||m||_2^2 = (2/N) D^2 sum_j |z_j|^2. A bound per ciphertext, not
  per slot; a transcript adds its ciphertexts' bounds (`transcript_bound_bits`).
- `mask_uniform` draws U uniform modulo q: then m + U is uniform (distance 0); it
  suits decryptions whose owner is told U's constant coefficient to learn m_0 exactly
  (e.g. a loss sum) and nothing else.
- The key owner decrypts exactly: `decrypt_constant` (the constant coefficient m_0,
  from the NTT values without an inverse transform; sum_j Re z_j = (N/2) m_0 / D, the
  sum of every slot's real part), or `decrypt_polynomial` (all coefficients, then the
  slots in double-double precision, `ckks_decode`, or modulo a period). The masking
  party computes the same quantities of -U, so the two shares add up to the plaintext
  exactly (constant coefficient) or to ~2^-104 of the slots' magnitude (slots).
- Products are taken without rescaling (`weighted_sum`: ciphertext scale 2^a times a
  plaintext encoded at a small scale 2^b), so the masked value stays at the full
  modulus q and K can be close to log2(q): PRECISE has log2(q) ~ 157.9 at its first
  level, so K = 157 leaves 2^156 * (2^0.9 - 1) of headroom for m.
- `encrypt_constant` encrypts a replicated value exactly (the constant polynomial
  round(value * 2^s)), so a huge masked value sent back cancels exactly modulo q
  against the owner's exact mask part; `encrypt_integers` does the same for any
  integer polynomial (e.g. a decrypted share the owner re-encrypts).
- `flood` adds uniform noise in [-2^lambda E, 2^lambda E] to exact integers derived
  from decryptions before they leave the key owner (Li-Micciancio, see ckks.py): the
  result is within statistical distance 2^-lambda of a function of the error-free
  values when E bounds the error they carry.

Scales are powers of two (2^bits), so every scaling is exact.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import tenseal.sealapi as sealapi

from protocol.crypto import ckks_decode
from protocol.crypto.ckks import CkksContext
from protocol.crypto.rns import (
    U64,
    RnsBasis,
    ints_of_limbs,
    random_limbs,
    shift_limbs,
)
from protocol.crypto.seal_codec import (
    CiphertextData,
    PlaintextData,
    load_ciphertext,
    load_plaintext,
    save_bytes,
)

# tenseal.sealapi.Ciphertext: the binding ships no type information.
Ciphertext: TypeAlias = Any


def _scale_bits(scale: float) -> int:
    mantissa, exponent = math.frexp(scale)
    if mantissa != 0.5:
        raise ValueError(f"CKKS scale {scale} is not a power of two")
    return exponent - 1


@dataclass(frozen=True)
class CoefficientMask:
    """The masking party's record of U (never sent): U = limbs - 2^(bits-1)."""

    limbs: U64
    bits: int
    scale_bits: int
    basis: RnsBasis

    @property
    def offset(self) -> int:
        return -(1 << (self.bits - 1))

    def constant(self) -> int:
        """U_0 exactly (the owner decrypts c_0 = m_0 + U_0; the masker's share is
        -U_0)."""
        return ints_of_limbs(self.limbs[:, :1], self.offset)[0]

    def slots(self) -> ckks_decode.DD:
        """U's slots (rows [re, im]) in double-double precision."""
        coefficients = ckks_decode.dd_of_limbs(self.limbs, self.offset, self.scale_bits)
        return ckks_decode.decode(coefficients, self.basis.degree)

    def shifted_residues(self, shift_bits: int) -> U64:
        """Residues of floor(U / 2^shift_bits), for a rescale done in the clear."""
        if not 0 <= shift_bits < self.bits:
            raise ValueError("shift out of range")
        shifted = shift_limbs(self.limbs, shift_bits)
        return self.basis.residues_of_limbs(shifted, self.offset >> shift_bits)


@dataclass(frozen=True)
class DecryptedPolynomial:
    """A decrypted plaintext polynomial (the key owner's), exact, in RNS form."""

    residues: U64  # coefficient form, (L, N)
    scale_bits: int
    basis: RnsBasis

    def constant(self) -> int:
        return self.basis.ints(self.residues[:, :1])[0]

    def ints(self) -> list[int]:
        """Centered integer coefficients."""
        return self.basis.ints(self.residues)

    def slots(self) -> ckks_decode.DD:
        """All N/2 slots (rows [re, im]) in double-double precision."""
        limbs = self.basis.limbs(self.residues)
        coefficients = ckks_decode.dd_of_limbs(limbs, -self.basis.lift, self.scale_bits)
        return ckks_decode.decode(coefficients, self.basis.degree)

    def shifted_residues(self, shift_bits: int, minus: U64 | None = None) -> U64:
        """Residues of floor((x - minus) / 2^shift_bits) for the centered x - minus,
        `minus` given as residues (e.g. an encoded plaintext to subtract first)."""
        residues = self.residues
        if minus is not None:
            p = np.array(self.basis.primes, dtype=np.uint64)[:, None]
            residues = np.where(
                residues >= minus, residues - minus, residues + p - minus
            )
        lift = self.basis.lift
        if not 0 <= shift_bits <= lift.bit_length() - 1:
            raise ValueError("shift out of range")
        shifted = shift_limbs(self.basis.limbs(residues), shift_bits)
        return self.basis.residues_of_limbs(shifted, -(lift >> shift_bits))


def slots_mod(slots: ckks_decode.DD, period: float) -> npt.NDArray[np.float64]:
    """Real parts of double-double slots modulo `period`, in [0, period)."""
    return ckks_decode.dd_mod((slots[0][0], slots[1][0]), period)


class ExactCkks:
    """One party's exact SEAL-level operations under a CKKS context (its own, with
    the secret key, or the peer's public one). Ciphertexts live at the first data
    level (all of q) and are SEAL objects; `dump` / `load` are their wire form."""

    def __init__(self, context: CkksContext) -> None:
        tenseal_context = context.tenseal_context
        self.context = context
        self._seal = tenseal_context.seal_context().data
        data = self._seal.first_context_data()
        parms = data.parms()
        self.degree = int(parms.poly_modulus_degree())
        self.parms_id = tuple(data.parms_id())
        self.basis = RnsBasis(
            tuple(int(m.value()) for m in parms.coeff_modulus()), self.degree
        )
        self._evaluator = sealapi.Evaluator(self._seal)
        self._encoder = sealapi.CKKSEncoder(self._seal)
        self._encryptor = sealapi.Encryptor(
            self._seal, tenseal_context.public_key().data
        )
        self._decryptor = (
            sealapi.Decryptor(self._seal, tenseal_context.secret_key().data)
            if context.is_private
            else None
        )
        self._cancel: dict[int, Ciphertext] = {}

    @property
    def slots(self) -> int:
        return self.degree // 2

    # ---- wire ---------------------------------------------------------------------
    def dump(self, ciphertext: Ciphertext) -> bytes:
        return save_bytes(ciphertext)

    def load(self, data: bytes, *, scale_bits: int) -> Ciphertext:
        """A ciphertext from the peer: valid for the context, size 2, NTT form, at
        the first data level and at scale 2^scale_bits (ValueError otherwise)."""
        ciphertext = load_ciphertext(self._seal, data)
        if (
            ciphertext.size() != 2
            or not ciphertext.is_ntt_form()
            or tuple(ciphertext.parms_id()) != self.parms_id
        ):
            raise ValueError("expected a fresh-level size-2 CKKS ciphertext")
        if ciphertext.scale != 2.0**scale_bits:
            raise ValueError(
                f"expected a ciphertext at scale 2^{scale_bits}, got {ciphertext.scale}"
            )
        return ciphertext

    # ---- encryption (public key) ----------------------------------------------------
    def _plain(self, values: npt.ArrayLike, scale_bits: int) -> sealapi.Plaintext:
        x = np.asarray(values, dtype=np.float64).ravel()
        if len(x) > self.slots:
            raise ValueError(f"at most {self.slots} values per ciphertext")
        if not np.isfinite(x).all():
            raise ValueError("values must be finite")
        plain = sealapi.Plaintext()
        self._encoder.encode(x.tolist(), list(self.parms_id), 2.0**scale_bits, plain)
        return plain

    def encrypt(self, values: npt.ArrayLike, *, scale_bits: int) -> Ciphertext:
        """Encrypt up to N/2 reals (zero-padded) at scale 2^scale_bits."""
        ciphertext = sealapi.Ciphertext()
        self._encryptor.encrypt(self._plain(values, scale_bits), ciphertext)
        return ciphertext

    def encrypt_constant(self, value: int, *, scale_bits: int) -> Ciphertext:
        """Exact encryption of the constant polynomial `value`: every slot holds
        value / 2^scale_bits (e.g. value = round(step * 2^scale_bits))."""
        residues = np.array([value % p for p in self.basis.primes], dtype=np.uint64)[
            :, None
        ]
        # The NTT of a constant polynomial is that constant at every point.
        ntt = np.ascontiguousarray(
            np.broadcast_to(residues, (len(residues), self.degree))
        )
        data = PlaintextData(self.parms_id, 2.0**scale_bits, ntt)
        ciphertext = sealapi.Ciphertext()
        self._encryptor.encrypt(load_plaintext(self._seal, data.to_bytes()), ciphertext)
        return ciphertext

    def encrypt_integers(self, residues: U64, *, scale_bits: int) -> Ciphertext:
        """Exact encryption of an integer polynomial given by its residues (L, N)."""
        return self.add_integers(self.encrypt([0.0], scale_bits=scale_bits), residues)

    # ---- evaluation (no key) --------------------------------------------------------
    def weighted_sum(
        self,
        ciphertexts: Sequence[Ciphertext],
        weights: npt.ArrayLike,
        *,
        weight_scale_bits: int,
        offset: npt.ArrayLike | None = None,
    ) -> Ciphertext:
        """sum_k ciphertexts[k] * weights[k] (+ offset), weights encoded at scale
        2^weight_scale_bits and not rescaled: the result's scale is the product."""
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 2 or len(w) != len(ciphertexts) or not ciphertexts:
            raise ValueError("need one weight row per ciphertext")
        total: Ciphertext | None = None
        for ciphertext, row in zip(ciphertexts, w, strict=True):
            if not row.any():
                continue  # SEAL refuses a product by zero (a transparent result)
            product = sealapi.Ciphertext()
            self._evaluator.multiply_plain(
                ciphertext, self._plain(row, weight_scale_bits), product
            )
            if total is None:
                total = product
            else:
                self._evaluator.add_inplace(total, product)
        scale_bits = _scale_bits(ciphertexts[0].scale) + weight_scale_bits
        if total is None:
            total = self.encrypt([0.0], scale_bits=scale_bits)
        if offset is not None:
            self._evaluator.add_plain_inplace(total, self._plain(offset, scale_bits))
        return total

    def add(self, a: Ciphertext, b: Ciphertext) -> Ciphertext:
        out = sealapi.Ciphertext()
        self._evaluator.add(a, b, out)
        return out

    def _cancel_for(self, scale_bits: int) -> Ciphertext:
        """(0, -1) in NTT form: cancels the c1 = 1 that keeps crafted polynomials
        from being transparent (SEAL refuses to transform those)."""
        cancel = self._cancel.get(scale_bits)
        if cancel is None:
            minus_one = np.array([p - 1 for p in self.basis.primes], dtype=np.uint64)[
                :, None
            ] * np.ones((1, self.degree), dtype=np.uint64)
            data = np.stack([np.zeros_like(minus_one), minus_one])
            crafted = CiphertextData(self.parms_id, True, 2.0**scale_bits, data)
            cancel = load_ciphertext(self._seal, crafted.to_bytes())
            self._cancel[scale_bits] = cancel
        return cancel

    def add_integers(self, ciphertext: Ciphertext, residues: U64) -> Ciphertext:
        """ciphertext + (P, 0) for the integer polynomial P given by its residues
        (coefficient form, (L, N)): the plaintext becomes m + P exactly."""
        if residues.shape != (len(self.basis.primes), self.degree):
            raise ValueError("residues do not match the ciphertext modulus")
        scale_bits = _scale_bits(ciphertext.scale)
        one = np.zeros_like(residues)
        one[:, 0] = 1
        crafted = CiphertextData(
            self.parms_id, False, 2.0**scale_bits, np.stack([residues, one])
        )
        trivial = load_ciphertext(self._seal, crafted.to_bytes())
        self._evaluator.transform_to_ntt_inplace(trivial)
        out = sealapi.Ciphertext()
        self._evaluator.add(ciphertext, trivial, out)
        self._evaluator.add_inplace(out, self._cancel_for(scale_bits))
        return out

    # ---- masking (no key) -----------------------------------------------------------
    def mask_bits_available(self, ciphertext: Ciphertext, value_bound: float) -> int:
        """Largest K with 2^(K-1) + 2^a * value_bound <= (q - 1) / 2 (no wrap)."""
        reach = math.ceil(ciphertext.scale * value_bound)
        room = self.basis.half - reach
        return room.bit_length() if room > 0 else 0

    def mask(
        self, ciphertext: Ciphertext, *, bits: int, value_bound: float
    ) -> tuple[Ciphertext, CoefficientMask]:
        """ciphertext + (U, 0), U uniform in [-2^(bits-1), 2^(bits-1)) per
        coefficient. `value_bound` bounds the plaintext's coefficients in value units
        (max_k |m_k| <= D * max_j |z_j|); raises if m + U could wrap modulo q."""
        if value_bound <= 0:
            raise ValueError("value_bound must be positive")
        available = self.mask_bits_available(ciphertext, value_bound)
        if not 1 <= bits <= available:
            raise ValueError(
                f"a {bits}-bit mask does not fit: at most {available} bits of headroom"
                f" above values up to {value_bound} at scale {ciphertext.scale}"
            )
        limbs = random_limbs(bits, self.degree)
        mask = CoefficientMask(limbs, bits, _scale_bits(ciphertext.scale), self.basis)
        residues = self.basis.residues_of_limbs(limbs, mask.offset)
        return self.add_integers(ciphertext, residues), mask

    def mask_uniform(self, ciphertext: Ciphertext) -> tuple[Ciphertext, int]:
        """ciphertext + (U, 0), U uniform modulo q (the result is uniform: distance
        0). Returns U's constant coefficient (centered), the only part of U that may
        be revealed, to let the owner learn m_0 = c_0 - U_0 exactly."""
        residues = self.basis.uniform_residues(self.degree)
        constant = self.basis.ints(residues[:, :1])[0]
        return self.add_integers(ciphertext, residues), constant

    # ---- decryption (secret key) ----------------------------------------------------
    def _decrypt_ntt(self, ciphertext: Ciphertext) -> PlaintextData:
        if self._decryptor is None:
            raise ValueError("this CKKS context has no secret key and cannot decrypt")
        plain = sealapi.Plaintext()
        self._decryptor.decrypt(ciphertext, plain)
        return PlaintextData.from_bytes(save_bytes(plain), self.degree)

    def decrypt_constant(self, ciphertext: Ciphertext) -> int:
        """The plaintext's constant coefficient m_0, exactly (centered)."""
        return self.basis.constant_of_ntt(self._decrypt_ntt(ciphertext).data)

    def decrypt_polynomial(self, ciphertext: Ciphertext) -> DecryptedPolynomial:
        """The whole plaintext polynomial, exactly."""
        plain = self._decrypt_ntt(ciphertext)
        # SEAL transforms ciphertexts only: carry the NTT values as c0, with any
        # non-zero c1 (the ones of the plaintext itself) so it is not transparent.
        crafted = CiphertextData(
            self.parms_id, True, plain.scale, np.stack([plain.data, plain.data])
        )
        carrier = load_ciphertext(self._seal, crafted.to_bytes())
        self._evaluator.transform_from_ntt_inplace(carrier)
        coefficients = CiphertextData.from_bytes(save_bytes(carrier)).data[0]
        return DecryptedPolynomial(coefficients, _scale_bits(plain.scale), self.basis)


# ---- shares, flooding, bounds -------------------------------------------------
def slot_sum(constant: int, *, degree: int, scale_bits: int) -> Fraction:
    """sum over the N/2 slots of their real parts, (N/2) m_0 / D, exactly."""
    return Fraction(constant * (degree // 2), 1 << scale_bits)


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
