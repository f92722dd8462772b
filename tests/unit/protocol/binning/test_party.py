"""Federated binning's Paillier work: the bank's decrypted counts are the plain
per-bin counts, and the operator only ever handles ciphertexts."""

from __future__ import annotations

import numpy as np

from protocol.binning.messages import BinSumsReply, FeatureBins
from protocol.binning.party import decrypt_counts, encrypt_labels, sum_bins
from protocol.crypto.paillier_keys import generate_keypair


def test_decrypted_counts_equal_plain_counts_if_bins_summed_homomorphically() -> None:
    # Prepare
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 300)
    bins = [(rng.integers(0, 4, 300), 4), (rng.integers(0, 7, 300), 7)]
    public, private = generate_keypair(1024, allow_insecure_test_key=True)
    layout = tuple(
        FeatureBins(i, f"f{i}", n, tuple(str(b) for b in range(n)))
        for i, (_, n) in enumerate(bins)
    )
    # Execute
    encrypted = encrypt_labels(private, labels)
    sums = sum_bins(encrypted, bins)
    counts = decrypt_counts(private, BinSumsReply(layout, sums))
    # Assert
    assert encrypted.public_key is public
    for (rows, n), (positives, negatives) in zip(bins, counts, strict=True):
        expected_pos = np.bincount(rows[labels == 1], minlength=n)
        expected_neg = np.bincount(rows[labels == 0], minlength=n)
        assert np.array_equal(positives, expected_pos)
        assert np.array_equal(negatives, expected_neg)
