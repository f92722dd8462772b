"""Exact CKKS layer: coefficient masks, exact shares, high-precision slots, exact
re-encryption, flooding and the transcript bound.

Every ciphertext a party receives crosses the wire form (`dump` / `load`). Parameters
are the ones planned for the LR protocol at PRECISE: ciphertexts at scale 2^70,
plaintext weights at 2^19, products at 2^89 without rescaling, 157-bit masks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import tenseal.sealapi as sealapi

from protocol.crypto.ckks import PRECISE, CkksContext
from protocol.crypto.ckks_decode import dd_add, dd_neg
from protocol.crypto.ckks_exact import ExactCkks, slot_sum
from protocol.crypto.ckks_hiding import (
    TranscriptEntry,
    ciphertext_bound_bits,
    constant_error_bound,
    flood,
    transcript_bound_bits,
)
from protocol.crypto.seal_codec import PlaintextData, save_bytes

A, B, K = 70, 19, 157  # ciphertext scale, weight scale, mask bits
PRODUCT = A + B
VALUE_BOUND = 64.0
N = PRECISE.poly_modulus_degree
SLOTS = PRECISE.slots


@pytest.fixture(scope="module")
def owner() -> ExactCkks:
    return ExactCkks(CkksContext.create(PRECISE, galois_keys=False))


@pytest.fixture(scope="module")
def peer(owner: ExactCkks) -> ExactCkks:
    # What the masking party holds: the owner's context as sent, without secret key.
    return ExactCkks(CkksContext.from_bytes(owner.context.public_bytes()))


def send(sender: ExactCkks, receiver: ExactCkks, ciphertext, scale_bits: int):
    return receiver.load(sender.dump(ciphertext), scale_bits=scale_bits)


def product(owner: ExactCkks, peer: ExactCkks, rows: int = 3000, seed: int = 0):
    """The peer's [[e]] * x for the owner's e (|e| <= 1) and the peer's x (|x| <= 32),
    on `rows` of the N/2 slots: like a gradient product of the LR protocol."""
    rng = np.random.default_rng(seed)
    e = np.zeros(SLOTS)
    e[:rows] = rng.uniform(-1, 1, rows)
    x = np.zeros((1, SLOTS))
    x[0, :rows] = np.clip(rng.normal(0, 4, rows), -32, 32)
    encrypted = send(owner, peer, owner.encrypt(e, scale_bits=A), A)
    return peer.weighted_sum([encrypted], x, weight_scale_bits=B), (e * x[0])


def seal_slots(exact: ExactCkks, ciphertext) -> np.ndarray:
    """All N/2 slots as SEAL's own float64 decoder sees them (the key owner's view)."""
    plain = sealapi.Plaintext()
    exact._decryptor.decrypt(ciphertext, plain)
    return np.array(sealapi.CKKSEncoder(exact._seal).decode_complex(plain))


# ---- exact decryption and shares --------------------------------------------------
def test_slot_sum_equals_tenseal_decryption_sum_if_vector_is_a_tenseal_one(
    owner: ExactCkks,
):
    # Prepare: TenSEAL vectors at PRECISE's own scale, one filling the N/2 slots and
    # one of 1000 values (TenSEAL replicates it cyclically over the hidden slots)
    rng = np.random.default_rng(1)
    full = owner.context.encrypt(rng.uniform(-3, 3, SLOTS))
    short = owner.context.encrypt(rng.uniform(-3, 3, 1000))

    # Execute
    totals = [
        slot_sum(
            owner.decrypt_constant(owner.from_tenseal(vector.chunks[0])),
            degree=N,
            scale_bits=PRECISE.scale_bits,
        )
        for vector in (full, short)
    ]

    # Assert: the sum of all N/2 slots' real parts is (N/2) m_0 / D
    assert abs(float(totals[0]) - owner.context.decrypt(full).sum()) < 1e-6
    every_slot = seal_slots(owner, owner.from_tenseal(short.chunks[0])).real
    assert abs(float(totals[1]) - every_slot.sum()) < 1e-6
    assert abs(float(totals[1]) - owner.context.decrypt(short).sum()) > 1.0


def test_shares_add_up_to_the_plaintext_exactly_if_masked_at_full_headroom(
    owner: ExactCkks, peer: ExactCkks
):
    # Prepare
    value, _ = product(owner, peer)
    plain = owner.decrypt_polynomial(value).ints()

    # Execute: the peer masks; the owner decrypts what it receives
    masked, mask = peer.mask(value, bits=K, value_bound=VALUE_BOUND)
    received = send(peer, owner, masked, PRODUCT)
    constant = owner.decrypt_constant(received)
    coefficients = owner.decrypt_polynomial(received).ints()

    # Assert: owner's share + masker's share (-U) = plaintext, every coefficient
    mask_coefficients = [v + mask.offset for v in _limb_ints(mask.limbs)]
    assert constant - mask.constant() == plain[0]
    assert [
        c - u for c, u in zip(coefficients, mask_coefficients, strict=True)
    ] == plain


def _limb_ints(limbs: np.ndarray) -> list[int]:
    return [
        sum(int(limbs[i, k]) << (32 * i) for i in range(len(limbs)))
        for k in range(limbs.shape[1])
    ]


def test_gradient_sum_is_recovered_from_the_constant_shares_if_masked(
    owner: ExactCkks, peer: ExactCkks
):
    # Prepare
    value, expected = product(owner, peer, seed=2)
    masked, mask = peer.mask(value, bits=K, value_bound=VALUE_BOUND)

    # Execute
    owner_share = slot_sum(
        owner.decrypt_constant(send(peer, owner, masked, PRODUCT)),
        degree=N,
        scale_bits=PRODUCT,
    )
    masker_share = slot_sum(-mask.constant(), degree=N, scale_bits=PRODUCT)

    # Assert: within the encoding error of x at 2^19 (~2^-13 per slot)
    assert abs(float(owner_share + masker_share) - expected.sum()) < 0.05
    assert abs(float(owner_share)) > 2.0**60  # the owner's share alone is noise


def test_masked_coefficients_stay_within_the_mask_range_if_values_are_bounded(
    owner: ExactCkks, peer: ExactCkks
):
    # Prepare
    value, _ = product(owner, peer, seed=3)
    reach = max(abs(v) for v in owner.decrypt_polynomial(value).ints())

    # Execute
    masked, _ = peer.mask(value, bits=K, value_bound=VALUE_BOUND)
    coefficients = owner.decrypt_polynomial(send(peer, owner, masked, PRODUCT)).ints()

    # Assert: in [-2^(K-1) - max|m|, 2^(K-1) + max|m|], and spread over that range
    assert max(abs(c) for c in coefficients) <= 2 ** (K - 1) + reach
    assert max(coefficients) > 2 ** (K - 2) and min(coefficients) < -(2 ** (K - 2))
    assert reach < 2.0 ** (PRODUCT + 6)


def test_mask_leaves_no_slot_unmasked_if_decoded_with_the_secret_key(
    owner: ExactCkks, peer: ExactCkks
):
    # Prepare: a product whose hidden slots (beyond the rows) are zero
    value, _ = product(owner, peer, rows=100, seed=4)
    before = seal_slots(owner, value)

    # Execute
    masked, _ = peer.mask(value, bits=K, value_bound=VALUE_BOUND)
    after = seal_slots(owner, send(peer, owner, masked, PRODUCT))

    # Assert: every real and imaginary part of all N/2 slots now carries the mask
    # (each a sum of N uniform terms, deviation ~2^72: any below 2^40 w.p. < 2^-19)
    assert np.abs(before[100:]).max() < 1e-3
    assert np.abs(after.real).min() > 2.0**40
    assert np.abs(after.imag).min() > 2.0**40


def test_mask_refuses_if_the_mask_would_wrap_modulo_q(
    owner: ExactCkks, peer: ExactCkks
):
    # Prepare
    value, _ = product(owner, peer, rows=10)

    # Execute / Assert
    with pytest.raises(ValueError, match="a 158-bit mask does not fit: at most 157"):
        peer.mask(value, bits=K + 1, value_bound=VALUE_BOUND)


def test_uniform_mask_reveals_the_constant_only_if_its_constant_is_sent(
    owner: ExactCkks, peer: ExactCkks
):
    # Prepare
    value, expected = product(owner, peer, seed=5)

    # Execute
    masked, revealed = peer.mask_uniform(value)
    received = send(peer, owner, masked, PRODUCT)
    constant = owner.decrypt_constant(received)
    coefficients = owner.decrypt_polynomial(received).ints()

    # Assert: m_0 exactly from c_0 - U_0 (mod q), the rest spread over all of q
    m0 = owner.basis.centered(constant - revealed)
    assert (
        abs(float(slot_sum(m0, degree=N, scale_bits=PRODUCT)) - expected.sum()) < 0.05
    )
    assert max(abs(c) for c in coefficients) > owner.basis.q // 4


# ---- slots in double-double precision ---------------------------------------------
def test_slots_agree_with_seal_decoder_if_values_are_small(
    owner: ExactCkks, peer: ExactCkks
):
    # Prepare
    value, _ = product(owner, peer, seed=6)

    # Execute
    hi, lo = owner.decrypt_polynomial(value).slots()

    # Assert
    reference = seal_slots(owner, value)
    assert np.abs((hi[0] + lo[0]) - reference.real).max() < 1e-9
    assert np.abs((hi[1] + lo[1]) - reference.imag).max() < 1e-9


def test_slot_shares_recover_values_to_2_pow_minus_28_if_masked_at_full_headroom(
    owner: ExactCkks, peer: ExactCkks
):
    # Prepare
    value, _ = product(owner, peer, seed=7)
    truth = owner.decrypt_polynomial(value).slots()
    masked, mask = peer.mask(value, bits=K, value_bound=VALUE_BOUND)
    received = owner.decrypt_polynomial(send(peer, owner, masked, PRODUCT))

    # Execute
    combined = dd_add(received.slots(), dd_neg(mask.slots()))
    period = 40.0
    shares = received.share_mod(period) + mask.share_mod(period)

    # Assert: masked slots reach ~2^73, and the shares still give the values
    error = (combined[0] - truth[0]) + (combined[1] - truth[1])
    assert np.abs(mask.slots()[0]).max() > 2.0**70
    assert np.abs(error).max() < 2.0**-28
    wrapped = np.mod(shares - (truth[0][0] + truth[1][0]) + period / 2, period)
    assert np.abs(wrapped - period / 2).max() < 2.0**-28


def test_decoder_relative_error_is_below_2_pow_minus_100_if_slots_reach_2_pow_90(
    owner: ExactCkks, peer: ExactCkks
):
    # Prepare: a product at scale 2^72 masked with 2^157: slots of ~2^91
    rng = np.random.default_rng(8)
    e = send(owner, peer, owner.encrypt(rng.uniform(-1, 1, SLOTS), scale_bits=50), 50)
    value = peer.weighted_sum([e], rng.uniform(-1, 1, (1, SLOTS)), weight_scale_bits=22)
    truth = owner.decrypt_polynomial(value).slots()
    masked, mask = peer.mask(value, bits=K, value_bound=4.0)

    # Execute
    received = owner.decrypt_polynomial(send(peer, owner, masked, 72)).slots()
    combined = dd_add(received, dd_neg(mask.slots()))

    # Assert
    magnitude = np.abs(mask.slots()[0]).max()
    error = np.abs((combined[0] - truth[0]) + (combined[1] - truth[1])).max()
    assert magnitude > 2.0**90
    assert error < magnitude * 2.0**-100


# ---- exact re-encryption ------------------------------------------------------------
def test_replicated_masked_value_cancels_exactly_if_owner_adds_its_part(
    owner: ExactCkks, peer: ExactCkks
):
    # Prepare: a step of 0.37 hidden by a 2^140 mask, split between the two parties
    step = round(0.37 * 2**A)
    mask = (1 << 140) + 123456789
    masked_step = step + mask

    # Execute: the owner encrypts the masked value; the peer adds -mask exactly, as
    # a plaintext or as its own encryption
    encrypted = send(owner, peer, owner.encrypt_constant(masked_step, scale_bits=A), A)
    as_plain = send(peer, owner, peer.add_constant(encrypted, -mask), A)
    part = peer.encrypt_constant(-mask, scale_bits=A)
    as_cipher = send(peer, owner, peer.add(encrypted, part), A)

    # Assert: the constant is the step up to fresh encryption noise; every slot 0.37
    for total in (as_plain, as_cipher):
        assert abs(owner.decrypt_constant(total) - step) < 2**10
        assert np.abs(seal_slots(owner, total) - 0.37).max() < 2.0**-50


def test_rescale_in_the_clear_is_exact_up_to_fresh_noise_if_both_parties_shift(
    owner: ExactCkks, peer: ExactCkks
):
    # Prepare: the peer's masked product (like the masked sigmoid)
    value, expected = product(owner, peer, seed=9)
    masked, mask = peer.mask(value, bits=K, value_bound=VALUE_BOUND)
    labels = (np.random.default_rng(9).uniform(size=SLOTS) < 0.3).astype(float)

    # Execute: the owner subtracts its labels, rescales by 2^B in the clear and
    # re-encrypts; the peer removes floor(U / 2^B) exactly
    received = owner.add_values(send(peer, owner, masked, PRODUCT), -labels)
    share = owner.decrypt_polynomial(received).shifted_residues(B)
    encrypted = send(owner, peer, owner.encrypt_integers(share, scale_bits=A), A)
    unmasked = peer.add_integers(encrypted, _negated(peer, mask.shifted_residues(B)))

    # Assert: per coefficient, floor((m + U - Y) / 2^B) - floor(U / 2^B) is
    # (m - Y) / 2^B to within 1, plus the re-encryption's fresh noise (~21 sigma)
    back = send(peer, owner, unmasked, A)
    exact = owner.decrypt_polynomial(owner.add_values(value, -labels)).ints()
    rescaled = owner.decrypt_polynomial(back).ints()
    assert max(abs(r - (m >> B)) for r, m in zip(rescaled, exact, strict=True)) < 2**9
    slots = seal_slots(owner, back)
    assert np.abs(slots.real - (expected - labels)).max() < 1e-3  # x at 2^19
    truth = seal_slots(owner, owner.add_values(value, -labels))
    assert np.abs(slots - truth).max() < 1e-12


def _negated(exact: ExactCkks, residues: np.ndarray) -> np.ndarray:
    p = np.array(exact.basis.primes, dtype=np.uint64)[:, None]
    return np.where(residues == 0, residues, p - residues)


# ---- wire and keys -------------------------------------------------------------------
def test_load_refuses_if_the_scale_is_not_the_expected_one(
    owner: ExactCkks, peer: ExactCkks
):
    # Prepare
    data = owner.dump(owner.encrypt([1.0], scale_bits=A))

    # Execute / Assert
    with pytest.raises(ValueError, match=r"expected a ciphertext at scale 2\^89"):
        peer.load(data, scale_bits=PRODUCT)


def test_load_refuses_if_the_bytes_are_not_a_seal_ciphertext(peer: ExactCkks):
    # Execute / Assert
    with pytest.raises(
        ValueError, match="not a valid SEAL ciphertext for this context"
    ):
        peer.load(b"\x5e\xa1" + b"\0" * 100, scale_bits=A)


def test_load_refuses_if_bytes_follow_the_ciphertext(owner: ExactCkks, peer: ExactCkks):
    # Prepare: SEAL alone would load the ciphertext and ignore the rest
    data = owner.dump(owner.encrypt([1.0], scale_bits=A))

    # Execute / Assert
    with pytest.raises(ValueError, match="its length does not match its header"):
        peer.load(data + b"\0", scale_bits=A)
    assert peer.load(data, scale_bits=A).size() == 2


def test_public_context_cannot_decrypt_if_it_has_no_secret_key(
    owner: ExactCkks, peer: ExactCkks
):
    # Prepare
    ciphertext = send(owner, peer, owner.encrypt([1.0], scale_bits=A), A)

    # Execute / Assert
    with pytest.raises(ValueError, match="has no secret key and cannot decrypt"):
        peer.decrypt_constant(ciphertext)
    with pytest.raises(ValueError, match="has no secret key and cannot decrypt"):
        peer.decrypt_polynomial(ciphertext)


# ---- flooding and bounds ----------------------------------------------------------
def test_constant_error_bound_covers_the_measured_error_if_products_are_fresh(
    owner: ExactCkks, peer: ExactCkks
):
    # Prepare
    rng = np.random.default_rng(10)
    errors, bounds = [], []
    for _ in range(4):
        e, x = rng.uniform(-1, 1, SLOTS), np.clip(rng.normal(0, 4, SLOTS), -32, 32)
        pe = owner.encode_integers(e, scale_bits=A)
        px = peer.encode_integers(x, scale_bits=B)
        exact = pe[0] * px[0] - sum(pe[k] * px[N - k] for k in range(1, N))

        # Execute
        encrypted = send(owner, peer, owner.encrypt(e, scale_bits=A), A)
        value = peer.weighted_sum([encrypted], x[None, :], weight_scale_bits=B)
        errors.append(abs(owner.decrypt_constant(value) - exact))
        bounds.append(
            constant_error_bound(
                degree=N, weight_scale_bits=B, weight_bound=float(np.abs(x).max())
            )
        )

    # Assert: the errors are real, and within half the 13-sigma bound (RMS weights)
    assert 0 < max(errors) < min(bounds) / 2


def test_flood_stays_within_its_width_if_bits_and_bound_are_given():
    # Prepare
    values = [10**40, -(10**40), 0]

    # Execute
    flooded = [flood(values, error_bound=1000, bits=40) for _ in range(50)]

    # Assert
    offsets = [f - v for run in flooded for f, v in zip(run, values, strict=True)]
    assert max(abs(o) for o in offsets) <= 1000 * 2**40
    assert len(set(offsets)) == len(offsets)
    assert max(abs(o) for o in offsets) > 1000 * 2**38


def test_flood_refuses_if_bits_are_not_positive():
    with pytest.raises(ValueError, match="bits and error_bound must be positive"):
        flood([1], error_bound=1, bits=0)


def test_ciphertext_bound_bits_follow_the_formula_if_the_mask_is_bounded():
    # Execute
    bits = ciphertext_bound_bits(
        degree=N, scale_bits=PRODUCT, value_bound=VALUE_BOUND, mask_bits=K
    )
    uniform = ciphertext_bound_bits(
        degree=N, scale_bits=PRODUCT, value_bound=VALUE_BOUND, mask_bits=None
    )

    # Assert: K - log2 D - log2 V - log2(N)/2 = 157 - 89 - 6 - 6.5
    assert bits == pytest.approx(55.5)
    assert uniform == math.inf


def default_lr_transcript(epochs: int) -> list[TranscriptEntry]:
    """Every decryption of an LR job (bench_lr: 21k training rows, batches of 4096
    -> 6 per epoch, 13 bank features + intercept, 10 operator features, one train
    and three validation evaluation chunks per epoch), under the planned masks."""
    batches, chunks, bank, operator = 6, 4, 14, 10

    def entry(count: int, value_bound: float, mask_bits: int | None):
        return TranscriptEntry(epochs * count, value_bound, PRODUCT, mask_bits, N)

    return [
        entry(batches * (bank + operator), VALUE_BOUND, K),  # gradient products
        entry(2 * (batches + chunks), VALUE_BOUND, K),  # masked logits, both ways
        entry(batches, 2.0, K),  # the masked sigmoid (|sigmoid| <= 1.01)
        entry(chunks, VALUE_BOUND, None),  # the loss, mask uniform modulo q
    ]


def test_transcript_bound_is_at_least_40_bits_if_the_job_is_a_default_lr_job():
    # Execute
    bits = transcript_bound_bits(default_lr_transcript(epochs=30))
    at_policy_maximum = transcript_bound_bits(default_lr_transcript(epochs=200))

    # Assert
    assert bits >= 43
    assert at_policy_maximum >= 40


def test_plaintext_layout_round_trips_if_saved_by_seal(owner: ExactCkks):
    # Prepare
    plain = owner._plain([1.5, -2.0], A)

    # Execute
    data = PlaintextData.from_bytes(save_bytes(plain), N)

    # Assert
    assert data.data.shape == (len(owner.basis.primes), N)
    assert data.scale == 2.0**A and data.parms_id == owner.parms_id


def test_imaginary_sums_of_both_parties_give_the_plaintexts_if_complex_products(
    owner: ExactCkks, peer: ExactCkks
):
    # Prepare: complex slots e^{i theta} times complex plaintext weights, as in the
    # LR protocol's sigmoid (real part: the function, imaginary part: an indicator)
    rng = np.random.default_rng(11)
    theta = rng.uniform(0, 2 * np.pi, SLOTS)
    weights = 0.3j * np.exp(1j * rng.uniform(0, 2 * np.pi, SLOTS))
    encrypted = send(owner, peer, owner.encrypt(np.exp(1j * theta), scale_bits=A), A)
    value = peer.weighted_sum([encrypted], weights[None, :], weight_scale_bits=B)
    expected = (np.exp(1j * theta) * weights).imag.sum()
    # Execute
    masked, mask = peer.mask(value, bits=K, value_bound=2.0)
    received = owner.decrypt_polynomial(send(peer, owner, masked, PRODUCT))
    total = received.imaginary_sum(40) - mask.imaginary_sum(40)
    # Assert: to the encoding error of the weights at 2^19 summed over the slots
    assert abs(total / 2.0**40 - expected) < 0.05
    assert abs(received.imaginary_sum(40)) > 2**100  # alone it is noise


def test_symmetric_encryption_is_used_and_decrypts_if_the_party_holds_the_key(
    owner: ExactCkks, peer: ExactCkks
):
    # Execute
    own = owner.encrypt([1.25, -2.5], scale_bits=A)
    public = peer.encrypt([1.25, -2.5], scale_bits=A)
    # Assert: both decrypt to the values; the symmetric one has the smaller error
    for ciphertext in (own, send(peer, owner, public, A)):
        slots = seal_slots(owner, ciphertext)
        assert np.abs(slots[:2].real - [1.25, -2.5]).max() < 2.0**-50
    assert owner._symmetric is not None and peer._symmetric is None


def test_weighted_sum_skips_weights_below_the_encoding_resolution(
    owner: ExactCkks, peer: ExactCkks
) -> None:
    # Prepare: one row's feature value so small that it encodes to the zero
    # polynomial at 2^B (a one-row batch of an almost-constant column); SEAL refuses
    # a product by a zero plaintext as a transparent ciphertext.
    e = np.zeros(SLOTS)
    e[:2] = (0.5, -0.25)
    encrypted = send(owner, peer, owner.encrypt(e, scale_bits=A), A)
    weights = np.zeros((2, SLOTS))
    weights[0, 0] = 2.0**-40  # nonzero, below the 2^-19 resolution
    weights[1, 0] = 3.0
    # Execute
    value = peer.weighted_sum([encrypted, encrypted], weights, weight_scale_bits=B)
    # Assert: the tiny weight contributes nothing, the other one its product
    assert seal_slots(owner, value)[0].real == pytest.approx(1.5, abs=1e-4)
