"""The two LR parties in one process: the protocol reproduces plaintext gradient
descent with the same Fourier sigmoid, and every key stays with its owner."""

from __future__ import annotations

import numpy as np
import pytest

from models.fourier import sigmoid_series, softplus_series
from protocol.crypto.ckks import PRECISE, CkksContext
from protocol.hetero_lr.party import BankLrParty, LrHyper, OperatorLrParty


@pytest.fixture(scope="module")
def contexts() -> tuple[CkksContext, CkksContext, CkksContext, CkksContext]:
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


def parties(
    contexts, hyper: LrHyper
) -> tuple[BankLrParty, OperatorLrParty, np.ndarray, np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    bank_keys, op_keys, bank_pub, op_pub = contexts
    xb, xo, y = data()
    bank = BankLrParty(
        xb, xo.shape[1], bank_keys, op_pub, hyper, own_intercept=3, labels=y
    )
    operator = OperatorLrParty(
        xo, xb.shape[1], op_keys, bank_pub, hyper, peer_intercept=3
    )
    return bank, operator, xb, xo, y


def run_batches(bank, operator, batches, epoch):  # type: ignore[no-untyped-def]
    pending = None
    for rows in batches:
        bank.start(rows)
        bank_logits = bank.masked_logits()
        if pending is not None:
            operator.apply_step(pending, epoch)
        operator.start(rows)
        op_logits = operator.masked_logits()
        residual, neg_mask = operator.sigmoid(
            bank_logits, bank.sigmoid_request(op_logits)
        )
        share, products = bank.backward_request(residual, neg_mask)
        op_products = operator.backward(share)
        bank.apply_step(operator.masked_peer_step(products, epoch), epoch)
        pending = bank.masked_peer_step(op_products, epoch)
    operator.apply_step(pending, epoch)


@pytest.mark.parametrize("optimizer", ["sgd", "nesterov"])
def test_protocol_weights_match_plaintext_descent_if_same_batches(
    contexts, optimizer: str
) -> None:  # type: ignore[no-untyped-def]
    # Prepare
    hyper = LrHyper(learning_rate=0.4, optimizer=optimizer, momentum=0.5, l2=0.01)
    bank, operator, xb, xo, y = parties(contexts, hyper)
    batches = [np.arange(0, 450), np.arange(450, 900), np.arange(100, 550)]
    series = sigmoid_series()
    x = np.c_[xb, xo]
    w, v = np.zeros(x.shape[1]), np.zeros(x.shape[1])
    decay = np.r_[np.ones(3), 0.0, np.ones(4)]  # no L2 on the intercept
    # Execute
    run_batches(bank, operator, batches, epoch=0)
    for rows in batches:
        g = x[rows].T @ (series.evaluate(x[rows] @ w) - y[rows]) / len(rows)
        g = g + hyper.l2 * decay * w
        if optimizer == "sgd":
            w -= hyper.learning_rate * g
        else:
            v = hyper.momentum * v + g
            w -= hyper.learning_rate * (g + hyper.momentum * v)
    bank.keep_best()
    operator.keep_best()
    masked_b, _ = bank.masked_weights()
    masked_o, _ = operator.masked_weights()
    wb = bank.own_weights(operator.open_peer_weights(masked_b))
    wo = operator.own_weights(bank.open_peer_weights(masked_o))
    # Assert: equal within CKKS precision plus the flooding of the reveal.
    assert np.allclose(np.r_[wb, wo], w, atol=2e-3)
    assert np.abs(w).max() > 0.05  # the model actually moved


def test_loss_sum_matches_plaintext_loss_if_evaluated(contexts) -> None:  # type: ignore[no-untyped-def]
    # Prepare
    bank, operator, xb, xo, y = parties(contexts, LrHyper())
    run_batches(bank, operator, [np.arange(0, 600)], epoch=0)
    rows = np.arange(600, 900)
    # Execute
    bank.start(rows)
    bank_logits = bank.masked_logits()
    operator.start(rows)
    op_logits = operator.masked_logits()
    harmonics = operator.loss_harmonics(bank_logits)
    loss = bank.loss_value(operator.loss_sum(bank.loss_products(op_logits, harmonics)))
    # Assert
    bank.keep_best()
    operator.keep_best()
    masked_b, _ = bank.masked_weights()
    masked_o, _ = operator.masked_weights()
    w = np.r_[
        bank.own_weights(operator.open_peer_weights(masked_b)),
        operator.own_weights(bank.open_peer_weights(masked_o)),
    ]
    z = np.c_[xb, xo][rows] @ w
    odd, even = softplus_series()
    expected = np.mean(even.evaluate(z) + (1 - 2 * y[rows]) * odd.evaluate(z))
    assert loss == pytest.approx(expected, abs=2e-3)
    assert loss == pytest.approx(np.mean(np.logaddexp(0, z) - y[rows] * z), abs=0.02)


def test_party_refuses_peer_context_if_it_carries_a_secret_key(contexts) -> None:  # type: ignore[no-untyped-def]
    # Prepare
    bank_keys, op_keys, _, _ = contexts
    xb, xo, y = data(10)
    # Execute / Assert
    with pytest.raises(ValueError, match="must not carry its secret key"):
        BankLrParty(xb, 4, bank_keys, op_keys, LrHyper(), labels=y)
    with pytest.raises(ValueError, match="standardised and clipped"):
        OperatorLrParty(
            xo * 100,
            4,
            op_keys,
            CkksContext.from_bytes(bank_keys.public_bytes()),
            LrHyper(),
        )


def test_public_context_sent_to_peer_cannot_decrypt_if_loaded(contexts) -> None:  # type: ignore[no-untyped-def]
    # Prepare
    bank_keys, _, bank_pub, _ = contexts
    vec = bank_pub.encrypt(np.ones(4))
    # Execute / Assert
    assert not bank_pub.is_private
    with pytest.raises(ValueError, match="cannot decrypt"):
        bank_pub.decrypt(vec)
    assert np.allclose(
        bank_keys.decrypt(bank_keys.vector_from_bytes(vec.to_bytes())), 1
    )
