"""The evaluation protocol's Paillier work: the bank reads exactly the multiset of
(joint score, label) pairs, in an order that is not the rows', with share carries
hidden; every metric computed from it equals the metric of the per-row scores."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.metrics import evaluate
from protocol.crypto import paillier
from protocol.crypto.paillier_keys import (
    PaillierPrivateKey,
    PaillierPublicKey,
    generate_keypair,
)
from protocol.crypto.wire import vector_from_bytes, vector_to_bytes
from protocol.evaluation.messages import ScoreKind
from protocol.evaluation.party import (
    FLOOD_BITS,
    MAX_ROW_EVALUATIONS,
    PARTIAL_SCALE_BITS,
    SHARE_BITS,
    addend_plaintexts,
    carry_hiding_bits,
    decrypt_pairs,
    encrypt_rows,
    pair_packing,
    partial_units,
    share_units,
    shuffle_and_pack,
)

PERIOD = 40.0


@pytest.fixture(scope="module")
def keys() -> tuple[PaillierPublicKey, PaillierPrivateKey]:
    return generate_keypair(1024, allow_insecure_test_key=True)


def _round_trip(
    keys: tuple[PaillierPublicKey, PaillierPrivateKey],
    bank_units: np.ndarray,
    operator_units: np.ndarray,
    labels: np.ndarray,
    kind: ScoreKind,
):
    """Both parties' steps with the wire in between; the packed pairs."""
    public, private = keys
    sent = encrypt_rows(private, bank_units, labels, kind)
    received = vector_from_bytes(vector_to_bytes(sent), public)
    pairs = shuffle_and_pack(received, addend_plaintexts(operator_units, kind))
    return vector_from_bytes(vector_to_bytes(pairs), public)


def test_bank_reads_the_multiset_of_joint_scores_if_parts_are_partial_scores(
    keys: tuple[PaillierPublicKey, PaillierPrivateKey],
) -> None:
    # Prepare
    rng = np.random.default_rng(1)
    bank, operator = rng.normal(0, 2, 500), rng.normal(0, 1, 500)
    labels = rng.integers(0, 2, 500)
    # Execute
    pairs = _round_trip(
        keys, partial_units(bank), partial_units(operator), labels, ScoreKind.PARTIAL
    )
    scores, got_labels = decrypt_pairs(keys[1], pairs, ScoreKind.PARTIAL, 0.0)
    # Assert: the per-row joint scores at 2^-24, as a multiset
    joint = np.ldexp(
        (partial_units(bank) + partial_units(operator)).astype(float),
        -PARTIAL_SCALE_BITS,
    )
    order = np.lexsort((labels, joint))
    assert np.array_equal(scores, joint[order])
    assert np.array_equal(got_labels, labels[order])
    assert len(pairs.ciphertexts) == math.ceil(500 / pair_packing(
        ScoreKind.PARTIAL, 1024).n_slots)  # fmt: skip


def test_metrics_from_the_multiset_equal_the_per_row_metrics_exactly(
    keys: tuple[PaillierPublicKey, PaillierPrivateKey],
) -> None:
    # Prepare: a scored split, ties included
    rng = np.random.default_rng(2)
    bank = np.round(rng.normal(-1, 1, 800), 1)
    operator = np.round(rng.normal(0, 1, 800), 1)
    labels = (rng.random(800) < 1 / (1 + np.exp(-(bank + operator)))).astype(int)
    b_units, o_units = partial_units(bank), partial_units(operator)
    pairs = _round_trip(keys, b_units, o_units, labels, ScoreKind.PARTIAL)
    per_row = np.ldexp((b_units + o_units).astype(float), -PARTIAL_SCALE_BITS)
    # Execute
    scores, got_labels = decrypt_pairs(keys[1], pairs, ScoreKind.PARTIAL, 0.0)
    from_multiset = evaluate(got_labels, 1 / (1 + np.exp(-scores)), threshold=0.3)
    from_rows = evaluate(labels, 1 / (1 + np.exp(-per_row)), threshold=0.3)
    # Assert
    assert from_multiset.to_dict() == from_rows.to_dict()


