"""How much the LR protocol's masks hide over a whole job, computed with the same value
bounds the parties use (protocol.hetero_lr.party): the default job on default_credit
stays at or above 40 bits of statistical hiding, the bounds are guaranteed (a party's
recorded bound covers its true partial logits), and a masking whose bound would fall
below the per-ciphertext minimum is refused."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bank_node.trainers.hetero_lr_driver import draw_batches
from models.preprocess import FeaturePreprocessor
from protocol.crypto.ckks import PRECISE, CkksContext
from protocol.hetero_lr.party import (
    DEFAULT_CLIP,
    SIGMOID_BITS,
    BankLrParty,
    HidingLedger,
    LrHyper,
    OperatorLrParty,
    ProtocolStateError,
    evaluation_chunks,
    gradient_value_bound,
    logit_value_bound,
    spectral_norm,
    step_norm_bound,
)
from scripts.fate_data import load_joined

SLOTS, DEGREE = PRECISE.slots, PRECISE.poly_modulus_degree


def default_credit() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bank (13 features + intercept) and operator (10) inputs as the parties prepare
    them, train rows first (21,000 of 30,000, as bench_lr), and the labels."""
    guest, host = load_joined("default_credit")
    rng = np.random.default_rng(42)
    train = rng.permutation(len(guest))[:21000]
    blocks = []
    for frame in (guest.drop(columns=["id", "y"]), host.drop(columns=["id"])):
        kinds = {c: "numeric" for c in frame.columns}
        pre = FeaturePreprocessor.fit(frame.iloc[train], kinds, clip=DEFAULT_CLIP)
        blocks.append(pre.transform(frame))
    bank = np.c_[blocks[0], np.ones(len(guest))]
    return bank, blocks[1], train, guest["y"].to_numpy(float)


def job_ledgers(
    bank: np.ndarray,
    operator: np.ndarray,
    train: np.ndarray,
    epochs: int,
    hyper: LrHyper = LrHyper(),
    batch_size: int = 4096,
    min_batch: int = 1024,
) -> tuple[HidingLedger, HidingLedger]:
    """What the bank and the operator each mask over a job (the driver's batches and
    evaluation chunks, at range level 0), with the parties' own bounds."""
    ledgers = (HidingLedger(DEGREE), HidingLedger(DEGREE))
    bounds = [0.0, 0.0]
    level = hyper.level(0)
    rng = np.random.default_rng(7)
    validation = np.setdiff1d(np.arange(len(bank)), train)
    chunks = [train[c] for c in evaluation_chunks(min(SLOTS, len(train)), SLOTS)]
    chunks += [validation[c] for c in evaluation_chunks(len(validation), SLOTS)]
    for epoch in range(epochs):
        for rows in draw_batches(np.arange(len(train)), batch_size, min_batch, rng):
            for i, x in enumerate((bank[train[rows]], operator[train[rows]])):
                ledgers[i].record("logits", logit_value_bound(x, bounds[i], SLOTS))
                for column in x.T:
                    ledgers[i].record(
                        "gradients",
                        gradient_value_bound(column, hyper.residual_bound, SLOTS),
                    )
                norm = spectral_norm(x)
                bounds[i] += step_norm_bound(
                    norm, len(rows), x.shape[1], hyper.rate(epoch), hyper
                )
            ledgers[1].record("sigmoid", level.sigmoid_bound, SIGMOID_BITS)
        for rows in chunks:
            for i, x in enumerate((bank[rows], operator[rows])):
                ledgers[i].record("logits", logit_value_bound(x, bounds[i], SLOTS))
            ledgers[1].record("loss", level.loss_bound)
    return ledgers


def combined_bits(ledgers: tuple[HidingLedger, HidingLedger]) -> float:
    total = sum(sum(ledger.distance.values()) for ledger in ledgers)
    return -math.log2(total)


@pytest.fixture(scope="module")
def credit() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return default_credit()


