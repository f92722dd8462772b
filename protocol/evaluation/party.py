"""Each party's Paillier work in the evaluation protocol (no I/O).

One integer per row, the label in its lowest bit so that adding an even addend keeps
it; the bank encrypts under its own key (owner CRT encryption), the operator adds its
addend, shuffles, floods and packs, the bank decrypts a few packed plaintexts.

PARTIAL  the bank encrypts v = 2 B + y, B = round(b 2^24) for its partial score b;
         the operator adds 2 O, O = round(o 2^24) for its own; the bank reads
         2 (B + O) + y: the joint score at 2^-24, exactly. |b|, |o| < 2^8 (a partial
         score beyond that is refused on either side): 35-bit slots, 58 pairs per
         2048-bit plaintext.
SHARE    additive shares of the logit z modulo the model's period P, in units of
         P / 2^16: the bank encrypts v = 2 S_b + y, S_b = round(s_b 2^16 / P) mod 2^16;
         the operator adds 2 (S_o + U 2^16) with U uniform in [0, 2^64 - 1); the bank
         reads 2 (Z + (c + U) 2^16) + y, where Z = S_b + S_o mod 2^16 is z in units (up
         to one unit of rounding) and c = [S_b + S_o >= 2^16]. Without U the carry c
         would tell the bank, which knows every S_b, that a pair belongs to a row with
         S_b > Z (c = 1) or S_b <= Z (c = 0); U + c reveals c only at U's two ends,
         i.e. the bank's view of a pair is within 2^-64 of one independent of c, and a
         job's at most MAX_ROW_EVALUATIONS pairs within 2^-40. 83-bit slots, 24 pairs
         per plaintext.

The order of the pairs is a uniformly random permutation drawn by the operator from
the OS CSPRNG, and every ciphertext is re-randomized (DJN flooding, 40 + 24 bits over
its randomness bound) before the permuted ciphertexts are packed with public shifts,
so the packed ciphertexts' randomness is independent of which row went where.
"""

from __future__ import annotations

import math
import os

import numpy as np

from protocol.crypto import paillier
from protocol.crypto.fixedpoint import (
    FixedPointCodec,
    PackingSpec,
    plaintext_capacity_bits,
)
from protocol.crypto.paillier_compress import compress
from protocol.crypto.paillier_keys import PaillierPrivateKey
from protocol.crypto.paillier_vector import CiphertextVector
from protocol.evaluation.messages import ScoreKind

PARTIAL_SCALE_BITS = 24
PARTIAL_RANGE_BITS = 8  # |partial score| < 2^8 on either side
SHARE_BITS = 16  # a share's unit is modulus / 2^16
FLOOD_BITS = 64  # the multiple of the modulus that hides a share sum's carry
# Pairs a job may evaluate in share mode: 2^24 * 2^-64 = 2^-40 over the transcript.
TRANSCRIPT_BITS = 24
MAX_ROW_EVALUATIONS = 1 << TRANSCRIPT_BITS


def carry_hiding_bits(row_evaluations: int) -> float:
    """Statistical hiding of the share carries over `row_evaluations` pairs: each pair
    is within 2^-64 of independent of its carry, n pairs within 2^-(64 - log2 n)."""
    return FLOOD_BITS - math.log2(max(row_evaluations, 1))


_PARTIAL = FixedPointCodec(
    scale_bits=PARTIAL_SCALE_BITS,
    value_bits=PARTIAL_SCALE_BITS + PARTIAL_RANGE_BITS,
)
_SHARE_UNITS = 1 << SHARE_BITS


def value_bits(kind: ScoreKind) -> int:
    """Declared bound of every encrypted value and addend: |v| < 2^value_bits."""
    if kind is ScoreKind.PARTIAL:
        return 1 + PARTIAL_SCALE_BITS + PARTIAL_RANGE_BITS
    return 1 + SHARE_BITS + FLOOD_BITS