def test_bank_reads_the_logit_modulo_the_period_if_parts_are_shares(
    keys: tuple[PaillierPublicKey, PaillierPrivateKey],
) -> None:
    # Prepare: uniform shares of logits z (at least 5 units apart, so that rounding
    # keeps their order), as after an evaluation Forward
    rng = np.random.default_rng(3)
    unit = PERIOD / 2**SHARE_BITS
    z = 5 * unit * rng.permutation(np.arange(-6000, 6000))[:400]
    bank_share = rng.uniform(0, PERIOD, 400)
    operator_share = np.mod(z - bank_share, PERIOD)
    labels = rng.integers(0, 2, 400)
    # Execute
    pairs = _round_trip(
        keys,
        share_units(bank_share, PERIOD),
        share_units(operator_share, PERIOD),
        labels,
        ScoreKind.SHARE,
    )
    logits, got_labels = decrypt_pairs(keys[1], pairs, ScoreKind.SHARE, PERIOD)
    # Assert: each logit within one unit of rounding per share
    order = np.lexsort((labels, z))
    assert np.abs(logits - z[order]).max() <= unit
    assert np.array_equal(got_labels, labels[order])


def test_share_sums_carry_a_64_bit_flood_above_the_logit_if_the_bank_decrypts_them(
    keys: tuple[PaillierPublicKey, PaillierPrivateKey],
) -> None:
    # Prepare: shares whose sum wraps for about half of the rows
    rng = np.random.default_rng(4)
    bank_share = rng.uniform(0, PERIOD, 300)
    operator_share = np.mod(1.0 - bank_share, PERIOD)
    pairs = _round_trip(
        keys,
        share_units(bank_share, PERIOD),
        share_units(operator_share, PERIOD),
        np.zeros(300, dtype=int),
        ScoreKind.SHARE,
    )
    # Execute: everything the bank can see above the logit's bits
    plain = paillier.decrypt_packed(keys[1], pairs)
    above = [v >> (1 + SHARE_BITS) for v in plain]
    # Assert: U + carry spans the flood's 64 bits, not {0, 1}
    assert max(above) < 2**FLOOD_BITS
    assert min(a.bit_length() for a in above) > FLOOD_BITS - 20


def test_carry_hiding_is_at_least_40_bits_if_a_job_stays_within_its_budget() -> None:
    # Prepare: the default demo's validation split at the policy's 200 epochs
    rows = 4768 * 201
    # Execute / Assert
    assert carry_hiding_bits(rows) >= 40
    assert carry_hiding_bits(MAX_ROW_EVALUATIONS) == 40
    assert carry_hiding_bits(MAX_ROW_EVALUATIONS + 1) < 40


def test_operator_puts_the_rows_in_a_random_order_if_it_packs_them(
    keys: tuple[PaillierPublicKey, PaillierPrivateKey],
) -> None:
    # Prepare: distinct values, so that the decrypted order shows where row 0 went
    units = np.arange(60)
    public, private = keys
    sent = encrypt_rows(private, units, np.zeros(60, dtype=int), ScoreKind.PARTIAL)
    # Execute
    firsts = set()
    for _ in range(8):
        addends = addend_plaintexts(np.zeros(60), ScoreKind.PARTIAL)
        pairs = shuffle_and_pack(sent, addends)
        order = [v >> 1 for v in paillier.decrypt_packed(private, pairs)]
        firsts.add(order.index(0))
    # Assert
    assert sorted(order) == list(range(60)) and order != list(range(60))
    assert len(firsts) > 1


def test_partial_units_raise_if_a_score_is_outside_the_protocol_range() -> None:
    # Execute
    with pytest.raises(ValueError) as info:
        partial_units(np.array([0.0, 300.0]))
    # Assert
    assert str(info.value).startswith("partial scores must lie within +-256:")