def test_transcript_hides_at_least_40_bits_if_the_job_is_the_default_job(
    credit: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    # Prepare
    bank, operator, train, _ = credit
    # Execute: 30 epochs of batches of 4,096 rows (bench_lr's job)
    ledgers = job_ledgers(bank, operator, train, epochs=30)
    # Assert: both views together (a union bound over every masked decryption)
    bits = combined_bits(ledgers)
    print(f"default job: {bits:.2f} bits; bank view {ledgers[1].bits():.2f},"
          f" operator view {ledgers[0].bits():.2f}; counts {ledgers[0].count}"
          f" {ledgers[1].count}")  # fmt: skip
    assert bits >= 40
    assert ledgers[1].count == {
        "logits": 30 * (6 + 4),
        "sigmoid": 30 * 6,
        "gradients": 30 * 6 * 10,
        "loss": 30 * 4,
    }


def test_transcript_bound_at_the_policy_maximum_is_computed_if_200_epochs(
    credit: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    # Prepare
    bank, operator, train, _ = credit
    # Execute: the policy's default max_epochs
    ledgers = job_ledgers(bank, operator, train, epochs=200)
    # Assert: what the README states for the longest job the policy allows
    bits = combined_bits(ledgers)
    print(f"200 epochs: {bits:.2f} bits")
    assert bits >= 36


def test_logit_bound_covers_the_true_partial_logits_if_weights_are_revealed() -> None:
    # Prepare: a small job in process, where the revealed weights show the truth
    bank_keys = CkksContext.create(PRECISE, galois_keys=False)
    op_keys = CkksContext.create(PRECISE, galois_keys=False)
    rng = np.random.default_rng(3)
    xb = np.c_[np.clip(rng.normal(size=(600, 3)) * 2, -4, 4), np.ones(600)]
    xo = np.clip(rng.normal(size=(600, 2)) * 2, -4, 4)
    y = (rng.uniform(size=600) < 1 / (1 + np.exp(-(xb[:, 0] - xo[:, 1])))).astype(float)
    hyper = LrHyper(learning_rate=2.0)
    bank = BankLrParty(
        xb, 2, bank_keys, CkksContext.from_bytes(op_keys.public_bytes()), hyper,
        own_intercept=3, labels=y, clip=4.0,
    )  # fmt: skip
    operator = OperatorLrParty(
        xo, 4, op_keys, CkksContext.from_bytes(bank_keys.public_bytes()), hyper,
        peer_intercept=3, clip=4.0,
    )  # fmt: skip
    # Execute: four batches of 300 rows
    pending = None
    for rows in (np.arange(300), np.arange(300, 600)) * 2:
        bank.start(rows)
        logits = bank.masked_logits()
        if pending is not None:
            operator.apply_step(pending, 0)
        operator.start(rows)
        masked, part, zone = operator.sigmoid(
            logits, bank.sigmoid_request(operator.masked_logits())
        )
        share, products = bank.backward_request(masked, part, zone)
        op_products = operator.backward(share)
        bank.apply_step(operator.masked_peer_step(products, 0), 0)
        pending = bank.masked_peer_step(op_products, 0)
    operator.apply_step(pending, 0)
    bank.keep_best()
    operator.keep_best()
    wb = bank.own_weights(operator.reveal_sum())
    wo = operator.own_weights(bank.reveal_sum())
    # Assert: the guaranteed bounds hold, and they are not vacuous
    assert np.linalg.norm(wb) <= bank.weight_bound
    assert np.linalg.norm(wo) <= operator.weight_bound
    assert bank.weight_bound < 50 * np.linalg.norm(wb)
    rms = np.sqrt(np.sum((xb @ wb)[:300] ** 2) / SLOTS)
    assert rms <= logit_value_bound(xb[:300], bank.weight_bound, SLOTS)


def test_masking_is_refused_if_the_guaranteed_bound_leaves_too_few_bits() -> None:
    # Prepare: a weight bound that has grown to 2^20 (a huge rate over many steps)
    ledger = HidingLedger(DEGREE)
    x = np.ones((4096, 10))
    # Execute / Assert
    with pytest.raises(ProtocolStateError, match="bits of statistical hiding"):
        ledger.record("logits", logit_value_bound(x, 2.0**20, SLOTS))
    assert ledger.count == {}


def test_party_refuses_features_beyond_the_clip_if_the_bound_would_not_hold() -> None:
    # Prepare
    keys = CkksContext.create(PRECISE, galois_keys=False)
    peer = CkksContext.from_bytes(CkksContext.create(PRECISE).public_bytes())
    x = pd.DataFrame({"a": [0.5, 9.0]}).to_numpy()
    # Execute / Assert
    with pytest.raises(ValueError, match=r"clipped to \+-8"):
        OperatorLrParty(x, 2, keys, peer, LrHyper(), clip=8.0)
