"""CKKS layer: precision, plaintext products, public contexts, masking and flooding.

Every encrypted operand and result crosses the wire form (as TenSEAL's own tests do).
"""

from __future__ import annotations

import numpy as np
import pytest
import tenseal as ts
import tenseal.sealapi as sealapi

from protocol.crypto.ckks import (
    FAST,
    PRECISE,
    CkksContext,
    CkksPreset,
    CkksVector,
    decrypt_with_flooding,
    flood,
    mask_for_decryption,
)


def to_peer(vec: CkksVector, peer: CkksContext) -> CkksVector:
    """The vector as the other party loads it."""
    return peer.vector_from_bytes(vec.to_bytes())


def test_decrypt_is_within_the_preset_error_if_values_span_several_chunks(
    ckks_owner: CkksContext, ckks_peer: CkksContext
):
    # Prepare: more values than one ciphertext's 4096 slots
    x = np.random.default_rng(0).uniform(-1, 1, FAST.slots + 100)

    # Execute: the peer encrypts with the public context, the owner decrypts
    vec = to_peer(ckks_peer.encrypt(x), ckks_owner)

    # Assert
    assert len(vec.chunks) == 2
    assert np.abs(ckks_owner.decrypt(vec) - x).max() < FAST.error_bound


def test_dot_and_matmul_match_numpy_if_weights_are_plaintext(
    ckks_owner: CkksContext, ckks_peer: CkksContext
):
    # Prepare
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 300)
    w = rng.uniform(-1, 1, 300)
    m = rng.uniform(-1, 1, (300, 16))
    enc = to_peer(ckks_owner.encrypt(x), ckks_peer)

    # Execute
    dot = to_peer(enc.dot(w), ckks_owner)
    product = to_peer(enc.matmul(m), ckks_owner)
    combined = to_peer(enc.mul_plain(w).add_plain(x).add(enc), ckks_owner)

    # Assert
    bound = FAST.error_bound
    assert abs(ckks_owner.decrypt(dot)[0] - x @ w) < bound
    assert np.abs(ckks_owner.decrypt(product) - x @ m).max() < bound
    assert np.abs(ckks_owner.decrypt(combined) - (x * w + 2 * x)).max() < bound


def test_public_context_raises_if_asked_to_decrypt(
    ckks_owner: CkksContext, ckks_peer: CkksContext
):
    # Prepare
    vec = to_peer(ckks_owner.encrypt([1.0, 2.0]), ckks_peer)

    # Execute / Assert: our wrapper and TenSEAL itself both refuse
    assert not ckks_peer.is_private
    with pytest.raises(ValueError, match="^this CKKS context has no secret key"):
        ckks_peer.decrypt(vec)
    with pytest.raises(ValueError, match="doesn't hold a secret_key"):
        vec.chunks[0].decrypt()
    assert not ckks_owner.public_copy().is_private


def test_context_from_bytes_raises_if_a_secret_key_arrives_without_opt_in(
    ckks_owner: CkksContext,
):
    # Execute / Assert
    with pytest.raises(ValueError, match="^refusing to serialize a CKKS secret key"):
        ckks_owner.secret_bytes()
    data = ckks_owner.secret_bytes(include_secret_key=True)
    with pytest.raises(ValueError, match="^the CKKS context carries a secret key$"):
        CkksContext.from_bytes(data)
    assert CkksContext.from_bytes(data, allow_secret_key=True).is_private


def test_public_bytes_carry_no_secret_key_if_loaded_by_tenseal():
    # Prepare: a fresh context so the check does not depend on other tests
    owner = CkksContext.create(FAST)

    # Execute
    loaded = ts.context_from(owner.public_bytes()[22:])  # after our 22-byte header

    # Assert
    assert not loaded.is_private()
    assert loaded.has_galois_keys()


def test_masked_decryption_recovers_the_value_if_the_mask_is_subtracted(
    ckks_owner: CkksContext, ckks_peer: CkksContext
):
    # Prepare: the peer computes a score on the owner's encrypted features
    rng = np.random.default_rng(2)
    x, w = rng.uniform(-1, 1, 64), rng.uniform(-1, 1, 64)
    score = to_peer(ckks_owner.encrypt(x), ckks_peer).dot(w)

    # Execute
    masked, mask = mask_for_decryption(score, value_bound=64.0, hiding_bits=30)
    seen_by_owner = ckks_owner.decrypt(to_peer(masked, ckks_owner))
    returned = decrypt_with_flooding(
        ckks_owner, to_peer(masked, ckks_owner), statistical_security_bits=10
    )

    # Assert
    noise = FAST.error_bound * 2**10
    assert abs(seen_by_owner[0] - x @ w) > 1.0  # the owner sees only a masked value
    assert abs(returned[0] - mask[0] - x @ w) < noise + FAST.error_bound


