"""Domain messages of split NN: the Flower run config and one round's exchange, and the
SplitNn service's job set-up calls. Light (models only for type checking): the
service is imported by every node."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from models.label_protection import DefenceSpec
    from models.split_nn import SplitNnSpec, TrainHyper

PHASE_INIT = "init"  # round 0: positions in, first embeddings out
PHASE_UPDATE = "update"  # gradients of the last round in, new embeddings out
PHASE_FINAL = "final"  # last gradients in, final embeddings out, operator saves
PHASES = (PHASE_INIT, PHASE_UPDATE, PHASE_FINAL)
# Flower's message type for every round (the phase travels in the content).
MESSAGE_TYPE = "train"
JOB_ID_RE = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class SplitNnRun:
    """One training run as both parties see it (Flower's run config, parsed)."""

    job_id: str
    spec: SplitNnSpec
    hyper: TrainHyper
    defence: DefenceSpec
    seed: int
    operator_node_id: int
    bank_job_dir: str
    round_timeout_s: float


@dataclass(frozen=True)
class EmbeddingRequest:
    """Bank -> operator. ``round_index`` counts messages: 0 is the init message."""

    round_index: int
    phase: str
    train_positions: np.ndarray | None = None  # init: aligned positions, int64
    validation_positions: np.ndarray | None = None
    gradients: np.ndarray | None = None  # update/final: (n_train, embedding) f32
    order: np.ndarray | None = None  # update/final: permutation of 0..n_train-1


@dataclass(frozen=True)
class EmbeddingReply:
    """Operator -> bank: embeddings of the training and validation rows, in order."""

    round_index: int
    train: np.ndarray  # (n_train, embedding) float32
    validation: np.ndarray  # (n_validation, embedding) float32


# ---- the SplitNn gRPC service (job set-up and end; training runs over Flower) -------


@dataclass(frozen=True)
class NnPrepare:
    """Bank -> operator: the features the bottom model uses and the rounds asked."""

    job_id: str
    operator_features: tuple[int, ...]  # indexes of JobDecision.features
    rounds: int


@dataclass(frozen=True)
class NnPrepareReply:
    operator_columns: int  # the bottom model's input width
    node_public_key: bytes  # PEM: the key the operator's SuperNode signs with
    train_rows: int
    validation_rows: int


@dataclass(frozen=True)
class NnStart:
    """Bank -> operator: where its SuperLink listens."""

    job_id: str
    superlink_host: str
    superlink_port: int


@dataclass(frozen=True)
class NnComplete:
    job_id: str


@dataclass(frozen=True)
class NnCompleteReply:
    model_name: str
    model_version: int
