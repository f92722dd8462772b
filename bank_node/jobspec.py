"""Job specifications (JOB.toml) for the bank's job runner, validated with errors that
name the file and the key.

    [job]          name, purpose, counterpart, description
    [data]         bank data source (declared in bank.toml) and label column
    [alignment]    PSI mode (training needs "both": both parties learn the intersection)
    [operator]     requested operator features (names or glob patterns)
    [split]        validation fraction and seed (stratified by the bank's labels)
    [binning]      bins per feature and method, for WOE/IV
    [selection]    feature selection by IV threshold and/or top-k
    [model]        the trainer and its hyperparameters
    [report]       output folder, decision threshold, scorecard scaling
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from node_core.config import TomlLoader, read_toml


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
    method: Literal["quantile", "width"] = "quantile"


@dataclass(frozen=True)
class SelectionSection:
    min_iv: float | None = None
    top_k: int | None = None


@dataclass(frozen=True)
class ModelSection:
    type: Literal["hetero_lr"] = "hetero_lr"
    epochs: int = 30
    batch_size: int = 4096
    learning_rate: float = 0.5
    optimizer: Literal["sgd", "momentum", "nesterov"] = "sgd"
    momentum: float = 0.9
    lr_decay: float = 0.0  # lr_t = lr / (1 + lr_decay * epoch)
    l2: float = 0.0
    early_stopping_patience: int = 0  # 0 = off; else epochs without val-loss gain
    woe_bank_features: bool = False
    # Clip standardised features to +-clip (0 = off); same preprocessing as baselines.
    clip: float = 0.0
    seed: int = 7


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
class JobSpec:
    job: JobSection
    data: DataSection
    operator: OperatorSection
    alignment: AlignmentSection = field(default_factory=AlignmentSection)
    split: SplitSection = field(default_factory=SplitSection)
    binning: BinningSection = field(default_factory=BinningSection)
    selection: SelectionSection = field(default_factory=SelectionSection)
    model: ModelSection = field(default_factory=ModelSection)
    report: ReportSection = field(default_factory=ReportSection)
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
    m = spec.model
    if m.epochs < 1:
        loader.fail("model.epochs", "must be >= 1")
    if m.batch_size < 1:
        loader.fail("model.batch_size", "must be >= 1")
    if not 0 < m.momentum < 1:
        loader.fail("model.momentum", "must be between 0 and 1")
    if not 0 < spec.report.threshold < 1:
        loader.fail("report.threshold", "must be between 0 and 1")


def parse_job_spec(raw: dict[str, Any], source: Path) -> JobSpec:
    loader = TomlLoader(source)
    spec = loader.load(JobSpec, raw, "")
    output = spec.report.output
    if not output.is_absolute():  # the default, like every path, is spec-relative
        output = (source.parent / output).resolve()
    spec = JobSpec(
        **{
            **vars(spec),
            "source": source,
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
