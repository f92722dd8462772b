"""The two LR parties in one process: the protocol reproduces plaintext gradient
descent with the same Fourier sigmoid, the reveal is exact, every key stays with its
owner, nothing a party decrypts carries the other's plaintext, malformed ciphertexts
are refused before any state changes, and the masks' value bounds hold."""

from __future__ import annotations

import numpy as np
import pytest
import tenseal.sealapi as sealapi

from protocol.crypto.ckks import PRECISE, CkksContext
from protocol.crypto.ckks_exact import ExactCkks
from protocol.hetero_lr.party import (
    BankLrParty,
    LrHyper,
    OperatorLrParty,
    ProtocolStateError,
    evaluation_chunks,
)

Contexts = tuple[CkksContext, CkksContext, CkksContext, CkksContext]


@pytest.fixture(scope="module")
def contexts() -> Contexts:
    bank = CkksContext.create(PRECISE, galois_keys=False)
    operator = CkksContext.create(PRECISE, galois_keys=False)
    return (
        bank,
        operator,
        CkksContext.from_bytes(bank.public_bytes()),
        CkksContext.from_bytes(operator.public_bytes()),
    )


def data(n: int = 900) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    xb = np.c_[rng.normal(size=(n, 3)), np.ones(n)]
    xo = rng.normal(size=(n, 4))
    w = np.array([0.8, -0.5, 0.3, -0.7, 1.2, -0.9, 0.4, 0.6])
    p = 1 / (1 + np.exp(-np.c_[xb, xo] @ w))
    return xb, xo, (rng.uniform(size=n) < p).astype(float)


def make_parties(
    contexts: Contexts, hyper: LrHyper, clip: float = 4.0
) -> tuple[BankLrParty, OperatorLrParty, np.ndarray, np.ndarray, np.ndarray]:
    bank_keys, op_keys, bank_pub, op_pub = contexts
    xb, xo, y = data()
    bank = BankLrParty(
        xb, xo.shape[1], bank_keys, op_pub, hyper, own_intercept=3, labels=y,
        clip=clip,
    )  # fmt: skip
    operator = OperatorLrParty(
        xo, xb.shape[1], op_keys, bank_pub, hyper, peer_intercept=3, clip=clip
    )
    return bank, operator, xb, xo, y


def run_batches(bank, operator, batches, epoch, record=None):
    """The driver's three calls per batch; `record` collects what each side decrypts."""
    pending = None
    for rows in batches:
        bank.start(rows)
        bank_logits = bank.masked_logits()
        if pending is not None:
            operator.apply_step(pending, epoch)
        operator.start(rows)
        op_logits = operator.masked_logits()
        masked, neg_mask, zone = operator.sigmoid(
            bank_logits, bank.sigmoid_request(op_logits)
        )
        share, products = bank.backward_request(masked, neg_mask, zone)
        op_products = operator.backward(share)
        if record is not None:
            record["operator"] += [bank_logits, *products]
            record["bank"] += [op_logits, masked, *op_products]
        bank.apply_step(operator.masked_peer_step(products, epoch), epoch)
        pending = bank.masked_peer_step(op_products, epoch)
    operator.apply_step(pending, epoch)


def reveal(bank: BankLrParty, operator: OperatorLrParty) -> np.ndarray:
    bank.keep_best()
    operator.keep_best()
    wb = bank.own_weights(operator.reveal_sum())
    wo = operator.own_weights(bank.reveal_sum())
    return np.r_[wb, wo]


@pytest.mark.parametrize("optimizer", ["sgd", "nesterov"])
def test_protocol_weights_match_plaintext_descent_if_same_batches(
    contexts: Contexts, optimizer: str
) -> None:
    # Prepare
    hyper = LrHyper(learning_rate=0.4, optimizer=optimizer, momentum=0.5, l2=0.01)
    bank, operator, xb, xo, y = make_parties(contexts, hyper)
    batches = [np.arange(0, 450), np.arange(450, 900), np.arange(100, 550)]
    series = hyper.level(0).sigmoid
    x = np.c_[xb, xo]
    w, v = np.zeros(x.shape[1]), np.zeros(x.shape[1])
    decay = np.r_[np.ones(3), 0.0, np.ones(4)]  # no L2 on the intercept
    # Execute
    run_batches(bank, operator, batches, epoch=0)
    for rows in batches:
        g = x[rows].T @ (series.evaluate(x[rows] @ w) - y[rows]) / len(rows)
        if optimizer == "nesterov":
            v = hyper.momentum * v + g
            g = g + hyper.momentum * v
        # L2 is a decoupled weight decay (identical to the L2 penalty for plain SGD).
        w = (1 - hyper.learning_rate * hyper.l2 * decay) * w - hyper.learning_rate * g
    weights = reveal(bank, operator)
    # Assert: equal within CKKS precision; the reveal itself is exact.
    assert np.allclose(weights, w, atol=1e-4)
    assert np.abs(w).max() > 0.05  # the model actually moved


