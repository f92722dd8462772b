"""The bank's party in split-NN training: its rounds, independent of Flower's transport.

:class:`BankDriver` runs the bank's rounds against a ``send`` callable (the ServerApp
passes one built on Flower's Grid; tests pass the operator's handler directly):
top-model training on the operator's embeddings, label protection of the gradients it
returns, the attacks' leak and the validation AUC per round.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.label_protection import LeakMeter, protect
from models.metrics import roc_auc
from models.split_nn import BankTop, SplitNnSpecError, check_matrix
from protocol.errors import FailedPrecondition, InvalidArgument
from protocol.split_nn.messages import (
    PHASE_FINAL,
    PHASE_INIT,
    PHASE_UPDATE,
    EmbeddingReply,
    EmbeddingRequest,
    SplitNnRun,
)
from protocol.split_nn.party import save_arrays

BANK_DATA_FILE = "bank_data.npz"


@dataclass(frozen=True)
class BankData:
    """The bank's aligned job data: features, labels and the validation split.

    ``model_seed`` (optional, bank-local, never sent) fixes the bank's model
    initialisation and row orders, e.g. for a paired comparison of two runs; the
    defence's noise is drawn from the OS in every case.
    """

    features: np.ndarray  # (m, bank_features) float32
    labels: np.ndarray  # (m,) int64, 0/1
    validation: np.ndarray  # (m,) bool
    model_seed: int | None = None

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
            seed = (
                data["model_seed"].reshape(-1) if "model_seed" in data.files else None
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
        if seed is not None and (seed.size != 1 or seed.dtype.kind not in "iu"):
            raise InvalidArgument(f"{path}: model_seed must be one integer")
        return cls(
            np.asarray(features, dtype=np.float32),
            labels.astype(np.int64),
            validation.astype(bool),
            None if seed is None else int(seed[0]),
        )

    def save(self, job_dir: Path) -> Path:
        job_dir.mkdir(parents=True, exist_ok=True)
        path = job_dir / BANK_DATA_FILE
        arrays = {
            "features": self.features,
            "labels": self.labels,
            "validation": self.validation,
        }
        if self.model_seed is not None:
            arrays["model_seed"] = np.array([self.model_seed], dtype=np.int64)
        save_arrays(path, arrays)
        return path


Send = Callable[[EmbeddingRequest], EmbeddingReply]


@dataclass
class BankResult:
    """What the bank learned from one run."""

    validation_auc: float
    train_auc: float
    scores: dict[str, np.ndarray]  # logits per split, from the final embeddings
    embeddings: dict[str, np.ndarray]  # the final round's, per split
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
            embeddings={"train": reply.train, "validation": reply.validation},
            model=bank.to_arrays(),
            leak=meter.report(),
            rounds=rounds,
        )
