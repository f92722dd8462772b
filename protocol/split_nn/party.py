"""The two parties of split-NN training, independent of Flower's transport.

:func:`operator_round` is the operator's whole message handler (state in, state out:
the ClientApp keeps the state in Flower's ``context.state`` between messages, since
Flower starts a new ClientApp process per message). :class:`BankDriver` runs the
bank's rounds against a ``send`` callable (the ServerApp passes one built on Flower's
Grid; tests pass the operator handler directly).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.label_protection import LeakMeter, protect
from models.metrics import roc_auc
from models.split_nn import (
    BankTop,
    OperatorBottom,
    SplitNnSpecError,
    check_matrix,
)
from protocol.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from protocol.split_nn.messages import (
    PHASE_FINAL,
    PHASE_INIT,
    PHASE_UPDATE,
    EmbeddingReply,
    EmbeddingRequest,
    SplitNnRun,
)

OPERATOR_FEATURES_FILE = "operator_features.npy"
OPERATOR_CLAIM_FILE = "run.json"
OPERATOR_MODEL_FILE = "bottom_model.npz"
BANK_DATA_FILE = "bank_data.npz"
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


# ---- bank ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BankData:
    """The bank's aligned job data: features, labels and the validation split."""

    features: np.ndarray  # (m, bank_features) float32
    labels: np.ndarray  # (m,) int64, 0/1
    validation: np.ndarray  # (m,) bool

    @classmethod
    def load(cls, job_dir: Path, bank_features: int) -> BankData:
        path = job_dir / BANK_DATA_FILE
        if not path.is_file():
            raise FailedPrecondition(f"{path}: the bank's job data is missing")
        with np.load(path, allow_pickle=False) as data:
            missing = {"features", "labels", "validation"} - set(data.files)
            if missing:
                raise InvalidArgument(f"{path}: missing arrays {sorted(missing)}")
            features, labels, validation = (
                data["features"],
                data["labels"],
                data["validation"],
            )
        try:
            check_matrix(features, bank_features, f"bank features ({path.name})")
        except SplitNnSpecError as err:
            raise InvalidArgument(str(err)) from None
        rows = len(features)
        if labels.shape != (rows,) or validation.shape != (rows,):
            raise InvalidArgument(f"{path}: labels and validation need {rows} entries")
        if not np.all((labels == 0) | (labels == 1)):
            raise InvalidArgument(f"{path}: labels must be 0 or 1")
        return cls(
            np.asarray(features, dtype=np.float32),
            labels.astype(np.int64),
            validation.astype(bool),
        )

    def save(self, job_dir: Path) -> Path:
        job_dir.mkdir(parents=True, exist_ok=True)
        path = job_dir / BANK_DATA_FILE
        save_arrays(
            path,
            {
                "features": self.features,
                "labels": self.labels,
                "validation": self.validation,
            },
        )
        return path


Send = Callable[[EmbeddingRequest], EmbeddingReply]


@dataclass
class BankResult:
    """What the bank learned from one run."""

    validation_auc: float
    train_auc: float
    scores: dict[str, np.ndarray]
    model: dict[str, np.ndarray]
    leak: dict[str, Any]
    rounds: list[dict[str, Any]] = field(default_factory=list)


class BankDriver:
    """The bank's side: top-model rounds, label protection, metrics per round.

    ``noise_rng`` draws the defence's noise and must be unpredictable to the operator
    (seeded from the OS: never from the run config, which the operator receives).
    """

    def __init__(
        self,
        run: SplitNnRun,
        data: BankData,
        send: Send,
        *,
        model_rng: np.random.Generator,
        noise_rng: np.random.Generator,
        progress: Callable[[dict[str, Any]], None] = lambda _: None,
    ) -> None:
        self.run = run
        self.data = data
        self.send = send
        self.model_rng = model_rng
        self.noise_rng = noise_rng
        self.progress = progress
        self.train_rows = np.flatnonzero(~data.validation)
        self.validation_rows = np.flatnonzero(data.validation)
        train_labels = data.labels[self.train_rows]
        if train_labels.min() == train_labels.max():
            raise FailedPrecondition("the training rows have a single class")

    def _check_reply(self, reply: EmbeddingReply, round_index: int) -> EmbeddingReply:
        if reply.round_index != round_index:
            raise InvalidArgument(
                f"operator reply: round {reply.round_index}, expected {round_index}"
            )
        width = self.run.spec.embedding
        for name, value, rows in (
            ("training", reply.train, len(self.train_rows)),
            ("validation", reply.validation, len(self.validation_rows)),
        ):
            if value.shape != (rows, width):
                raise InvalidArgument(
                    f"operator reply: {name} embeddings of shape {value.shape},"
                    f" expected {(rows, width)}"
                )
            if not np.all(np.isfinite(value)):
                raise InvalidArgument(f"operator reply: non-finite {name} embeddings")
        return reply

    def train(self) -> BankResult:
        run, data = self.run, self.data
        hyper = run.hyper
        seed = int(self.model_rng.integers(0, 2**31 - 1))
        bank = BankTop(run.spec, hyper, seed=seed)
        x_train = torch.from_numpy(data.features[self.train_rows])
        x_val = torch.from_numpy(data.features[self.validation_rows])
        y_train = data.labels[self.train_rows]
        y_val = data.labels[self.validation_rows]
        labels_t = torch.from_numpy(y_train.astype(np.float32))
        meter = LeakMeter(y_train, run.defence.batch_size)
        started = time.perf_counter()
        reply = self._check_reply(
            self.send(
                EmbeddingRequest(
                    0,
                    PHASE_INIT,
                    train_positions=self.train_rows.astype(np.int64),
                    validation_positions=self.validation_rows.astype(np.int64),
                )
            ),
            0,
        )
        rounds: list[dict[str, Any]] = []
        for round_index in range(hyper.rounds):
            mark = time.perf_counter()
            order = self.model_rng.permutation(len(self.train_rows))
            result = bank.train_round(
                x_train, reply.train, labels_t, order, round_index
            )
            sent = protect(
                result.gradients, y_train, order, run.defence, self.noise_rng
            )
            norm_leak, direction_leak = meter.add_round(sent, order)
            val_auc = roc_auc(y_val, bank.predict(x_val, reply.validation))
            last = round_index == hyper.rounds - 1
            message = round_index + 1
            sent_at = time.perf_counter()
            reply = self._check_reply(
                self.send(
                    EmbeddingRequest(
                        message,
                        PHASE_FINAL if last else PHASE_UPDATE,
                        gradients=sent,
                        order=order.astype(np.int64),
                    )
                ),
                message,
            )
            metrics = {
                "round": round_index + 1,
                "rounds": hyper.rounds,
                "train_loss": result.train_loss,
                "validation_auc": val_auc,
                "norm_leak": norm_leak,
                "direction_leak": direction_leak,
                "seconds": time.perf_counter() - mark,
                "round_trip_seconds": time.perf_counter() - sent_at,
                "elapsed": time.perf_counter() - started,
            }
            rounds.append(metrics)
            self.progress(metrics)
        scores = {
            "train": bank.predict(x_train, reply.train),
            "validation": bank.predict(x_val, reply.validation),
        }
        return BankResult(
            validation_auc=roc_auc(y_val, scores["validation"]),
            train_auc=roc_auc(y_train, scores["train"]),
            scores=scores,
            model=bank.to_arrays(),
            leak=meter.report(),
            rounds=rounds,
        )
