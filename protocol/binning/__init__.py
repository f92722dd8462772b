"""Federated binning (binning/paillier-iv/1): per-bin label counts of the operator's
features, under Paillier.

Flow: the bank encrypts, for each training row in aligned order, the packed pair
(y, 1 - y) under its Paillier key (owner CRT encryption) and streams the ciphertexts;
the operator bins each requested feature locally, multiplies the ciphertexts of each
bin together (a homomorphic sum), re-randomizes every sum and streams them back; the
bank decrypts one (positives, negatives) pair per bin and computes WOE and IV.

What each party learns: the operator, which of its features the bank asks about, the
number of bins and the method, and nothing about the labels (it only ever holds
ciphertexts under the bank's key, re-randomized before they leave); the bank, the
positive and negative counts per bin of each operator feature (the bin labels only if
the operator discloses feature names), every bin holding rows holding at least the
policy's min_bin_rows training rows (smaller bins are merged first), nothing per row.

Why Paillier and not CKKS: the operator must add ciphertexts along its own, secret,
per-feature partition of the rows. With Paillier that is one modular multiplication per
row and feature on one ciphertext per row. CKKS packs 4096 labels per ciphertext, but a
bin's sum then needs a per-slot mask and a decryption per (feature, bin, chunk) or
rotations with 35 MB Galois keys; scripts/bench_lr.py measures both paths.

Modules: messages, serde (its only _pb2 code), party (each side's Paillier work),
service (servicer, client, declaration).
"""