def test_loss_matches_plaintext_loss_if_evaluated_on_a_chunk(
    contexts: Contexts,
) -> None:
    # Prepare
    bank, operator, xb, xo, y = make_parties(contexts, LrHyper())
    run_batches(bank, operator, [np.arange(0, 600)], epoch=0)
    rows = np.arange(600, 900)
    # Execute
    bank.start(rows)
    bank_logits = bank.masked_logits()
    operator.start(rows)
    terms = bank.loss_terms(operator.masked_logits())
    masked, constant, zone = operator.loss(bank_logits, terms)
    loss = bank.loss_value(masked, constant, zone)
    # Assert
    z = np.c_[xb, xo][rows] @ reveal(bank, operator)
    level = LrHyper().level(0)
    odd, even = level.odd, level.even
    expected = np.mean(even.evaluate(z) + (1 - 2 * y[rows]) * odd.evaluate(z))
    assert loss == pytest.approx(expected, abs=1e-4)
    assert loss == pytest.approx(np.mean(np.logaddexp(0, z) - y[rows] * z), abs=0.01)
    assert abs(bank.zone) < 1e-3  # no logit near the range's edge


def _all_slots(owner: CkksContext, blob: bytes) -> np.ndarray:
    """Every slot of a received ciphertext as complex numbers, as its key holder can
    decode them with SEAL's own decoder."""
    exact = ExactCkks(owner)
    ciphertext = exact.load(blob, scale_bits=int(np.log2(_scale(blob))))
    plaintext = sealapi.Plaintext()
    exact._decryptor.decrypt(ciphertext, plaintext)
    return np.array(sealapi.CKKSEncoder(exact._seal).decode_complex(plaintext))


def _scale(blob: bytes) -> float:
    from protocol.crypto.seal_codec import CiphertextData

    return CiphertextData.from_bytes(blob).scale


def test_decrypted_imaginary_parts_are_masked_if_peer_decodes_complex_slots(
    contexts: Contexts,
) -> None:
    # Prepare: record every ciphertext each party decrypts during training.
    bank, operator, xb, xo, y = make_parties(contexts, LrHyper())
    record: dict[str, list[bytes]] = {"bank": [], "operator": []}
    # Execute
    run_batches(bank, operator, [np.arange(0, 500), np.arange(400, 900)], 0, record)
    # Assert: a product's imaginary part would be ~x * (input error) < 1; masked, every
    # real and imaginary part of every slot is of the mask's size (~2^73) and
    # uncorrelated with the other party's features.
    owners = {"bank": contexts[0], "operator": contexts[1]}
    for who, blobs in record.items():
        for blob in blobs:
            slots = _all_slots(owners[who], blob)
            assert np.abs(slots.imag).min() > 2.0**40
            assert np.abs(slots.real).min() > 2.0**40
    last = _all_slots(contexts[0], record["bank"][-1]).imag[:500]
    assert abs(np.corrcoef(last, xo[400:900, -1])[0, 1]) < 0.2


def test_party_refuses_peer_context_if_it_carries_a_secret_key(
    contexts: Contexts,
) -> None:
    # Prepare
    bank_keys, op_keys, _, _ = contexts
    xb, xo, y = data(10)
    bank_pub = CkksContext.from_bytes(bank_keys.public_bytes())
    # Execute / Assert
    with pytest.raises(ValueError, match="must not carry its secret key"):
        BankLrParty(xb, 4, bank_keys, op_keys, LrHyper(), labels=y)
    with pytest.raises(ValueError, match="standardised and clipped"):
        OperatorLrParty(xo * 100, 4, op_keys, bank_pub, LrHyper())


