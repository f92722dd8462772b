"""Paillier vectors: correctness, homomorphic ops, packing, overflow, phe interop.

Every ciphertext that a test decrypts has crossed the wire form first (as in TenSEAL's
tests, which run each operation on serialized and deserialized operands).
"""

from __future__ import annotations

import numpy as np
import phe
import pytest

from protocol.crypto import paillier as he
from protocol.crypto.fixedpoint import (
    FixedPointCodec,
    PackingOverflowError,
    PackingSpec,
)
from protocol.crypto.paillier_compress import compress
from protocol.crypto.paillier_keys import (
    InsecureKeyError,
    PaillierPrivateKey,
    PaillierPublicKey,
    generate_keypair,
)
from protocol.crypto.paillier_vector import CiphertextVector
from protocol.crypto.phe_interop import from_phe, to_phe
from protocol.crypto.wire import vector_from_bytes, vector_to_bytes


def through_wire(vec: CiphertextVector) -> CiphertextVector:
    """What the receiving party holds after the vector is sent."""
    if vec.needs_rerandomization:
        vec = he.rerandomize(vec)
    return vector_from_bytes(vector_to_bytes(vec), vec.public_key)


def test_decrypt_returns_inputs_if_values_are_zero_negative_and_extreme(
    public_key: PaillierPublicKey, private_key: PaillierPrivateKey
):
    # Prepare: the extremes are the largest magnitudes the 1024-bit key accepts
    top = 2 ** (public_key.n_bits - 3) - 1
    values = [0, 1, -1, 2**63, -(2**63), top, -top]

    # Execute
    vec = he.encrypt_vector(public_key, values, value_bits=public_key.n_bits - 3)
    decrypted = he.decrypt_ints(private_key, through_wire(vec))

    # Assert
    assert decrypted == values


def test_owner_encryption_decrypts_like_public_encryption_if_values_are_random(
    public_key: PaillierPublicKey, private_key: PaillierPrivateKey
):
    # Prepare
    values = np.random.default_rng(1).integers(-(2**62), 2**62, 200)

    # Execute
    by_owner = through_wire(he.owner_encrypt_vector(private_key, values))
    by_public = through_wire(he.encrypt_vector(public_key, values))

    # Assert
    assert he.decrypt_ints(private_key, by_owner) == values.tolist()
    assert he.decrypt_ints(private_key, by_public) == values.tolist()


def test_encryption_is_randomized_if_the_same_value_is_encrypted_twice(
    public_key: PaillierPublicKey, private_key: PaillierPrivateKey
):
    # Prepare / Execute
    first = through_wire(he.encrypt_vector(public_key, [5, 5]))
    second = through_wire(he.owner_encrypt_vector(private_key, [5, 5]))

    # Assert
    assert len({int(c) for c in first.ciphertexts + second.ciphertexts}) == 4


def test_floats_round_trip_within_the_scale_if_encoded_with_a_codec(
    public_key: PaillierPublicKey, private_key: PaillierPrivateKey
):
    # Prepare
    codec = FixedPointCodec(scale_bits=32, value_bits=48)
    x = np.random.default_rng(2).normal(size=50) * 100

    # Execute
    vec = through_wire(he.encrypt_floats(public_key, x, codec))

    # Assert
    assert np.allclose(he.decrypt_vector(private_key, vec), x, rtol=0, atol=2.0**-33)


def test_add_and_add_plain_sum_elementwise_if_encodings_match(
    public_key: PaillierPublicKey, private_key: PaillierPrivateKey
):
    # Prepare
    rng = np.random.default_rng(3)
    a, b, k = (rng.integers(-(2**40), 2**40, 3000) for _ in range(3))
    enc_a = through_wire(he.encrypt_vector(public_key, a))
    enc_b = through_wire(he.owner_encrypt_vector(private_key, b))

    # Execute
    total = he.add_plain(he.add(enc_a, enc_b), k)

    # Assert
    assert total.needs_rerandomization
    assert he.decrypt_ints(private_key, through_wire(total)) == (a + b + k).tolist()


