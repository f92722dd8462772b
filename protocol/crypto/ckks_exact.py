"""Exact CKKS: coefficient-domain masks, exact decryption and exact re-encryption.

Why. `ckks.mask_for_decryption` masks each slot with a float in [-B 2^h, B 2^h]; the
key owner's float64 decoding caps h near 30, and a job decrypts ~2^24 slots, so the
statistical distance of its view from a mask-only view is only bounded by ~2^-10.
This layer masks and decrypts the plaintext polynomial itself, in exact integers,
through SEAL (`seal_codec` for SEAL's format, `rns` for the arithmetic):

- Masking (`mask`, no key needed): the masking party adds a trivial encryption (U, 0)
  of a polynomial U whose N coefficients are independent and uniform in
  [-2^(K-1), 2^(K-1)) (OS CSPRNG), after checking that m + U cannot wrap modulo q.
  U covers the whole polynomial: the real and imaginary parts of all N/2 slots,
  hidden slots included, and the CKKS error. The key owner's decryption m + U is
  within statistical distance sqrt(N) D V / 2^K of U alone (D the scale, V a bound on
  the slots' magnitude; `ckks_hiding` derives it and sums it over a transcript): a
  bound per ciphertext, not per slot.
- `mask_uniform` draws U uniform modulo q, so m + U is uniform (distance 0); the
  masking party may then reveal U's constant coefficient so that the owner learns
  m_0 exactly, e.g. a loss summed over the slots, and nothing else.
- Exact decryption (key owner): `decrypt_constant` gives the constant coefficient m_0
  from the NTT values without an inverse transform; sum_j Re z_j = (N/2) m_0 / D is
  the sum of every slot's real part (`slot_sum`). `decrypt_polynomial` gives every
  coefficient, then the slots in double-double precision (`ckks_decode`) or their real
  parts modulo a period, or the sum of their imaginary parts (`imaginary_sum`, in
  exact integers at a fixed point). The masking party computes the same quantities
  of -U (`CoefficientMask`), so the two shares add up to the plaintext exactly
  (constant coefficient) or to ~2^-104 of the slots' magnitude (slots).
- Products without rescaling (`weighted_sum`: ciphertext scale 2^a times real or
  complex plaintext weights encoded at a small scale 2^b) keep the masked value at
  the full modulus q, so K can be close to log2(q): PRECISE's first level has
  log2(q) ~ 157.9, and K = 157 leaves 2^156 (2^0.9 - 1) of headroom for m.
- Exact re-encryption: `encrypt_constant` encrypts the constant polynomial
  round(value 2^s), i.e. a value replicated in every slot, so a huge masked value sent
  back cancels exactly modulo q against the owner's exact mask part;
  `encrypt_integers` / `add_integers` do the same for any integer polynomial (a
  decrypted share, after a rescale done in the clear with `shifted_residues`).

What each party learns: the masking party holds only the public context and sees
ciphertexts; the key owner sees, per masked decryption, m + U (distance bound above)
or, for `mask_uniform`, a uniform polynomial and whatever constant the masking party
chooses to reveal. Scales are powers of two, so every scaling is exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import tenseal as ts
import tenseal.sealapi as sealapi

from protocol.crypto import ckks_decode
from protocol.crypto.ckks import CkksContext
from protocol.crypto.ckks_seal import _CIPHERTEXT_FIELD, _fields
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

    def imaginary_sum(self, fraction_bits: int) -> int:
        """round(2^fraction_bits sum_j Im(U's slot j)) (see `imaginary_sum`)."""
        return imaginary_sum(self.slots(), fraction_bits)

    def slots(self) -> ckks_decode.DD:
        """U's slots (rows [re, im]) in double-double precision."""
        coefficients = ckks_decode.dd_of_limbs(self.limbs, self.offset, self.scale_bits)
        return ckks_decode.decode(coefficients, self.basis.degree)

    def share_mod(self, period: float) -> npt.NDArray[np.float64]:
        """The masking party's share of each slot's real part: -Re(U's slot) mod
        period (the key owner's is `DecryptedPolynomial.share_mod`)."""
        return slots_mod(ckks_decode.dd_neg(self.slots()), period)

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

    def share_mod(self, period: float) -> npt.NDArray[np.float64]:
        """Each slot's real part modulo period: the key owner's share."""
        return slots_mod(self.slots(), period)

    def imaginary_sum(self, fraction_bits: int) -> int:
        """round(2^fraction_bits sum_j Im(slot j)) (see `imaginary_sum`)."""
        return imaginary_sum(self.slots(), fraction_bits)

    def shifted_residues(self, shift_bits: int) -> U64:
        """Residues of floor(x / 2^shift_bits) for the centered coefficients x: a
        rescale in the clear (the masking party shifts U the same way, and the two
        results differ from the rescaled plaintext by less than 1 per coefficient)."""
        lift = self.basis.lift
        if not 0 <= shift_bits <= lift.bit_length() - 1:
            raise ValueError("shift out of range")
        shifted = shift_limbs(self.basis.limbs(self.residues), shift_bits)
        return self.basis.residues_of_limbs(shifted, -(lift >> shift_bits))


def imaginary_sum(slots: ckks_decode.DD, fraction_bits: int) -> int:
    """round(2^fraction_bits sum_j Im z_j) over all N/2 slots, summed in exact
    integers (a float64 sum of slots carrying a 2^73 mask would keep no bit of a
    small difference). Each double-double slot is accurate to ~2^-104 of its
    magnitude and each term is rounded once, so two parties' sums of m + U and of U
    differ from sum Im(m) by ~N 2^-30 at most."""
    scale = 2.0**fraction_bits
    hi, lo = slots[0][1] * scale, slots[1][1] * scale
    return sum(int(v) for v in np.rint(hi).tolist()) + sum(
        int(v) for v in np.rint(lo).tolist()
    )


def negated(residues: U64, basis: RnsBasis) -> U64:
    """Residues of -x for the residues (L, n) of x."""
    p = np.array(basis.primes, dtype=np.uint64)[:, None]
    return np.where(residues == 0, residues, p - residues)


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
        secret = tenseal_context.secret_key().data if context.is_private else None
        self._decryptor = (
            sealapi.Decryptor(self._seal, secret) if secret is not None else None
        )
        self._symmetric = (
            sealapi.Encryptor(self._seal, secret) if secret is not None else None
        )
        self._key_parts: dict[tuple[int, int], Ciphertext] = {}

    @property
    def slots(self) -> int:
        return self.degree // 2

    # ---- wire ---------------------------------------------------------------------
    def dump(self, ciphertext: Ciphertext) -> bytes:
        return save_bytes(ciphertext)

    def from_tenseal(self, vector: ts.CKKSVector) -> Ciphertext:
        """The SEAL ciphertext inside a TenSEAL CKKS vector of this context."""
        fields = _fields(vector.serialize())
        blobs = [value for number, _, value in fields if number == _CIPHERTEXT_FIELD]
        if len(blobs) != 1:
            raise ValueError("unexpected TenSEAL CKKS vector layout")
        return load_ciphertext(self._seal, blobs[0])

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

    # ---- encryption (secret key if held, else public key) ---------------------------
    def _plain(self, values: npt.ArrayLike, scale_bits: int) -> sealapi.Plaintext:
        """Up to N/2 real or complex slot values, encoded at scale 2^scale_bits."""
        raw = np.asarray(values).ravel()
        x = raw.astype(np.complex128 if np.iscomplexobj(raw) else np.float64)
        if len(x) > self.slots:
            raise ValueError(f"at most {self.slots} values per ciphertext")
        if not np.isfinite(x).all():
            raise ValueError("values must be finite")
        plain = sealapi.Plaintext()
        self._encoder.encode(x.tolist(), list(self.parms_id), 2.0**scale_bits, plain)
        return plain

    def encode_integers(self, values: npt.ArrayLike, *, scale_bits: int) -> list[int]:
        """The integer polynomial SEAL's encoder makes of up to N/2 reals."""
        plain = self._plain(values, scale_bits)
        return self.basis.ints(self._coefficients(plain, scale_bits))

    def _coefficients(self, plain: sealapi.Plaintext, scale_bits: int) -> U64:
        """Coefficient-form residues (L, N) of an NTT-form plaintext. SEAL transforms
        ciphertexts only: (0, 1) + plain = (plain, 1) carries it through the inverse
        NTT (with c1 = 1 it is not transparent, which SEAL would refuse)."""
        carrier = sealapi.Ciphertext()
        self._evaluator.add_plain(self._key_part(1, scale_bits), plain, carrier)
        self._evaluator.transform_from_ntt_inplace(carrier)
        return CiphertextData.from_bytes(save_bytes(carrier)).data[0]

    def encrypt(self, values: npt.ArrayLike, *, scale_bits: int) -> Ciphertext:
        """Encrypt up to N/2 reals or complex numbers (zero-padded) at scale
        2^scale_bits: with the secret key when this party holds it (symmetric
        encryption: ~2.4x faster and a smaller fresh error), else with the public
        key. Either is an RLWE encryption the peer cannot tell apart."""
        return self._encrypt_plain(self._plain(values, scale_bits))

    def _encrypt_plain(self, plain: sealapi.Plaintext) -> Ciphertext:
        ciphertext = sealapi.Ciphertext()
        if self._symmetric is not None:
            self._symmetric.encrypt_symmetric(plain, ciphertext)
        else:
            self._encryptor.encrypt(plain, ciphertext)
        return ciphertext

    def _constant_plain(self, value: int, scale_bits: int) -> sealapi.Plaintext:
        """The constant polynomial `value` as a plaintext, exactly: its NTT is that
        constant at every point, so no transform is needed."""
        residues = np.array([value % p for p in self.basis.primes], dtype=np.uint64)
        ntt = np.repeat(residues[:, None], self.degree, axis=1)
        data = PlaintextData(self.parms_id, 2.0**scale_bits, ntt)
        return load_plaintext(self._seal, data.to_bytes())

    def encrypt_constant(self, value: int, *, scale_bits: int) -> Ciphertext:
        """Exact encryption of the constant polynomial `value`: every slot holds
        value / 2^scale_bits (e.g. value = round(step * 2^scale_bits))."""
        return self._encrypt_plain(self._constant_plain(value, scale_bits))

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
        """sum_k ciphertexts[k] * weights[k] (+ offset), weights (real or complex
        slot values) encoded at scale 2^weight_scale_bits and not rescaled: the
        result's scale is the product."""
        w = np.asarray(weights)
        w = w.astype(np.complex128 if np.iscomplexobj(w) else np.float64)
        if w.ndim != 2 or len(w) != len(ciphertexts) or not ciphertexts:
            raise ValueError("need one weight row per ciphertext")
        total: Ciphertext | None = None
        for ciphertext, row in zip(ciphertexts, w, strict=True):
            plain = self._plain(row, weight_scale_bits)
            if not row.any() or plain.is_zero():
                # SEAL refuses a product by zero (a transparent result); weights below
                # the encoding's resolution 2^-weight_scale_bits encode to zero too
                # (e.g. a one-row batch of a column that is almost constant).
                continue
            product = sealapi.Ciphertext()
            self._evaluator.multiply_plain(ciphertext, plain, product)
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

    def add_values(self, ciphertext: Ciphertext, values: npt.ArrayLike) -> Ciphertext:
        """ciphertext + values (up to N/2 reals, encoded at the ciphertext's scale)."""
        out = sealapi.Ciphertext()
        plain = self._plain(values, _scale_bits(ciphertext.scale))
        self._evaluator.add_plain(ciphertext, plain, out)
        return out

    def add_constant(self, ciphertext: Ciphertext, value: int) -> Ciphertext:
        """ciphertext + the constant polynomial `value` (exact; e.g. the owner's own
        mask part added to a masked step it received)."""
        out = sealapi.Ciphertext()
        plain = self._constant_plain(value, _scale_bits(ciphertext.scale))
        self._evaluator.add_plain(ciphertext, plain, out)
        return out

    def add(self, a: Ciphertext, b: Ciphertext) -> Ciphertext:
        out = sealapi.Ciphertext()
        self._evaluator.add(a, b, out)
        return out

    def _key_part(self, c1: int, scale_bits: int) -> Ciphertext:
        """The NTT-form ciphertext (0, c1) for a constant c1 (cached): (0, -1)
        cancels the c1 = 1 that keeps crafted polynomials from being transparent
        (SEAL refuses to transform those); (0, 1) carries a plaintext through SEAL's
        inverse transform. Its decryption is c1 * s: never decrypted, only added."""
        key = (c1, scale_bits)
        cached = self._key_parts.get(key)
        if cached is None:
            residues = np.array([c1 % p for p in self.basis.primes], dtype=np.uint64)
            c1_ntt = np.repeat(residues[:, None], self.degree, axis=1)
            data = np.stack([np.zeros_like(c1_ntt), c1_ntt])
            crafted = CiphertextData(self.parms_id, True, 2.0**scale_bits, data)
            cached = load_ciphertext(self._seal, crafted.to_bytes())
            self._key_parts[key] = cached
        return cached

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
        self._evaluator.add_inplace(out, self._key_part(-1, scale_bits))
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
        coefficient. `value_bound` is the caller's bound on the slots' magnitude,
        which bounds every coefficient: |m_k| <= ||m||_2 <= D * value_bound. Raises
        if m + U could then wrap modulo q. The masking party cannot check the bound
        (it cannot decrypt): the protocol must guarantee it (clipped inputs)."""
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
        be revealed, to let the owner learn m_0 = basis.centered(c_0 - U_0)."""
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
        if self._decryptor is None:
            raise ValueError("this CKKS context has no secret key and cannot decrypt")
        plain = sealapi.Plaintext()
        self._decryptor.decrypt(ciphertext, plain)
        scale_bits = _scale_bits(ciphertext.scale)
        coefficients = self._coefficients(plain, scale_bits)
        return DecryptedPolynomial(coefficients, scale_bits, self.basis)


def slot_sum(constant: int, *, degree: int, scale_bits: int) -> Fraction:
    """sum over the N/2 slots of their real parts, (N/2) m_0 / D, exactly."""
    return Fraction(constant * (degree // 2), 1 << scale_bits)
