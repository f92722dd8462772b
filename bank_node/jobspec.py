"""Job specifications (JOB.toml) for the bank's job runner, validated with errors that
name the file and the key.

    [job]          name, purpose, counterpart, description
    [data]         bank data source (declared in bank.toml) and label column
    [alignment]    PSI mode (training needs "both": both parties learn the intersection)
    [operator]     requested operator features (names or glob patterns)
    [split]        validation fraction and seed (stratified by the bank's labels)
    [binning]      bins per feature and method, for WOE/IV
    [selection]    feature selection by IV threshold and/or top-k
    [model]        `type` picks the trainer (bank_node/trainers/registry.py); the
                   other keys are that trainer's options, checked by it
    [report]       output folder, decision threshold, scorecard scaling
    [deadlines]    seconds each stage may take before the job fails (<stage>_s)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bank_node.trainers.base import ModelOptions
from bank_node.trainers.registry import DEFAULT_MODEL_TYPE, model_types, trainer_for
from node_core.config import TomlLoader, read_toml
from protocol.binning.messages import Method


@dataclass(frozen=True)
class JobSection:
    name: str
    purpose: str
    counterpart: str = "operator"
    description: str = ""


@dataclass(frozen=True)
class DataSection:
    source: str
    label: str | None = None  # default: the source's declared label
    bank_features: tuple[str, ...] = ()  # default: all declared features


@dataclass(frozen=True)
class AlignmentSection:
    mode: Literal["both"] = "both"


@dataclass(frozen=True)
class OperatorSection:
    features: tuple[str, ...]


@dataclass(frozen=True)
class SplitSection:
    validation_fraction: float = 0.3
    seed: int = 42


@dataclass(frozen=True)
class BinningSection:
    bins: int = 10
    method: Method = "quantile"


@dataclass(frozen=True)
class SelectionSection:
    min_iv: float | None = None
    top_k: int | None = None


@dataclass(frozen=True)
class ModelSpec:
    """The [model] table: the trainer's model type and its own options dataclass."""

    type: str
    options: ModelOptions

    @classmethod
    def default(cls) -> ModelSpec:
        trainer = trainer_for(DEFAULT_MODEL_TYPE)
        assert trainer is not None
        return cls(DEFAULT_MODEL_TYPE, trainer.options_type())


@dataclass(frozen=True)
class ScorecardSection:
    base_points: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0


@dataclass(frozen=True)
class ReportSection:
    output: Path = Path("reports")
    threshold: float = 0.5
    scorecard: ScorecardSection = field(default_factory=ScorecardSection)


@dataclass(frozen=True)
class DeadlinesSection:
    """Seconds each stage of the job runner may take; past it the job fails on both
    sides with an error naming the stage and the key. `approve_s` includes waiting
    for a manual approval."""

    approve_s: float = 3600.0
    align_s: float = 3600.0
    bind_s: float = 300.0
    select_features_s: float = 3600.0
    train_s: float = 43200.0
    score_s: float = 1800.0


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
    if spec.binning.bins < 2:
        loader.fail("binning.bins", f"need at least 2 bins, got {spec.binning.bins}")
    if spec.selection.top_k is not None and spec.selection.top_k < 1:
        loader.fail("selection.top_k", "must be >= 1")
    if not 0 < spec.report.threshold < 1:
        loader.fail("report.threshold", "must be between 0 and 1")
    for name, seconds in vars(spec.deadlines).items():
        if seconds <= 0:
            loader.fail(f"deadlines.{name}", "must be > 0")


def parse_model(loader: TomlLoader, table: Any) -> ModelSpec:
    """[model]: the trainer its `type` names parses and checks the other keys."""
    if not isinstance(table, dict):
        loader.fail("model", f"expected a table, got {type(table).__name__}")
    model_type = table.get("type", DEFAULT_MODEL_TYPE)
    trainer = trainer_for(model_type) if isinstance(model_type, str) else None
    if trainer is None:
        allowed = ", ".join(repr(t) for t in model_types())
        loader.fail("model.type", f"must be one of {allowed}, got {model_type!r}")
    options = trainer.parse_options(
        loader, {k: v for k, v in table.items() if k != "type"}
    )
    return ModelSpec(model_type, options)


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
