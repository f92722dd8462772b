"""The seam between the bank's job runner and a model type: the Trainer.

The runner (bank_node/job_runner.py) does what every joint model needs: approval,
PSI alignment, the train/validation split bound on both sides, federated IV and
feature selection, the report and the registries. A Trainer does the rest for one
model type, chosen by the job spec's `[model] type`:

- `parse_options` turns the rest of the `[model]` table into the trainer's own
  options dataclass, with errors naming the file and key, when the spec is loaded
  (before the job exists and before any data moves);
- `capabilities` are the protocols the operator must speak (checked at the handshake);
- `train` runs the training protocol against the operator's passive role of the same
  model type (operator_node/roles/) and returns the trained model;
- `score` is the score stage: the validation and train scores, paired with their
  labels, that the report evaluates (it may involve the operator);
- `describe` gives what the report shows of the model (history, coefficients...);
- `model_part` serialises the bank's part of the model for its registry.

To add a model type: write a Trainer (and its options dataclass) in this package and
add it to registry.py, and the matching passive role on the operator side.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import grpc
import numpy as np
import pandas as pd

from models.binning import BinningModel
from models.report import EpochMetrics, ReportTable
from models.scorecard import Scorecard, ScorecardScale
from models.woe import WoeIv
from node_core.checkpoint import JobCheckpoints
from node_core.config import NodeConfig, TomlLoader
from node_core.model_registry import ModelPart
from protocol.domain import Split
from protocol.transport import TransportLimits

Progress = Callable[[str], None]


class ModelOptions(Protocol):
    """What every trainer's options tell the operator's policy in the proposal."""

    @property
    def batch_size(self) -> int:
        """The fewest rows any value the operator reveals is aggregated over
        (checked against the operator's policy.min_batch_size)."""
        ...


OptionsT = TypeVar("OptionsT", bound=ModelOptions)
ModelT = TypeVar("ModelT")


@dataclass(frozen=True)
class BankInputs:
    """The bank's selected features on the aligned rows, and what selection learned."""

    frame: pd.DataFrame  # chosen columns, one row per aligned position
    kinds: Mapping[str, str]  # column -> "numeric" | "categorical"
    binning: BinningModel  # fitted on the training rows (all bank features)
    ivs: Mapping[str, WoeIv]  # WOE/IV per bank feature, training rows


@dataclass(frozen=True)
class OperatorInputs:
    """The operator's selected features, by the indexes of JobDecision.features."""

    indexes: tuple[int, ...]
    names: Mapping[int, str]  # as the operator discloses them
    min_batch: int  # the operator's policy minimum of rows per aggregate


@dataclass(frozen=True)
class TrainingContext:
    """Everything the runner hands a trainer after feature selection."""

    job_id: str
    channel: grpc.Channel  # handshake done, capabilities checked
    limits: TransportLimits
    labels: np.ndarray  # 0/1 per aligned position
    positions: Mapping[Split, np.ndarray]  # aligned positions of each split
    # The bank's own row per aligned position: stable across PSI sessions (the
    # aligned order is new in each), so draws over it repeat with the same seed.
    stable_key: np.ndarray
    bank: BankInputs
    operator: OperatorInputs
    scorecard_scale: ScorecardScale
    progress: Progress = field(default=lambda _: None)
    # Where the trainer checkpoints its state at epoch boundaries (none: it does
    # not), and whether it continues from the last checkpoint (`job resume`).
    checkpoints: JobCheckpoints | None = None
    resume: bool = False
    # Called once the operator accepted the resume (the runner's heartbeats start
    # then: before it, the operator knows the job only as interrupted).
    resumed: Callable[[], None] = field(default=lambda: None)
    # The bank node's configuration (state_dir, per-model-type sections).
    config: NodeConfig | None = None


@dataclass(frozen=True)
class ScoredSplit:
    """A split's scores (probability of the positive class) paired with its labels.

    Pairs, not rows: the report evaluates them as a multiset, so a scoring protocol
    may deliver them unlinked from the bank's rows."""

    probability: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class ModelReport:
    """What the report and the job summary show of a trained model."""

    history: tuple[EpochMetrics, ...]
    best_epoch: int
    seconds_per_epoch: float
    # The same model type trained the same way on the bank's inputs only, same rows
    # and split: what the bank gets without the operator.
    bank_only_auc: float
    bank_only_note: str
    # What each party learned in training and scoring (the runner adds PSI and IV).
    privacy: tuple[str, ...]
    coefficients: Mapping[str, float] = field(default_factory=dict)
    intercept: float | None = None
    scorecard: Scorecard | None = None
    bank_only_best_epoch: int | None = None
    # What preparing the model's inputs did to each bank column (missing share,
    # indicators made or merged away, categories folded into "other").
    preparation: tuple[Mapping[str, Any], ...] = ()
    notes: tuple[str, ...] = ()  # lines the modeler should read (report, summary)
    # What the modeler should know about the training (e.g. no convergence signal).
    warnings: tuple[str, ...] = ()
    # Wall time per epoch of the per-epoch validation evaluation (e.g. its AUC).
    evaluation_seconds_per_epoch: float = 0.0
    # The model's own report tables (feature importance, trees, ...).
    tables: tuple[ReportTable, ...] = ()
    # Training figures for the job summary's "training" (times by step, ...).
    details: Mapping[str, Any] = field(default_factory=dict)


class Trainer(ABC, Generic[OptionsT, ModelT]):
    """The bank's (active) side of one model type."""

    # The job spec's [model] type, also JobProposal.model and the operator's role.
    model_type: ClassVar[str]
    # Capabilities the operator must share for this model type (beyond jobs, PSI
    # and binning, which every job uses).
    capabilities: ClassVar[tuple[str, ...]]
    # The dataclass the [model] table (minus `type` and `task`) is loaded into.
    options_type: ClassVar[type[Any]]
    # The tasks (`[model] task`: what the labels are) this model type trains:
    # "credit" = the bank's label column; "lookalike" = membership of the bank's seed
    # audience (labels built by the runner, bank_node/lookalike.py; the trainer sees
    # 0/1 labels either way and must disclose nothing more for one than the other).
    tasks: ClassVar[tuple[str, ...]] = ("credit",)

    def parse_options(self, loader: TomlLoader, table: dict[str, Any]) -> OptionsT:
        """The [model] options, loaded and checked; ConfigError names the key."""
        options: OptionsT = loader.load(self.options_type, table, "model")
        self.check_options(loader, options)
        return options

    @abstractmethod
    def check_options(self, loader: TomlLoader, options: OptionsT) -> None:
        """Refuse values the model cannot train with (`loader.fail(key, why)`)."""

    def check_node(self, config: NodeConfig) -> str | None:
        """What the bank node's config lacks for this model type (None: nothing). Asked
        before the job is proposed, so a job that could not train spends no approval,
        PSI budget or model budget."""
        return None

    @abstractmethod
    def train(self, context: TrainingContext, options: OptionsT) -> ModelT:
        """The train stage: run the training protocol with the operator."""

    @abstractmethod
    def score(
        self, context: TrainingContext, options: OptionsT, model: ModelT
    ) -> dict[Split, ScoredSplit]:
        """The score stage: scores and labels of both splits for the report."""

    @abstractmethod
    def describe(
        self, context: TrainingContext, options: OptionsT, model: ModelT
    ) -> ModelReport:
        """What the report shows of the model."""

    @abstractmethod
    def model_part(
        self, context: TrainingContext, options: OptionsT, model: ModelT
    ) -> ModelPart:
        """The bank's part of the model for its registry (the runner adds metrics)."""
