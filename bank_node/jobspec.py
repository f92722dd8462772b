"""Job specifications (JOB.toml) for the bank's job runner, validated with errors that
name the file and the key.

    [job]          name, purpose, counterpart, description
    [data]         bank data source (declared in bank.toml) and label column; for a
                   lookalike job the source of its seed audience instead of a label
    [alignment]    PSI mode (training needs "both": both parties learn the intersection)
    [operator]     requested operator features (names or glob patterns)
    [split]        validation fraction and seed (stratified by the bank's labels)
    [binning]      bins per feature and method, for WOE/IV
    [selection]    feature selection by IV threshold and/or top-k
    [model]        `type` picks the trainer (bank_node/trainers/registry.py), `task`
                   what the labels are ("credit": the label column; "lookalike":
                   membership of the seed audience, bank_node/lookalike.py); the
                   other keys are that trainer's options, checked by it
    [report]       output folder, decision threshold, scorecard scaling
    [deadlines]    seconds each stage may take before the job fails (<stage>_s)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bank_node.trainers.base import ModelOptions
from bank_node.trainers.registry import (
    DEFAULT_MODEL_TYPE,
    model_types,
    model_types_for,
    trainer_for,
)
from node_core.config import TomlLoader, read_toml
from protocol.binning.messages import Method
from protocol.jobs.messages import (
    CREDIT_TASK,
    LOOKALIKE_PURPOSE,
    LOOKALIKE_TASK,
    TASKS,
)


@dataclass(frozen=True)
class JobSection:
    # The job's name, shown in reports and the model registry.
    name: str
    # Declared purpose, checked against the operator's policy.purposes.
    purpose: str
    # The operator's party id (a counterpart in bank.toml).
    counterpart: str = "operator"
    # Free text shown to the operator with the proposal.
    description: str = ""


@dataclass(frozen=True)
class DataSection:
    # The bank's data source (declared in bank.toml) with the labels.
    source: str
    # The label column; unset = the source's declared label.
    label: str | None = None
    # The bank's feature columns to consider; unset = all the source declares.
    bank_features: tuple[str, ...] = ()
    # Fail the job if the source rejected more than this share of its rows (bad
    # phone, bad label, ...); unset = the source's own max_rejected_share.
    max_rejected_share: float | None = None
    # Lookalike jobs (model.task = "lookalike") only: the bank data source (declared
    # in bank.toml, its id column = phone numbers) listing the seed audience. Label 1
    # = an aligned row of `source` whose phone is in it, 0 = every other aligned row
    # (positive-unlabelled); built on the bank, never sent.
    seed_source: str | None = None


@dataclass(frozen=True)
class AlignmentSection:
    # PSI mode of the alignment: training needs both parties to know the aligned
    # rows.
    mode: Literal["both"] = "both"


@dataclass(frozen=True)
class OperatorSection:
    # Operator features requested, names or glob patterns (within its policy).
    features: tuple[str, ...]


@dataclass(frozen=True)
class SplitSection:
    # Share of the aligned rows held out for validation (stratified by label).
    validation_fraction: float = 0.3
    # Seed of the split (drawn over the bank's own row order, so it repeats).
    seed: int = 42


@dataclass(frozen=True)
class BinningSection:
    # Bins per numeric feature for WOE/IV (2-64; fewer when values tie or bins
    # merge).
    bins: int = 10
    # quantile = equal-frequency bins, width = equal-width bins.
    method: Method = "quantile"
    # Fewest training rows in any occupied bin of the bank's own features (smaller
    # bins merged); unset = the operator's min_batch_size, as its bins get.
    min_bin_rows: int | None = None


@dataclass(frozen=True)
class SelectionSection:
    # Keep features with information value at least this (both parties); unset =
    # all.
    min_iv: float | None = None
    # Then keep the k features of highest IV (both parties together); unset = all.
    top_k: int | None = None


@dataclass(frozen=True)
class ModelSpec:
    """The [model] table: the trainer's model type, the task (what the labels are)
    and the trainer's own options dataclass."""

    type: str
    options: ModelOptions
    task: str = CREDIT_TASK

    @classmethod
    def default(cls) -> ModelSpec:
        trainer = trainer_for(DEFAULT_MODEL_TYPE)
        assert trainer is not None
        return cls(DEFAULT_MODEL_TYPE, trainer.options_type())

    @property
    def lookalike(self) -> bool:
        return self.task == LOOKALIKE_TASK


@dataclass(frozen=True)
class ScorecardSection:
    # Score at the base odds.
    base_points: float = 600.0
    # Odds (good:bad) that score base_points.
    base_odds: float = 50.0
    # Points to double the odds.
    pdo: float = 20.0


@dataclass(frozen=True)
class ReportSection:
    # Report folder ({job_id} is replaced; else a folder per job is made inside).
    output: Path = Path("reports")
    # Score at or above which a row is predicted positive (confusion matrix).
    threshold: float = 0.5
    scorecard: ScorecardSection = field(default_factory=ScorecardSection)


@dataclass(frozen=True)
class DeadlinesSection:
    """Seconds each stage of the job runner may take; past it the job fails on both
    sides with an error naming the stage and the key. `approve_s` includes waiting
    for a manual approval."""

    # Proposal until approval (manual approvals included).
    approve_s: float = 3600.0
    # PSI alignment.
    align_s: float = 3600.0
    # Binding the alignment and the validation split to the job.
    bind_s: float = 300.0
    # Federated IV and feature selection.
    select_features_s: float = 3600.0
    # Training.
    train_s: float = 43200.0
    # Evaluation of the trained model on both splits and, with [model] epoch_auc, the
    # validation AUC of every epoch (each round takes about two training epochs).
    score_s: float = 43200.0


