"""The bank's driver widens the sigmoid's range when a logit leaves it: on the past-due
data (logits beyond +-16 within two epochs) it moves both parties to the next range
level, says so in the progress, repeats an interrupted evaluation at the new level, and
the losses it reports are those of the new level. The operator here is its party
behind a loopback client (the order and policy checks of the real role are tested in
tests/integration)."""

from __future__ import annotations

import numpy as np

from bank_node.trainers.hetero_lr_driver import BankLrDriver, LrSettings
from protocol.crypto.ckks import PRECISE, CkksContext
from protocol.domain import Split
from protocol.hetero_lr import messages as m
from protocol.hetero_lr.party import LrHyper, OperatorLrParty
from tests.unit.protocol.hetero_lr.test_extreme_logits import HYPER, past_due_data


class Loopback:
    """HeteroLrClient's calls answered in process by an operator party."""

    def __init__(self, features: np.ndarray, positions: dict[Split, np.ndarray]):
        self.features, self.positions = features, positions
        self.levels: list[int] = []

    def setup(self, request: m.LrSetup) -> m.LrSetupReply:
        keys = CkksContext.create(PRECISE, galois_keys=False)
        self.party = OperatorLrParty(
            self.features, request.bank_dim, keys,
            CkksContext.from_bytes(request.bank_context), LrHyper.of_setup(request),
            peer_intercept=request.bank_dim - 1, clip=request.clip,
        )  # fmt: skip
        sizes = [len(self.positions[s]) for s in (Split.TRAIN, Split.VALIDATION)]
        return m.LrSetupReply(keys.public_bytes(), self.features.shape[1], *sizes)

    def forward(self, request: m.LrForward) -> m.LrForwardReply:
        party = self.party
        steps = party.load_steps(list(request.operator_step))
        party.set_level(request.range_level)
        self.levels.append(request.range_level)
        if steps:
            party.apply_step(steps, request.step_epoch)
        party.start(self.positions[request.split][list(request.rows)])
        self.bank_logits = request.bank_logits
        return m.LrForwardReply(party.masked_logits())

    def sigmoid(self, request: m.LrSigmoid) -> m.LrSigmoidReply:
        return m.LrSigmoidReply(
            *self.party.sigmoid(self.bank_logits, list(request.bank_harmonics))
        )

    def backward(self, request: m.LrBackward) -> m.LrBackwardReply:
        step = self.party.masked_peer_step(list(request.bank_products), request.epoch)
        own = self.party.backward(request.residual_share)
        return m.LrBackwardReply(tuple(own), tuple(step))

    def loss(self, request: m.LrLoss) -> m.LrLossReply:
        return m.LrLossReply(
            *self.party.loss(self.bank_logits, list(request.loss_terms))
        )

    def keep_best(self, request: m.LrKeepBest) -> None:
        self.party.keep_best()

    def reveal(self, request: m.LrReveal) -> m.LrRevealReply:
        self.weights = self.party.own_weights(request.operator_step_units)
        return m.LrRevealReply(tuple(self.party.reveal_sum()))


def test_driver_widens_the_range_if_a_logit_leaves_it() -> None:
    # Prepare
    bank_x, op_x, y, train = past_due_data()
    positions = {
        Split.TRAIN: np.flatnonzero(train),
        Split.VALIDATION: np.flatnonzero(~train),
    }
    client = Loopback(op_x, positions)
    messages: list[str] = []
    driver = BankLrDriver(
        client, "c0ffee00c0ffee00", bank_x, y, positions, [0, 1, 2],
        LrSettings(epochs=3, batch_size=1000, hyper=HYPER, min_batch=500),
        messages.append,
    )  # fmt: skip
    # Execute
    result = driver.train()
    # Assert: the level went up during the run, both parties followed it, and the
    # progress says why
    assert result.history.range_level[0] == 0
    assert result.history.range_level[-1] >= 1
    assert driver.party.level == client.party.level == result.history.range_level[-1]
    assert any(text.startswith("a logit left +-16: the sigmoid now covers +-32")
               for text in messages)  # fmt: skip
    assert client.levels == sorted(client.levels)  # never back
    # The last epoch's losses were evaluated at the last level, and are finite
    assert np.isfinite(result.history.validation_loss).all()
    assert np.isfinite(client.weights).all()
