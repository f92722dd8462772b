"""Run SecureBoost between the two party objects in one process, through the domain
messages only: exactly the calls the gRPC service will carry, in their order.

`meter(party, step)` (optional) wraps every call, so a benchmark can charge time to the
party doing the work.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import numpy.typing as npt

from models.secureboost.model import BankModel, OperatorModel
from protocol.secureboost.bank_party import BankSbtParty
from protocol.secureboost.messages import LeafSetsReply
from protocol.secureboost.operator_party import OperatorSbtParty

Meter = Callable[[str, str], AbstractContextManager[object]]


def _no_meter(party: str, step: str) -> AbstractContextManager[object]:
    return nullcontext()


def train_in_process(
    bank: BankSbtParty, operator: OperatorSbtParty, meter: Meter = _no_meter
) -> tuple[BankModel, OperatorModel]:
    """Train to the end; return (bank part, operator part)."""
    with meter("bank", "setup"):
        setup = bank.setup_request()
    with meter("operator", "setup"):
        reply = operator.setup(setup)
    with meter("bank", "setup"):
        bank.accept_setup(reply)
    while True:
        with meter("bank", "rounds"):
            bank.start_round()
        while bank.start_tree():
            with meter("bank", "gradients"):
                gradients = bank.tree_gradients()
            if gradients is not None:
                with meter("operator", "gradients"):
                    operator.accept_gradients(gradients)
            while bank.tree_growing:
                with meter("bank", "histograms"):
                    request = bank.histogram_request()
                if request is not None:
                    with meter("operator", "histograms"):
                        histograms = operator.histograms(request)
                    with meter("bank", "histograms"):
                        bank.accept_histograms(histograms)
                with meter("bank", "splits"):
                    split_request = bank.split_request()
                if split_request is not None:
                    with meter("operator", "splits"):
                        split_reply = operator.split(split_request)
                    with meter("bank", "splits"):
                        bank.accept_splits(split_reply)
            with meter("bank", "trees"):
                done = bank.finish_tree()
            if done is not None:
                with meter("operator", "trees"):
                    operator.finish_tree(done)
            replies: dict[str, LeafSetsReply] = {}
            for leaf_request in bank.leaf_sets_requests():
                with meter("operator", "leaf_sets"):
                    replies[leaf_request.dataset] = operator.leaf_sets(leaf_request)
            with meter("bank", "trees"):
                bank.close_tree(replies)
        with meter("bank", "rounds"):
            going_on = bank.end_round()
        if not going_on:
            break
    model = bank.model()
    operator.close()
    return model, operator.model(len(model.trees))


def predict_in_process(
    bank_model: BankModel,
    operator_model: OperatorModel,
    x_bank: npt.ArrayLike,
    x_operator: npt.ArrayLike,
) -> npt.NDArray:
    """Batch prediction over aligned rows: the operator's leaf sets of every tree it
    holds a part of, intersected by the bank with its own."""
    leaf_sets = operator_model.leaf_sets(x_operator, bank_model.operator_trees())
    return bank_model.predict(x_bank, leaf_sets)
