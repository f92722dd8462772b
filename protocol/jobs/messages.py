"""Domain types of the Jobs service (see jobs.proto for the contract)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from protocol.domain import JobStatus, Split
from protocol.psi.messages import PsiMode

FeatureKind = Literal["numeric", "categorical"]
FEATURE_KINDS: tuple[FeatureKind, ...] = ("numeric", "categorical")
# JobProposal.model of a PSI job: one PSI session in the proposal's psi_mode, no model.
PSI_JOB = "psi"
# JobProposal.task of a model job: what its labels are. "credit": the bank's label
# column (e.g. default in 12 months); "lookalike": "this aligned customer is in the
# bank's seed audience", built by the bank alone from its own list (bank_node/
# lookalike.py). A lookalike model is a marketing use of the operator's data, so its
# purpose must be LOOKALIKE_PURPOSE, which the operator's policy.purposes must allow.
CREDIT_TASK = "credit"
LOOKALIKE_TASK = "lookalike"
TASKS = (CREDIT_TASK, LOOKALIKE_TASK)
LOOKALIKE_PURPOSE = "marketing"


@dataclass(frozen=True)
class JobProposal:
    """A bank's request to run a joint job on the operator's data: a model (the job
    spec's `[model] type`, aligned by one PSI session in mode both) or, with model
    PSI_JOB, one PSI session in `psi_mode` on at most `max_rows` numbers."""

    job_id: str
    purpose: str
    features: tuple[str, ...]
    model: str  # the job spec's [model] type, e.g. "hetero_lr"; PSI_JOB for PSI
    max_rows: int
    batch_size: int
    description: str = ""
    psi_mode: PsiMode | None = None  # PSI jobs only
    task: str = CREDIT_TASK  # model jobs: one of TASKS

    @property
    def is_psi(self) -> bool:
        return self.model == PSI_JOB


@dataclass(frozen=True)
class OperatorFeature:
    index: int
    display_name: str
    kind: FeatureKind


@dataclass(frozen=True)
class FeatureQuery:
    """Which offered operator features to list: names or patterns, () = all."""

    patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobDecision:
    job_id: str
    status: JobStatus
    message: str = ""
    features: tuple[OperatorFeature, ...] = ()
    min_batch_size: int = 0


@dataclass(frozen=True, eq=False)
class JobBinding:
    """Binds a job to a PSI alignment; `validation[p]` is True when aligned position p
    is a validation row (one entry per aligned row)."""

    job_id: str
    alignment_id: str
    validation: np.ndarray  # bool, one per aligned position

    @property
    def rows(self) -> int:
        return len(self.validation)


@dataclass(frozen=True)
class JobOutcome:
    job_id: str
    succeeded: bool
    message: str = ""


def split_positions(validation: np.ndarray) -> dict[Split, np.ndarray]:
    """The aligned positions of each split, ascending; both parties derive them from
    the binding's validation mask."""
    mask = np.asarray(validation, dtype=bool)
    return {
        Split.TRAIN: np.flatnonzero(~mask),
        Split.VALIDATION: np.flatnonzero(mask),
    }
