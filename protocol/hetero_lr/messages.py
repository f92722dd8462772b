"""Domain messages of the HeteroLr service (see hetero_lr.proto for the contract)."""

from __future__ import annotations

from dataclasses import dataclass

from protocol.domain import Split


@dataclass(frozen=True)
class LrSetup:
    job_id: str
    bank_context: bytes
    bank_dim: int
    operator_features: tuple[int, ...]
    learning_rate: float
    optimizer: str
    momentum: float
    lr_decay: float
    l2: float
    batch_size: int
    sigmoid_terms: int
    sigmoid_range: float
    sigmoid_period: float
    clip: float


@dataclass(frozen=True)
class LrSetupReply:
    operator_context: bytes
    operator_dim: int
    train_rows: int
    validation_rows: int


@dataclass(frozen=True)
class LrForward:
    job_id: str
    epoch: int
    split: Split
    rows: tuple[int, ...]
    bank_logits: bytes
    operator_step: tuple[bytes, ...]
    step_epoch: int
    evaluation: bool = False
    range_level: int = 0


@dataclass(frozen=True)
class LrForwardReply:
    operator_logits: bytes


@dataclass(frozen=True)
class LrSigmoid:
    job_id: str
    bank_harmonics: tuple[bytes, ...]


@dataclass(frozen=True)
class LrSigmoidReply:
    masked_sigmoid: bytes
    negated_mask: bytes
    zone_mask: int


@dataclass(frozen=True)
class LrBackward:
    job_id: str
    epoch: int
    residual_share: bytes
    bank_products: tuple[bytes, ...]


@dataclass(frozen=True)
class LrBackwardReply:
    operator_products: tuple[bytes, ...]
    bank_step: tuple[bytes, ...]


@dataclass(frozen=True)
class LrLoss:
    job_id: str
    loss_terms: tuple[bytes, ...]


@dataclass(frozen=True)
class LrLossReply:
    masked_loss: bytes
    mask_constant: int
    zone_mask: int


@dataclass(frozen=True)
class LrReveal:
    job_id: str
    operator_step_units: tuple[int, ...]


@dataclass(frozen=True)
class LrRevealReply:
    bank_step_units: tuple[int, ...]


@dataclass(frozen=True)
class LrKeepBest:
    job_id: str
    epoch: int


# Agreed checkpoints a bank may offer in one Resume.
MAX_RESUME_CANDIDATES = 8


@dataclass(frozen=True)
class LrCheckpoint:
    job_id: str
    epoch: int
    bank_commitment: str


@dataclass(frozen=True)
class CheckpointRef:
    epoch: int
    digest: str


@dataclass(frozen=True)
class LrResume:
    job_id: str
    checkpoints: tuple[CheckpointRef, ...]


@dataclass(frozen=True)
class LrResumeReply:
    checkpoint: CheckpointRef
    setup: LrSetupReply
