"""Each party's Paillier work in federated binning (no I/O).

The bank encrypts its labels and decrypts the per-bin counts; the operator sums the
ciphertexts of each bin of each feature and re-randomizes the sums. What each party
learns is stated in protocol/binning/__init__.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from protocol.binning.messages import BinSumsReply
from protocol.crypto import paillier
from protocol.crypto.fixedpoint import PackingSpec
from protocol.crypto.paillier_compress import compress
from protocol.crypto.paillier_keys import PaillierPrivateKey
from protocol.crypto.paillier_vector import CiphertextVector


def label_packing(rows: int) -> PackingSpec:
    """Two 1-bit slots (positive, negative) with headroom for `rows` additions."""
    return PackingSpec(value_bits=1, n_slots=2, max_summands=max(rows, 1))


def encrypt_labels(key: PaillierPrivateKey, labels: np.ndarray) -> CiphertextVector:
    """Bank: one packed ciphertext of (y, 1 - y) per row (owner CRT encryption)."""
    y = np.asarray(labels, dtype=np.int64)
    pairs = np.empty(2 * len(y), dtype=np.int64)
    pairs[0::2], pairs[1::2] = y, 1 - y
    return paillier.owner_encrypt_vector(key, pairs, packing=label_packing(len(y)))


def sum_bins(
    labels: CiphertextVector, bins: Sequence[tuple[np.ndarray, int]]
) -> CiphertextVector:
    """Operator: for each feature's (bin per row, bin count), the sum of the rows'
    ciphertexts per bin; shift-and-added into as few ciphertexts as the key holds (so
    the bank decrypts a handful, not one per bin), then re-randomized."""
    parts = [paillier.sum_groups(labels, rows, n) for rows, n in bins]
    return paillier.rerandomize(compress(paillier.concatenate(parts)))


def decrypt_counts(
    key: PaillierPrivateKey, reply: BinSumsReply
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Bank: (positives, negatives) per bin of each feature, in layout order."""
    counts = np.asarray(paillier.decrypt_packed(key, reply.sums)).reshape(-1, 2)
    out, offset = [], 0
    for feature in reply.layout:
        block = counts[offset : offset + feature.bins]
        offset += feature.bins
        out.append((block[:, 0], block[:, 1]))
    return out