@dataclass(frozen=True)
class JobSpec:
    job: JobSection
    data: DataSection
    operator: OperatorSection
    alignment: AlignmentSection = field(default_factory=AlignmentSection)
    split: SplitSection = field(default_factory=SplitSection)
    binning: BinningSection = field(default_factory=BinningSection)
    selection: SelectionSection = field(default_factory=SelectionSection)
    report: ReportSection = field(default_factory=ReportSection)
    deadlines: DeadlinesSection = field(default_factory=DeadlinesSection)
    # Parsed by the trainer its `type` names (parse_model), not by the loader.
    model: ModelSpec = field(
        default_factory=lambda: ModelSpec.default(), metadata={"internal": True}
    )
    source: Path = field(default=Path("<memory>"), metadata={"internal": True})


def _validate(loader: TomlLoader, spec: JobSpec) -> None:
    if not spec.job.name.strip():
        loader.fail("job.name", "must not be empty")
    if not spec.operator.features:
        loader.fail("operator.features", "request at least one operator feature")
    if not 0.05 <= spec.split.validation_fraction <= 0.5:
        loader.fail("split.validation_fraction", "must be between 0.05 and 0.5")
    share = spec.data.max_rejected_share
    if share is not None and not 0 <= share <= 1:
        loader.fail("data.max_rejected_share", f"must be between 0 and 1, got {share}")
    if spec.binning.bins < 2:
        loader.fail("binning.bins", f"need at least 2 bins, got {spec.binning.bins}")
    if spec.selection.top_k is not None and spec.selection.top_k < 1:
        loader.fail("selection.top_k", "must be >= 1")
    if not 0 < spec.report.threshold < 1:
        loader.fail("report.threshold", "must be between 0 and 1")
    for name, seconds in vars(spec.deadlines).items():
        if seconds <= 0:
            loader.fail(f"deadlines.{name}", "must be > 0")
    _validate_task(loader, spec)


def _validate_task(loader: TomlLoader, spec: JobSpec) -> None:
    """A lookalike job names its seed source and no label, and is a marketing job;
    a credit job names no seed source."""
    data = spec.data
    if not spec.model.lookalike:
        if data.seed_source is not None:
            loader.fail(
                "data.seed_source",
                f'only for model.task = "{LOOKALIKE_TASK}" (this job\'s task is'
                f' "{spec.model.task}")',
            )
        return
    if data.seed_source is None or not data.seed_source.strip():
        loader.fail(
            "data.seed_source",
            "a lookalike job needs the bank data source (declared in bank.toml) that"
            " lists its seed audience's phone numbers",
        )
    if data.seed_source == data.source:
        loader.fail(
            "data.seed_source",
            f"must differ from data.source ({data.source!r}): the seed audience is a"
            " list of some of the source's customers",
        )
    if data.label is not None:
        loader.fail(
            "data.label",
            "a lookalike job's label is membership of data.seed_source; remove"
            " data.label",
        )
    if spec.job.purpose != LOOKALIKE_PURPOSE:
        loader.fail(
            "job.purpose",
            f"a lookalike job is a marketing use: its purpose must be"
            f' "{LOOKALIKE_PURPOSE}" (the operator refuses any other), got'
            f" {spec.job.purpose!r}",
        )


def parse_model(loader: TomlLoader, table: Any) -> ModelSpec:
    """[model]: the trainer its `type` names parses and checks the other keys."""
    if not isinstance(table, dict):
        loader.fail("model", f"expected a table, got {type(table).__name__}")
    model_type = table.get("type", DEFAULT_MODEL_TYPE)
    trainer = trainer_for(model_type) if isinstance(model_type, str) else None
    if trainer is None:
        allowed = ", ".join(repr(t) for t in model_types())
        loader.fail("model.type", f"must be one of {allowed}, got {model_type!r}")
    task = table.get("task", CREDIT_TASK)
    if task not in TASKS:
        allowed = ", ".join(repr(t) for t in TASKS)
        loader.fail("model.task", f"must be one of {allowed}, got {task!r}")
    if task not in trainer.tasks:
        able = ", ".join(repr(t) for t in model_types_for(task)) or "none"
        loader.fail(
            "model.task",
            f"model type {model_type!r} does not train task {task!r} (model types"
            f" that do: {able})",
        )
    options = trainer.parse_options(
        loader, {k: v for k, v in table.items() if k not in ("type", "task")}
    )
    return ModelSpec(model_type, options, task)


def parse_job_spec(raw: dict[str, Any], source: Path) -> JobSpec:
    loader = TomlLoader(source)
    raw = dict(raw)
    model_table = raw.pop("model", {})
    spec = loader.load(JobSpec, raw, "")
    model = parse_model(loader, model_table)
    output = spec.report.output
    if not output.is_absolute():  # the default, like every path, is spec-relative
        output = (source.parent / output).resolve()
    spec = JobSpec(
        **{
            **vars(spec),
            "source": source,
            "model": model,
            "report": ReportSection(
                output, spec.report.threshold, spec.report.scorecard
            ),
        }
    )
    _validate(loader, spec)
    return spec


def load_job_spec(path: Path | str) -> JobSpec:
    source = Path(path)
    return parse_job_spec(read_toml(source), source)