def test_start_refuses_repeated_rows_if_a_batch_names_a_row_twice(
    contexts: Contexts,
) -> None:
    # Prepare: a repeated row would turn a loss sum into one row's loss.
    bank, _, _, _, _ = make_parties(contexts, LrHyper())
    # Execute / Assert
    with pytest.raises(ValueError, match="batch rows must be distinct"):
        bank.start(np.array([7] * 100))


def test_hyper_refuses_l2_if_decay_would_reach_zero() -> None:
    # Execute / Assert
    with pytest.raises(ValueError, match="learning_rate \\* l2 < 1"):
        LrHyper(learning_rate=1.0, l2=1.0)
    with pytest.raises(ValueError, match="finite"):
        LrHyper(l2=float("nan"))


def test_step_refuses_if_l2_decay_underflows_the_weight_scale(
    contexts: Contexts,
) -> None:
    # Prepare
    hyper = LrHyper(learning_rate=0.9, l2=1.0)
    bank, operator, _, _, _ = make_parties(contexts, hyper)
    # Execute / Assert
    with pytest.raises(ProtocolStateError, match="below CKKS resolution"):
        for _ in range(12):
            run_batches(bank, operator, [np.arange(0, 300)], epoch=0)


def test_evaluation_chunks_cover_the_split_once_if_larger_than_a_ciphertext() -> None:
    # Execute
    chunks = evaluation_chunks(9000, 4096)
    # Assert
    assert [len(c) for c in chunks] == [3000, 3000, 3000]
    assert np.array_equal(np.concatenate(chunks), np.arange(9000))


@pytest.mark.parametrize("level", [0, 1, 2])
def test_range_threshold_separates_one_edge_row_from_a_batch_near_zero_if_any_level(
    level: int,
) -> None:
    # Prepare
    series = LrHyper().level(level)
    edge = np.array([series.fit_range])
    bulk = np.linspace(-0.2 * series.period, 0.2 * series.period, 4096)
    # Execute
    one_row = float(series.zone.evaluate(edge).sum())
    many_rows = float(series.zone.evaluate(bulk).sum())
    # Assert: one row at the range's edge trips it, 4,096 rows spread over +-P/5
    # (+-8 at level 0, where default_credit's logits stay) do not
    assert one_row >= 2 * series.threshold
    assert many_rows < series.threshold
    assert series.period == 40 * 2**level and series.terms == 8 * 2**level


def test_hyper_levels_stop_at_32_terms_if_the_base_has_8() -> None:
    # Execute / Assert
    assert LrHyper().max_level == 2
    assert LrHyper(terms=32).max_level == 0
    with pytest.raises(ValueError, match="range level must be 0..2"):
        LrHyper().level(3)


def test_masked_step_is_flooded_if_the_same_products_are_decrypted_twice(
    contexts: Contexts,
) -> None:
    # Prepare: one batch's products, decrypted by two bank parties in the same state
    bank, operator, _, _, _ = make_parties(contexts, LrHyper())
    twin, _, _, _, _ = make_parties(contexts, LrHyper())
    rows = np.arange(0, 450)
    for party in (bank, twin):
        party.start(rows)
    operator.start(rows)
    bank_logits = bank.masked_logits()
    twin._logit_mask = bank._logit_mask
    masked, part, zone = operator.sigmoid(
        bank_logits, bank.sigmoid_request(operator.masked_logits())
    )
    share, _ = bank.backward_request(masked, part, zone)
    products = operator.backward(share)
    # Execute
    steps = [
        p.masked_peer_step(products, 0) and p._sent_steps[-1] for p in (bank, twin)
    ]
    # Assert: the flooding noise differs between the two and stays within its width:
    # (N/2) 2^40 E / 2^89 on the gradient sum, times rate / m, in units of 2^-70
    bound = 4096 * 2.0**40 * bank._flood_bound / 2.0**89 * 0.5 / 450 * 2.0**70
    differences = [abs(a - b) for a, b in zip(*steps, strict=True)]
    assert min(differences) > 0
    assert max(differences) <= 2 * bound
    assert max(differences) > bound / 100