def pair_packing(kind: ScoreKind, n_bits: int) -> PackingSpec:
    """How the operator's reply packs the pairs (one value plus one addend per slot)."""
    bits = value_bits(kind)
    slot = PackingSpec(bits, 1, max_summands=2).slot_bits
    return PackingSpec(bits, plaintext_capacity_bits(n_bits) // slot, max_summands=2)


# ---- encodings ---------------------------------------------------------------------
def partial_units(scores: np.ndarray) -> np.ndarray:
    """round(score * 2^24) per row; ValueError for a score outside +-2^8."""
    try:
        return _PARTIAL.encode(np.asarray(scores, dtype=np.float64))
    except OverflowError as exc:
        raise ValueError(
            f"partial scores must lie within +-{1 << PARTIAL_RANGE_BITS}: {exc}"
        ) from None


def share_units(shares: np.ndarray, modulus: float) -> np.ndarray:
    """A share modulo `modulus` in units of modulus / 2^16, in [0, 2^16)."""
    if not (np.isfinite(modulus) and modulus > 0):
        raise ValueError("the shares' modulus must be a positive number")
    values = np.asarray(shares, dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError("shares must be finite")
    units = np.rint(np.mod(values, modulus) * (_SHARE_UNITS / modulus))
    return np.mod(units.astype(np.int64), _SHARE_UNITS)


def _labelled(units: np.ndarray, labels: np.ndarray) -> list[int]:
    y = np.asarray(labels)
    if y.shape != units.shape or not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1, one per row")
    return (2 * units + y.astype(np.int64)).tolist()


# ---- the bank ----------------------------------------------------------------------
def encrypt_rows(
    key: PaillierPrivateKey, units: np.ndarray, labels: np.ndarray, kind: ScoreKind
) -> CiphertextVector:
    """One ciphertext of 2 * units + label per row (owner CRT encryption)."""
    return paillier.owner_encrypt_vector(
        key, _labelled(np.asarray(units, dtype=np.int64), labels),
        value_bits=value_bits(kind),
    )  # fmt: skip


def decrypt_pairs(
    key: PaillierPrivateKey, pairs: CiphertextVector, kind: ScoreKind, modulus: float
) -> tuple[np.ndarray, np.ndarray]:
    """The (score, label) multiset, sorted by score then label.

    PARTIAL: the joint score (exact at 2^-24). SHARE: the logit in (-modulus/2,
    modulus/2], in units of modulus / 2^16. Sorted, so that the result does not even
    depend on the operator's packing order."""
    plain = paillier.decrypt_packed(key, pairs)
    labels = np.array([v & 1 for v in plain], dtype=np.int64)
    if kind is ScoreKind.PARTIAL:
        scores = np.array([(v - (v & 1)) >> 1 for v in plain], dtype=np.int64)
        values = np.ldexp(scores.astype(np.float64), -PARTIAL_SCALE_BITS)
    else:
        units = np.array([(v >> 1) % _SHARE_UNITS for v in plain], dtype=np.int64)
        centred = np.where(units > _SHARE_UNITS // 2, units - _SHARE_UNITS, units)
        values = centred.astype(np.float64) * (modulus / _SHARE_UNITS)
    order = np.lexsort((labels, values))
    return values[order], labels[order]


# ---- the operator ------------------------------------------------------------------
def addend_plaintexts(units: np.ndarray, kind: ScoreKind) -> list[int]:
    """What the operator adds to each row: 2 O, or 2 (S_o + U 2^16) with a fresh U."""
    own = [2 * int(u) for u in np.asarray(units, dtype=np.int64)]
    if kind is ScoreKind.PARTIAL:
        return own
    flood = (1 << FLOOD_BITS) - 1  # U in [0, 2^64 - 1): U + c never leaves 64 bits
    blob = os.urandom(8 * len(own))
    multiples = [
        int.from_bytes(blob[8 * i : 8 * i + 8], "big") % flood for i in range(len(own))
    ]
    return [a + 2 * (u << SHARE_BITS) for a, u in zip(own, multiples, strict=True)]


def secret_permutation(rows: int) -> np.ndarray:
    """A uniformly random order of `rows` items from the OS CSPRNG (64-bit keys;
    a repeated key, probability < rows^2 / 2^65, only keeps two rows' input order)."""
    keys = np.frombuffer(os.urandom(8 * rows), dtype=np.uint64)
    return np.argsort(keys, kind="stable")


def shuffle_and_pack(values: CiphertextVector, addends: list[int]) -> CiphertextVector:
    """Add the addends, permute the rows secretly, flood every ciphertext, pack."""
    summed = paillier.add_plain(values, addends)
    order = secret_permutation(len(summed.ciphertexts))
    shuffled = CiphertextVector(
        summed.public_key,
        [summed.ciphertexts[i] for i in order],
        summed.encoding,
        magnitude_bound=summed.magnitude_bound,
        noise_bound=summed.noise_bound,
        needs_rerandomization=True,
    )
    flooded = paillier.rerandomize(shuffled, extra_bits=TRANSCRIPT_BITS)
    return compress(flooded, max_summands=2, flooded=True)