def test_mul_scalar_and_mul_plain_scale_values_if_scalars_are_signed_or_zero(
    public_key: PaillierPublicKey, private_key: PaillierPrivateKey
):
    # Prepare
    values = [3, -7, 0, 2**40]
    enc = through_wire(he.encrypt_vector(public_key, values))

    # Execute
    by_minus_five = he.mul_scalar(enc, -5)
    by_zero = he.mul_scalar(enc, 0)
    elementwise = he.mul_plain(enc, [2, -3, 9, -1], scale_bits=4)

    # Assert
    assert he.decrypt_ints(private_key, through_wire(by_minus_five)) == [
        -15,
        35,
        0,
        -5 * 2**40,
    ]
    assert he.decrypt_ints(private_key, through_wire(by_zero)) == [0, 0, 0, 0]
    assert he.decrypt_ints(private_key, through_wire(elementwise)) == [
        6,
        21,
        0,
        -(2**40),
    ]
    assert elementwise.encoding.scale_bits == 4


def test_sum_groups_gives_bin_sums_if_rows_are_assigned_to_bins(
    public_key: PaillierPublicKey, private_key: PaillierPrivateKey
):
    # Prepare: 0/1 labels, 3 bins, rows with bin -1 belong to none
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 5000)
    bins = rng.integers(-1, 3, 5000)
    enc = through_wire(he.owner_encrypt_vector(private_key, labels, value_bits=1))

    # Execute
    sums = he.sum_groups(enc, bins, 3)
    total = he.sum_all(enc)

    # Assert
    expected = [int(labels[bins == g].sum()) for g in range(3)]
    assert he.decrypt_ints(private_key, through_wire(sums)) == expected
    assert he.decrypt_ints(private_key, through_wire(total)) == [int(labels.sum())]


def test_packed_vectors_add_and_sum_slotwise_if_within_headroom(
    public_key: PaillierPublicKey, private_key: PaillierPrivateKey
):
    # Prepare: each ciphertext packs one row's (gradient, hessian) pair
    rng = np.random.default_rng(5)
    spec = PackingSpec(value_bits=24, n_slots=2, max_summands=4096)
    rows = rng.integers(-(2**24) + 1, 2**24, size=(1000, 2))
    bins = rng.integers(0, 8, 1000)
    enc = through_wire(he.encrypt_packed(public_key, rows.ravel(), spec))

    # Execute
    histogram = he.sum_groups(enc, bins, 8)
    doubled = he.add(enc, enc)

    # Assert
    expected = np.stack([rows[bins == g].sum(axis=0) for g in range(8)]).ravel()
    assert he.decrypt_packed(private_key, through_wire(histogram)) == expected.tolist()
    assert (
        he.decrypt_packed(private_key, through_wire(doubled))
        == (2 * rows.ravel()).tolist()
    )


def test_packed_operation_raises_naming_the_capacity_if_headroom_is_exhausted(
    public_key: PaillierPublicKey,
):
    # Prepare
    spec = PackingSpec(value_bits=8, n_slots=4, max_summands=2)
    enc = he.encrypt_packed(public_key, [255, -255, 1, 2], spec)
    two = he.add(enc, enc)

    # Execute / Assert: a third summand no longer fits the declared headroom
    with pytest.raises(PackingOverflowError) as info:
        he.add(two, enc)
    assert str(info.value) == (
        "slot bound 10 bits exceeds the slot capacity 2**9 - 1 (value_bits=8, "
        "max_summands=2); declare more headroom"
    )


def test_unpacked_operation_raises_if_the_plaintext_capacity_would_overflow(
    public_key: PaillierPublicKey,
):
    # Prepare
    enc = he.encrypt_vector(public_key, [1], value_bits=public_key.n_bits - 4)

    # Execute / Assert
    with pytest.raises(OverflowError, match="exceeds the plaintext capacity"):
        he.mul_scalar(enc, 4)


def test_add_raises_if_scales_differ(public_key: PaillierPublicKey):
    # Prepare
    a = he.encrypt_vector(public_key, [1], scale_bits=8)
    b = he.encrypt_vector(public_key, [1], scale_bits=16)

    # Execute / Assert
    with pytest.raises(ValueError, match="^vectors have different encodings"):
        he.add(a, b)


def test_add_raises_if_keys_differ(
    public_key: PaillierPublicKey,
    other_keypair: tuple[PaillierPublicKey, PaillierPrivateKey],
):
    # Prepare
    a = he.encrypt_vector(public_key, [1])
    b = he.encrypt_vector(other_keypair[0], [1])

    # Execute / Assert
    with pytest.raises(ValueError, match="^vectors are encrypted under different"):
        he.add(a, b)