def test_mask_raises_naming_the_headroom_if_the_mask_does_not_fit(
    ckks_owner: CkksContext,
):
    # Prepare: after two plaintext products only the 60-bit first prime is left
    vec = ckks_owner.encrypt([0.5]).mul_plain([1.0]).mul_plain([1.0])

    # Execute / Assert
    with pytest.raises(ValueError) as info:
        mask_for_decryption(vec, value_bound=1.0, hiding_bits=30)
    assert str(info.value) == (
        "a mask of 2^30 needs 32 bits but the ciphertext has 20 bits of headroom left; "
        "mask before the last rescale or lower hiding_bits"
    )


def test_flooding_noise_stays_within_its_bound_if_lambda_is_small(
    ckks_owner: CkksContext,
):
    # Prepare
    x = np.zeros(2000)
    vec = to_peer(ckks_owner.encrypt(x), ckks_owner)

    # Execute
    flooded = decrypt_with_flooding(ckks_owner, vec, statistical_security_bits=8)

    # Assert: noise fills [-2^8 E, 2^8 E] (plus the CKKS error itself)
    width = FAST.error_bound * 2**8
    assert np.abs(flooded).max() <= width + FAST.error_bound
    assert np.abs(flooded).max() > width / 2


def test_preset_raises_if_the_modulus_exceeds_the_he_standard_bound():
    # Execute / Assert
    with pytest.raises(ValueError) as info:
        CkksPreset("TOO_BIG", 8192, (60, 60, 60, 60), 40, 1e-5)
    assert str(info.value) == (
        "preset TOO_BIG: log q = 240 exceeds the 128-bit bound 218 for N = 8192"
    )


def test_precise_preset_meets_its_error_bound_if_used_for_a_dot_product():
    # Prepare
    owner = CkksContext.create(PRECISE)
    rng = np.random.default_rng(3)
    x, w = rng.uniform(-1, 1, PRECISE.slots), rng.uniform(-1, 1, PRECISE.slots)

    # Execute
    dot = to_peer(to_peer(owner.encrypt(x), owner).dot(w), owner)

    # Assert
    assert abs(owner.decrypt(dot)[0] - x @ w) < PRECISE.error_bound


def test_flood_raises_if_the_error_bound_is_not_positive():
    # Execute / Assert
    with pytest.raises(ValueError, match="^error_bound must be positive$"):
        flood([1.0], error_bound=0.0, statistical_security_bits=10)


def test_flood_adds_bounded_noise_if_values_come_from_decrypted_sums():
    # Prepare
    values = np.full(1000, 5.0)

    # Execute
    flooded = flood(values, error_bound=2.0**-20, statistical_security_bits=12)

    # Assert
    assert np.abs(flooded - 5.0).max() <= 2.0**-8
    assert len(np.unique(flooded)) > 990


def test_context_without_galois_keys_is_smaller_if_rotations_are_not_needed(
    ckks_owner: CkksContext,
):
    # Prepare
    owner = CkksContext.create(FAST, galois_keys=False)

    # Execute
    peer = CkksContext.from_bytes(owner.public_bytes())
    vec = to_peer(peer.encrypt([1.0, 2.0]).mul_plain([3.0, 4.0]), owner)

    # Assert
    assert len(owner.public_bytes()) < len(ckks_owner.public_bytes()) / 5
    assert np.allclose(owner.decrypt(vec), [3.0, 8.0], atol=FAST.error_bound)


def _all_slots(owner: CkksContext, vec: CkksVector) -> np.ndarray:
    """Every slot of the first ciphertext, as a curious key holder can decode it."""
    seal_context = owner.tenseal_context.seal_context().data
    decryptor = sealapi.Decryptor(seal_context, owner.tenseal_context.secret_key().data)
    plaintext = sealapi.Plaintext()
    decryptor.decrypt(vec.chunks[0].ciphertext()[0], plaintext)
    return np.array(sealapi.CKKSEncoder(seal_context).decode_double(plaintext))


def test_mask_covers_hidden_slots_if_a_dot_product_left_partial_sums_there(
    ckks_owner: CkksContext, ckks_peer: CkksContext
):
    # Prepare: the peer's weights w; the owner's features x
    x, w = np.arange(1.0, 9.0), np.array([3.0, -1.0, 4.0, 1.0, -5.0, 9.0, 2.0, -6.0])
    score = to_peer(ckks_owner.encrypt(x), ckks_peer).dot(w)
    unmasked = _all_slots(ckks_owner, to_peer(score, ckks_owner))

    # Execute
    masked, _ = mask_for_decryption(score, value_bound=64.0, hiding_bits=30)
    seen = _all_slots(ckks_owner, to_peer(masked, ckks_owner))

    # Assert: without the full-slot mask, slot 1 holds sum(x*w) - x_0*w_0, which gives
    # away w_0; with it, no slot holds a small value
    assert abs(unmasked[1] - (x @ w - x[0] * w[0])) < 1e-3
    assert np.abs(seen).min() > 1.0
