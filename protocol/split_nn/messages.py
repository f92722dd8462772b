"""Domain messages of the split-NN Flower app: the run config, one round's exchange."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

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
