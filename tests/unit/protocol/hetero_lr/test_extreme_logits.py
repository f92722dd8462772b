"""Logistic regression on data whose centralized logits exceed +-40, like a real credit
file with past-due counts and rare codes 96/98: standardised and clipped at +-8, the
code rows sit at +8 in three columns at once. With one Fourier period (40), their
logits wrap around and a coefficient flips sign; with the range levels the protocol
detects the rows leaving the range, widens the period, and lands on scikit-learn's
coefficients and AUC, and the loss it reports is the true log-loss."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from protocol.crypto.ckks import PRECISE, CkksContext
from protocol.hetero_lr.party import BankLrParty, LrHyper, OperatorLrParty

EPOCHS, BATCH = 40, 1000
HYPER = LrHyper(learning_rate=1.0, optimizer="nesterov", momentum=0.9)


def past_due_data(
    n: int = 4000, seed: int = 22
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bank: three past-due counts (0.5% of rows carry code 96 or 98 in all three)
    and two other features, plus the intercept; operator: three features. Inputs are
    standardised on the first 75% of rows (training) and clipped to +-8."""
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    rates = np.exp(-0.7 + 0.8 * risk)[:, None] * np.array([1.0, 0.7, 0.5])
    late = rng.poisson(rates, size=(n, 3)).astype(float)
    code = rng.uniform(size=n) < 0.005
    late[code] = np.where(rng.uniform(size=(code.sum(), 1)) < 0.5, 96.0, 98.0)
    other, op = rng.normal(size=(n, 2)), rng.normal(size=(n, 3))
    logit = -1.0 + 0.9 * late.clip(0, 10) @ [0.5, 0.4, 0.3] + other @ [0.6, -0.4]
    logit += op @ [0.5, -0.5, 0.3]
    logit[code] = 2.2
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(float)
    train = np.arange(n) < int(0.75 * n)

    def standardised(raw: np.ndarray) -> np.ndarray:
        mean, std = raw[train].mean(0), raw[train].std(0)
        return np.clip((raw - mean) / std, -8, 8)

    bank = np.c_[standardised(np.c_[late, other]), np.ones(n)]
    return bank, standardised(op), y, train


def train_jointly(
    bank_x: np.ndarray, op_x: np.ndarray, y: np.ndarray, train: np.ndarray
) -> tuple[BankLrParty, OperatorLrParty, list[int]]:
    """The driver's batches (fixed seed), raising the range level as it does."""
    bank_keys = CkksContext.create(PRECISE, galois_keys=False)
    op_keys = CkksContext.create(PRECISE, galois_keys=False)
    bank = BankLrParty(
        bank_x, op_x.shape[1], bank_keys,
        CkksContext.from_bytes(op_keys.public_bytes()), HYPER,
        own_intercept=bank_x.shape[1] - 1, labels=y, clip=8.0,
    )  # fmt: skip
    operator = OperatorLrParty(
        op_x, bank_x.shape[1], op_keys,
        CkksContext.from_bytes(bank_keys.public_bytes()), HYPER,
        peer_intercept=bank_x.shape[1] - 1, clip=8.0,
    )  # fmt: skip
    rng = np.random.default_rng(7)
    rows_of_train = np.flatnonzero(train)
    pending, step_epoch, levels = None, 0, []
    for epoch in range(EPOCHS):
        order = rows_of_train[rng.permutation(len(rows_of_train))]
        for rows in np.array_split(order, len(order) // BATCH):
            bank.start(rows)
            logits = bank.masked_logits()
            operator.set_level(bank.level)  # the level the Forward carries
            if pending is not None:
                operator.apply_step(pending, step_epoch)
            operator.start(rows)
            masked, part, zone = operator.sigmoid(
                logits, bank.sigmoid_request(operator.masked_logits())
            )
            share, products = bank.backward_request(masked, part, zone)
            op_products = operator.backward(share)
            bank.apply_step(operator.masked_peer_step(products, epoch), epoch)
            pending, step_epoch = bank.masked_peer_step(op_products, epoch), epoch
            if bank.out_of_range():
                assert bank.level < HYPER.max_level, "a logit left the widest range"
                bank.set_level(bank.level + 1)
        levels.append(bank.level)
    operator.apply_step(pending, step_epoch)
    return bank, operator, levels


@pytest.mark.slow
@pytest.mark.extended  # 120 encrypted batches: ~7 min on 2 loaded cores
def test_weights_match_scikit_learn_if_centralized_logits_exceed_40() -> None:
    # Prepare
    bank_x, op_x, y, train = past_due_data()
    x = np.c_[bank_x, op_x]
    reference = LogisticRegression(C=1e6, fit_intercept=False, max_iter=5000)
    reference.fit(x[train], y[train])
    expected = reference.coef_[0]
    central = x @ expected
    # Execute
    bank, operator, levels = train_jointly(bank_x, op_x, y, train)
    bank.keep_best()
    operator.keep_best()
    weights = np.r_[
        bank.own_weights(operator.reveal_sum()), operator.own_weights(bank.reveal_sum())
    ]
    # Assert: the data is the hard case, and the range widened to cover it
    assert np.abs(central).max() > 40
    assert levels[-1] == HYPER.max_level and levels[0] < levels[-1]
    # Every coefficient above 0.3 in magnitude has scikit-learn's sign and is within
    # 10% of its value; the smaller ones within 0.05; the AUC within 0.003.
    large = np.abs(expected) > 0.3
    assert (np.sign(weights[large]) == np.sign(expected[large])).all()
    assert (np.abs(weights - expected)[large] <= 0.1 * np.abs(expected[large])).all()
    assert (np.abs(weights - expected)[~large] <= 0.05).all()
    validation = ~train
    auc = roc_auc_score(y[validation], x[validation] @ weights)
    assert abs(auc - roc_auc_score(y[validation], central[validation])) < 0.003
    # The reported validation loss is the true log-loss of these weights.
    rows = np.flatnonzero(validation)
    bank.start(rows)
    logits = bank.masked_logits()
    operator.start(rows)
    terms = bank.loss_terms(operator.masked_logits())
    loss = bank.loss_value(*operator.loss(logits, terms))
    z = x[rows] @ weights
    assert loss == pytest.approx(np.mean(np.logaddexp(0, z) - y[rows] * z), abs=0.01)
    assert not bank.out_of_range()


def test_one_fixed_period_gets_the_coefficients_wrong_if_logits_exceed_40() -> None:
    # Prepare: the same batches in plaintext with the level-0 series only (period 40)
    bank_x, op_x, y, train = past_due_data()
    x = np.c_[bank_x, op_x]
    expected = (
        LogisticRegression(C=1e6, fit_intercept=False, max_iter=5000)
        .fit(x[train], y[train])
        .coef_[0]
    )
    series = HYPER.level(0).sigmoid
    w, v = np.zeros(x.shape[1]), np.zeros(x.shape[1])
    rng = np.random.default_rng(7)
    rows_of_train = np.flatnonzero(train)
    # Execute
    for epoch in range(EPOCHS):
        order = rows_of_train[rng.permutation(len(rows_of_train))]
        for rows in np.array_split(order, len(order) // BATCH):
            g = x[rows].T @ (series.evaluate(x[rows] @ w) - y[rows]) / len(rows)
            v = HYPER.momentum * v + g
            w -= HYPER.rate(epoch) * (g + HYPER.momentum * v)
    # Assert: the wrapped-around logits send the past-due coefficients far off, the
    # third to over three times scikit-learn's (the failure the range levels prevent)
    assert np.abs(x @ w).max() > 100
    assert w[2] > 3 * expected[2] > 0
