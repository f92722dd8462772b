"""Run SecureBoost from the bank's side through the domain messages only: exactly the
calls the gRPC service carries, in their order, against any OperatorEndpoint (the
operator's party object in one process, or the SecureBoost client over the wire).

`meter(party, step)` (optional) wraps every call, so a benchmark can charge time to the
party doing the work.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

import numpy as np
import numpy.typing as npt

from models.secureboost.model import BankModel, OperatorModel
from protocol.secureboost.bank_party import BankSbtParty
from protocol.secureboost.messages import (
    HistogramReply,
    HistogramRequest,
    LeafSetsReply,
    LeafSetsRequest,
    SbtSetup,
    SbtSetupReply,
    SplitReply,
    SplitRequest,
    TrainingDone,
    TrainingDoneReply,
    TreeDone,
    TreeGradients,
)
from protocol.secureboost.operator_party import OperatorSbtParty

Meter = Callable[[str, str], AbstractContextManager[object]]
Progress = Callable[[str], None]


class OperatorEndpoint(Protocol):
    """The operator's side as the bank calls it (OperatorSbtParty has these methods;
    protocol.secureboost.service.SecureBoostClient sends them over the wire)."""

    def setup(self, request: SbtSetup) -> SbtSetupReply: ...
    def accept_gradients(self, message: TreeGradients) -> None: ...
    def histograms(self, request: HistogramRequest) -> HistogramReply: ...
    def split(self, request: SplitRequest) -> SplitReply: ...
    def finish_tree(self, message: TreeDone) -> None: ...
    def leaf_sets(self, request: LeafSetsRequest) -> LeafSetsReply: ...
    def finish_training(self, message: TrainingDone) -> TrainingDoneReply: ...


def _no_meter(party: str, step: str) -> AbstractContextManager[object]:
    return nullcontext()


def train(
    bank: BankSbtParty,
    operator: OperatorEndpoint,
    meter: Meter = _no_meter,
    progress: Progress = lambda _: None,
) -> BankModel:
    """Train to the end, the operator keeping its part; return the bank's part."""
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
        progress(bank.round_summary())
        if not going_on:
            break
    done_message = bank.training_done()
    with meter("operator", "finish"):
        done_reply = operator.finish_training(done_message)
    bank.accept_training_done(done_reply)
    return bank.model()


def train_in_process(
    bank: BankSbtParty, operator: OperatorSbtParty, meter: Meter = _no_meter
) -> tuple[BankModel, OperatorModel]:
    """Both parties in one process; return (bank part, operator part)."""
    model = train(bank, operator, meter)
    return model, operator.model()


def predict(
    bank_model: BankModel,
    operator: OperatorEndpoint,
    dataset: str,
    x_bank: npt.ArrayLike,
    trees_per_call: int = 0,
) -> npt.NDArray:
    """Batch prediction over a dataset's aligned rows: the operator's leaf sets of
    every tree it holds a part of, intersected by the bank with its own.
    `trees_per_call` > 0 bounds the trees per request (reply size)."""
    wanted = bank_model.operator_trees()
    step = trees_per_call or max(len(wanted), 1)
    leaf_sets: dict[int, npt.NDArray[np.uint8]] = {}
    for start in range(0, len(wanted), step):
        trees = tuple(wanted[start : start + step])
        reply = operator.leaf_sets(LeafSetsRequest(dataset, trees))
        if set(reply.leaf_sets) != set(trees):
            raise ValueError("secureboost: leaf sets of other trees than requested")
        leaf_sets.update(reply.leaf_sets)
    return bank_model.predict(x_bank, leaf_sets)


def predict_in_process(
    bank_model: BankModel,
    operator_model: OperatorModel,
    x_bank: npt.ArrayLike,
    x_operator: npt.ArrayLike,
) -> npt.NDArray:
    """Batch prediction with both persisted parts in one process."""
    leaf_sets = operator_model.leaf_sets(x_operator, bank_model.operator_trees())
    return bank_model.predict(x_bank, leaf_sets)