def test_rerandomize_changes_every_ciphertext_if_plaintexts_stay_the_same(
    public_key: PaillierPublicKey, private_key: PaillierPrivateKey
):
    # Prepare
    summed = he.sum_all(he.encrypt_vector(public_key, [1, 2, 3]))

    # Execute
    fresh = he.rerandomize(summed)
    uniform = he.rerandomize(summed, uniform=True)

    # Assert
    assert not fresh.needs_rerandomization
    assert fresh.ciphertexts[0] != summed.ciphertexts[0]
    assert uniform.ciphertexts[0] != summed.ciphertexts[0]
    # the flooding exponent is 40 bits longer than the accumulated randomness
    flood_bits = summed.noise_bound.bit_length() + 40
    assert fresh.noise_bound == summed.noise_bound + 2**flood_bits - 1
    assert he.decrypt_ints(private_key, through_wire(fresh)) == [6]
    assert he.decrypt_ints(private_key, through_wire(uniform)) == [6]


def test_phe_decrypts_our_ciphertexts_if_the_scale_is_a_multiple_of_four(
    public_key: PaillierPublicKey, private_key: PaillierPrivateKey
):
    # Prepare
    codec = FixedPointCodec(scale_bits=16, value_bits=40)
    x = np.array([0.0, -1.5, 1234.25, -0.0625])
    vec = through_wire(he.encrypt_floats(public_key, x, codec))

    # Execute
    numbers = to_phe(vec)
    decrypted = [private_key.to_phe().decrypt(num) for num in numbers]

    # Assert
    assert decrypted == x.tolist()


def test_we_decrypt_phe_ciphertexts_if_phe_encrypted_them(
    public_key: PaillierPublicKey, private_key: PaillierPrivateKey
):
    # Prepare: phe encodes ints with exponent 0
    phe_key = public_key.to_phe()
    numbers = [phe_key.encrypt(v) for v in (0, -3, 2**50)]

    # Execute
    vec = through_wire(from_phe(public_key, numbers))
    summed = he.sum_all(vec)

    # Assert
    assert he.decrypt_ints(private_key, vec) == [0, -3, 2**50]
    assert summed.noise_bound is None  # phe randomness: re-randomized uniformly
    assert he.decrypt_ints(private_key, through_wire(summed)) == [2**50 - 3]


def test_phe_generated_keys_work_if_wrapped(private_key: PaillierPrivateKey):
    # Prepare
    phe_public, phe_private = private_key.public_key.to_phe(), private_key.to_phe()

    # Execute
    ours = PaillierPrivateKey.from_phe(phe_private, allow_insecure_test_key=True)
    vec = he.encrypt_vector(
        PaillierPublicKey.from_phe(phe_public, allow_insecure_test_key=True), [7]
    )

    # Assert
    assert ours == private_key
    assert he.decrypt_ints(ours, through_wire(vec)) == [7]


def test_generate_keypair_raises_if_bits_are_below_2048_without_the_test_flag():
    # Execute / Assert
    with pytest.raises(InsecureKeyError) as info:
        generate_keypair(1024)
    assert str(info.value) == (
        "1024-bit Paillier keys are refused; the minimum is 2048 bits "
        "(allow_insecure_test_key=True is for tests only)"
    )


def test_public_key_raises_if_a_short_phe_key_is_wrapped_without_the_test_flag(
    public_key: PaillierPublicKey,
):
    # Execute / Assert
    with pytest.raises(InsecureKeyError):
        PaillierPublicKey.from_phe(phe.PaillierPublicKey(int(public_key.n)))


def test_default_key_runs_the_woe_flow_if_labels_are_packed(
    default_keypair: tuple[PaillierPublicKey, PaillierPrivateKey],
):
    # Prepare: the bank packs (positive, negative) indicators per row with its 2048-bit
    # default key; the operator sums them per bin and re-randomizes; the bank decrypts.
    public, private = default_keypair
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 2, 400)
    bins = rng.integers(0, 5, 400)
    spec = PackingSpec(value_bits=1, n_slots=2, max_summands=400)
    indicators = np.stack([labels, 1 - labels], axis=1).ravel()

    # Execute
    sent = through_wire(he.owner_encrypt_vector(private, indicators, packing=spec))
    bin_sums = he.rerandomize(he.sum_groups(sent, bins, 5))
    received = through_wire(bin_sums)
    counts = he.decrypt_packed(private, received)

    # Assert
    assert public.n_bits == 2048
    expected = [
        [int((labels[bins == g] == 1).sum()), int((labels[bins == g] == 0).sum())]
        for g in range(5)
    ]
    assert counts == [c for pair in expected for c in pair]


