"""The operator's party in split-NN training, independent of Flower's transport.

:func:`operator_round` is the operator's whole message handler (state in, state out:
the ClientApp keeps the state in Flower's ``context.state`` between messages, since
Flower starts a new ClientApp process per message). The bank's side is
protocol/split_nn/bank.py. Imports stay light (no pandas or scipy): every message
costs the operator a fresh process.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.split_nn import (
    OperatorBottom,
    SplitNnSpecError,
    check_matrix,
)
from protocol.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from protocol.split_nn.messages import (
    PHASE_FINAL,
    PHASE_INIT,
    EmbeddingReply,
    EmbeddingRequest,
    SplitNnRun,
)

OPERATOR_FEATURES_FILE = "operator_features.npy"
OPERATOR_CLAIM_FILE = "run.json"
OPERATOR_MODEL_FILE = "bottom_model.npz"
# Operator-side bounds, set in the SuperNode's node config (operator-controlled).
DEFAULT_MAX_ROUNDS = 50


def save_arrays(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write plain arrays as ``.npz`` atomically; never pickled."""
    tmp = path.with_name(path.name + ".tmp")
    savez: Any = np.savez  # numpy's stubs cannot type **arrays next to allow_pickle
    with tmp.open("wb") as fh:
        savez(fh, allow_pickle=False, **arrays)
    os.replace(tmp, path)


# ---- operator -----------------------------------------------------------------------


@dataclass(frozen=True)
class OperatorLimits:
    max_rounds: int = DEFAULT_MAX_ROUNDS


@dataclass(frozen=True)
class OperatorState:
    """What the operator keeps between messages of one run."""

    next_round: int
    train_positions: np.ndarray
    validation_positions: np.ndarray
    bottom: dict[str, np.ndarray]
    finished: bool = False


class OperatorJobStore:
    """The operator's directory for one job: ``<data-dir>/<job-id>/``.

    The operator's node writes ``operator_features.npy`` (float32, one row per aligned
    position) when it approves the job; the ClientApp claims the job for one run,
    never re-initializes it, and saves the final bottom model next to the features.
    """

    def __init__(self, data_dir: Path, job_id: str) -> None:
        self.root = data_dir / job_id

    def features(self, columns: int) -> np.ndarray:
        path = self.root / OPERATOR_FEATURES_FILE
        if not path.is_file():
            raise FailedPrecondition(
                "the operator has no aligned features for this job (not approved or"
                " not prepared)"
            )
        try:
            values = np.load(path, allow_pickle=False)
        except ValueError as err:
            raise FailedPrecondition(f"{path.name}: unreadable: {err}") from None
        try:
            check_matrix(values, columns, f"operator features ({path.name})")
        except SplitNnSpecError as err:
            raise FailedPrecondition(str(err)) from None
        return np.asarray(values, dtype=np.float32)

    def claim(self, run_id: int) -> None:
        """Bind the job to ``run_id`` once; a second run of the same job is refused."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / OPERATOR_CLAIM_FILE
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            claimed = json.loads(path.read_text()).get("run_id")
            if claimed == run_id:
                raise FailedPrecondition(
                    "the operator's state of this run was lost; the run cannot resume"
                    " (the bottom model is never re-initialized)"
                ) from None
            raise PermissionDenied(
                "this job was already trained in another run; start a new job"
            ) from None
        with os.fdopen(fd, "w") as fh:
            json.dump({"run_id": run_id, "claimed_at": time.time()}, fh)

    def save_model(self, arrays: dict[str, np.ndarray]) -> Path:
        path = self.root / OPERATOR_MODEL_FILE
        save_arrays(path, arrays)
        return path


def _check_positions(
    train: np.ndarray, validation: np.ndarray, rows: int
) -> tuple[np.ndarray, np.ndarray]:
    if train.size == 0:
        raise InvalidArgument("init: no training positions")
    both = np.concatenate([train, validation])
    if both.min() < 0 or both.max() >= rows:
        raise InvalidArgument(
            f"init: positions must be between 0 and {rows - 1} (the aligned rows)"
        )
    if np.unique(both).size != both.size:
        raise InvalidArgument("init: positions repeat or overlap between the splits")
    return train, validation


def operator_round(
    run: SplitNnRun,
    run_id: int,
    request: EmbeddingRequest,
    state: OperatorState | None,
    store: OperatorJobStore,
    limits: OperatorLimits,
) -> tuple[EmbeddingReply, OperatorState]:
    """Handle one message: apply the round's gradients, return fresh embeddings."""
    if run.hyper.rounds > limits.max_rounds:
        raise PermissionDenied(
            f"the operator allows at most {limits.max_rounds} rounds per job,"
            f" the run asks for {run.hyper.rounds}"
        )
    features = store.features(run.spec.operator_features)
    if request.phase == PHASE_INIT:
        if state is not None or request.round_index != 0:
            raise FailedPrecondition("init: the bottom model is never re-initialized")
        assert request.train_positions is not None
        assert request.validation_positions is not None
        train, validation = _check_positions(
            request.train_positions, request.validation_positions, len(features)
        )
        store.claim(run_id)
        bottom = OperatorBottom(run.spec, run.hyper, seed=run.seed)
        state = OperatorState(1, train, validation, bottom.to_arrays())
    else:
        if state is None:
            raise FailedPrecondition(f"{request.phase}: the run was not initialized")
        if state.finished:
            raise FailedPrecondition(f"{request.phase}: the run has already finished")
        if request.round_index != state.next_round:
            raise FailedPrecondition(
                f"{request.phase}: expected round {state.next_round},"
                f" got {request.round_index}"
            )
        last = run.hyper.rounds
        if (request.phase == PHASE_FINAL) != (request.round_index == last):
            raise FailedPrecondition(
                f"{request.phase}: round {request.round_index} of {last} is not"
                f" {'the' if request.phase == PHASE_FINAL else 'an'}"
                f" {'final' if request.phase == PHASE_FINAL else 'update'} round"
            )
        assert request.gradients is not None and request.order is not None
        bottom = OperatorBottom.from_arrays(run.spec, run.hyper, state.bottom)
        train_x = torch.from_numpy(features[state.train_positions])
        try:
            bottom.apply_gradients(
                train_x, request.gradients, request.order, request.round_index - 1
            )
        except SplitNnSpecError as err:
            raise InvalidArgument(f"{request.phase}: {err}") from None
        state = replace(
            state,
            next_round=state.next_round + 1,
            bottom=bottom.to_arrays(),
            finished=request.phase == PHASE_FINAL,
        )
        if state.finished:
            store.save_model(bottom.to_arrays())
    reply = EmbeddingReply(
        round_index=request.round_index,
        train=bottom.embed(torch.from_numpy(features[state.train_positions])),
        validation=bottom.embed(torch.from_numpy(features[state.validation_positions])),
    )
    return reply, state
