"""Domain messages of the HeteroLr service (see hetero_lr.proto for the contract)."""

from __future__ import annotations

from dataclasses import dataclass

TRAIN = "train"
VALIDATION = "validation"


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
    split: str
    rows: tuple[int, ...]
    bank_logits: bytes
    operator_step: tuple[bytes, ...]
    step_epoch: int
    with_harmonics: bool = False


@dataclass(frozen=True)
class LrForwardReply:
    operator_logits: bytes
    operator_harmonics: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class LrSigmoid:
    job_id: str
    bank_harmonics: tuple[bytes, ...]


@dataclass(frozen=True)
class LrSigmoidReply:
    masked_residual: bytes
    negated_mask: bytes


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
    masked_loss: bytes


@dataclass(frozen=True)
class LrReveal:
    job_id: str
    bank_masked_weights: bytes
    operator_step: tuple[bytes, ...]
    step_epoch: int


@dataclass(frozen=True)
class LrRevealReply:
    bank_opened: tuple[float, ...]
    operator_masked_weights: bytes


@dataclass(frozen=True)
class LrRevealFinish:
    job_id: str
    operator_opened: tuple[float, ...]