def test_compress_packs_bin_sums_into_few_ciphertexts_if_slots_are_declared(
    public_key: PaillierPublicKey, private_key: PaillierPrivateKey
):
    # Prepare: per-bin label counts (unpacked) and (g, h) histograms (2 slots per bin)
    rng = np.random.default_rng(8)
    labels = rng.integers(0, 2, 3000)
    bins = rng.integers(0, 40, 3000)
    counts = he.sum_groups(
        through_wire(he.owner_encrypt_vector(private_key, labels, value_bits=1)),
        bins,
        40,
    )
    spec = PackingSpec(value_bits=20, n_slots=2, max_summands=4096)
    rows = rng.integers(-(2**20) + 1, 2**20, size=(3000, 2))
    histogram = he.sum_groups(
        through_wire(he.encrypt_packed(public_key, rows.ravel(), spec)), bins, 40
    )

    # Execute
    packed_counts = compress(counts, max_summands=4096)
    packed_histogram = compress(histogram)

    # Assert: a 1024-bit key's plaintext holds 72 14-bit or 15 x 2 33-bit slots
    assert len(packed_counts.ciphertexts) == 1
    assert len(packed_histogram.ciphertexts) == 3
    assert he.decrypt_packed(private_key, through_wire(packed_counts)) == [
        int(labels[bins == g].sum()) for g in range(40)
    ]
    expected = np.stack([rows[bins == g].sum(axis=0) for g in range(40)]).ravel()
    assert he.decrypt_packed(private_key, through_wire(packed_histogram)) == (
        expected.tolist()
    )


def test_compress_raises_if_values_may_exceed_the_declared_slots(
    public_key: PaillierPublicKey,
):
    # Prepare: sums of 3000 one-bit values need 12 bits of headroom, not 4
    counts = he.sum_all(he.encrypt_vector(public_key, [1] * 3000, value_bits=1))

    # Execute / Assert
    with pytest.raises(ValueError, match="^values may reach 12 bits, more than"):
        compress(counts, max_summands=16)


def test_rerandomize_floods_extra_bits_if_a_transcript_holds_many_results(
    public_key: PaillierPublicKey,
):
    # Prepare
    summed = he.sum_all(he.encrypt_vector(public_key, [1, 2, 3]))

    # Execute
    fresh = he.rerandomize(summed, extra_bits=20)

    # Assert
    flood_bits = summed.noise_bound.bit_length() + 40 + 20
    assert fresh.noise_bound == summed.noise_bound + 2**flood_bits - 1


def test_compress_may_skip_rerandomizing_if_its_inputs_were_flooded(
    public_key: PaillierPublicKey, private_key: PaillierPrivateKey
):
    # Prepare: one ciphertext per row plus a plaintext, as the evaluation protocol does
    encrypted = he.encrypt_vector(public_key, [5, -7, 9], value_bits=8)
    rows = he.add_plain(encrypted, [1] * 3)

    # Execute
    with pytest.raises(ValueError, match="^flooded=True needs inputs re-randomized"):
        compress(rows, max_summands=2, flooded=True)
    packed = compress(he.rerandomize(rows), max_summands=2, flooded=True)

    # Assert: one ciphertext, and the wire accepts it as it is
    assert not packed.needs_rerandomization and len(packed.ciphertexts) == 1
    sent = vector_from_bytes(vector_to_bytes(packed), public_key)
    assert he.decrypt_packed(private_key, sent) == [6, -6, 10]


def test_concatenate_joins_bin_sums_if_encodings_match(
    public_key: PaillierPublicKey, private_key: PaillierPrivateKey
):
    # Prepare: per-feature bin sums, re-randomized in one call as the operator does
    labels = np.array([1, 0, 1, 1, 0, 1])
    enc = through_wire(he.encrypt_vector(public_key, labels, value_bits=1))
    first = he.sum_groups(enc, [0, 0, 1, 1, 2, 2], 3)
    second = he.sum_groups(enc, [1, 0, 1, 0, 1, 0], 2)

    # Execute
    joined = he.rerandomize(he.concatenate([first, second]))

    # Assert
    assert he.decrypt_ints(private_key, through_wire(joined)) == [1, 2, 1, 2, 2]
    with pytest.raises(ValueError, match="^vectors have different encodings$"):
        he.concatenate([first, he.encrypt_vector(public_key, [1], scale_bits=4)])
