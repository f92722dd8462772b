"""Job specifications: bad specs are rejected with errors naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bank_node.jobspec import load_job_spec, parse_job_spec
from bank_node.trainers.hetero_lr import HeteroLrOptions
from node_core.config import ConfigError

SOURCE = Path("/jobs/credit.toml")


def spec(**sections: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "job": {"name": "credit", "purpose": "credit_risk"},
        "data": {"source": "customers"},
        "operator": {"features": ["usage_*"]},
    }
    for key, value in sections.items():
        doc[key] = {**doc.get(key, {}), **value}
    return doc


def test_parse_job_spec_fills_defaults_if_minimal() -> None:
    # Execute
    job = parse_job_spec(spec(), SOURCE)
    # Assert
    assert job.alignment.mode == "both"
    assert job.model.type == "hetero_lr"
    assert job.model.options == HeteroLrOptions()
    assert job.report.output == Path("/jobs/reports")


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"job": {"name": ""}}, "job.name: must not be empty"),
        ({"operator": {"features": []}}, "operator.features: request at least one"
         " operator feature"),
        ({"alignment": {"mode": "intersection"}},
         "alignment.mode: must be one of 'both', got 'intersection'"),
        ({"model": {"optimizer": "adam"}},
         "model.optimizer: must be one of 'sgd', 'momentum', 'nesterov', got 'adam'"),
        ({"model": {"epochs": 0}}, "model.epochs: must be >= 1"),
        ({"model": {"learning_rate": "fast"}},
         "model.learning_rate: expected a number, got 'fast'"),
        ({"model": {"batch": 10}}, "model.batch: unknown key"),
        ({"model": {"type": "xgboost"}},
         "model.type: must be one of 'hetero_lr', 'secureboost', 'split_nn',"
         " got 'xgboost'"),
        ({"model": {"batch_size": 8192}},
         "model.batch_size: must be between 1 and 4096 (one ciphertext's slots)"),
        ({"model": {"clip": 0.0}}, "model.clip: must be > 0 and at most 32"),
        ({"model": {"learning_rate": 20.0}},
         "model: learning_rate must be in (0, 10], momentum in [0, 1)"),
        ({"split": {"validation_fraction": 0.9}},
         "split.validation_fraction: must be between 0.05 and 0.5"),
        ({"binning": {"bins": 1}}, "binning.bins: need at least 2 bins, got 1"),
        ({"selection": {"top_k": 0}}, "selection.top_k: must be >= 1"),
        ({"report": {"threshold": 1.5}}, "report.threshold: must be between 0 and 1"),
    ],
)  # fmt: skip
def test_parse_job_spec_raises_naming_key_if_invalid(
    sections: dict[str, Any], message: str
) -> None:
    # Execute
    with pytest.raises(ConfigError) as info:
        parse_job_spec(spec(**sections), SOURCE)
    # Assert
    assert str(info.value) == f"{SOURCE}: {message}"


def test_parse_job_spec_gives_the_trainer_its_options_if_model_table_set() -> None:
    # Execute
    job = parse_job_spec(
        spec(model={"type": "hetero_lr", "epochs": 12, "clip": 4.0}), SOURCE
    )
    # Assert
    assert job.model.options == HeteroLrOptions(epochs=12, clip=4.0)


def test_parse_job_spec_raises_if_section_missing() -> None:
    # Prepare
    doc = spec()
    del doc["data"]
    # Execute / Assert
    with pytest.raises(ConfigError, match="data: missing required key"):
        parse_job_spec(doc, SOURCE)


def test_load_job_spec_raises_if_not_toml(tmp_path: Path) -> None:
    # Prepare
    path = tmp_path / "job.toml"
    path.write_text("[job\nname=1")
    # Execute / Assert
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_job_spec(path)


# ---- lookalike ----------------------------------------------------------------------
LOOKALIKE = {
    "job": {"purpose": "marketing"},
    "data": {"seed_source": "seed_audience"},
    "model": {"type": "split_nn", "task": "lookalike"},
}


def lookalike_spec(**sections: dict[str, Any]) -> dict[str, Any]:
    doc = spec(**LOOKALIKE)  # type: ignore[arg-type]
    for key, value in sections.items():
        doc[key] = {**doc.get(key, {}), **value}
    return doc


def test_parse_job_spec_reads_a_lookalike_job_if_split_nn_with_a_seed_source() -> None:
    # Execute
    job = parse_job_spec(lookalike_spec(), SOURCE)
    # Assert: the task is the model's, the seed the data's; options stay the
    # trainer's (task is not one of them)
    assert (job.model.type, job.model.task, job.model.lookalike) == (
        "split_nn",
        "lookalike",
        True,
    )
    assert job.data.seed_source == "seed_audience"
    assert not hasattr(job.model.options, "task")


def test_parse_job_spec_defaults_to_the_credit_task_if_no_task_given() -> None:
    # Execute
    job = parse_job_spec(spec(model={"type": "split_nn"}), SOURCE)
    # Assert
    assert (job.model.task, job.model.lookalike) == ("credit", False)


def test_example_lookalike_job_loads_as_a_lookalike() -> None:
    # Execute
    job = load_job_spec(Path(__file__).parents[3] / "examples" / "lookalike_job.toml")
    # Assert
    assert (job.model.type, job.model.task) == ("split_nn", "lookalike")
    assert (job.job.purpose, job.data.seed_source) == ("marketing", "seed_audience")


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"model": {"task": "audience"}},
         "model.task: must be one of 'credit', 'lookalike', got 'audience'"),
        ({"model": {"type": "hetero_lr", "task": "lookalike"}},
         "model.task: model type 'hetero_lr' does not train task 'lookalike' (model"
         " types that do: 'split_nn')"),
        ({"model": {"type": "secureboost", "task": "lookalike"}},
         "model.task: model type 'secureboost' does not train task 'lookalike' (model"
         " types that do: 'split_nn')"),
        ({"data": {"seed_source": ""}},
         "data.seed_source: a lookalike job needs the bank data source (declared in"
         " bank.toml) that lists its seed audience's phone numbers"),
        ({"data": {"seed_source": "customers"}},
         "data.seed_source: must differ from data.source ('customers'): the seed"
         " audience is a list of some of the source's customers"),
        ({"data": {"label": "default_12m"}},
         "data.label: a lookalike job's label is membership of data.seed_source;"
         " remove data.label"),
        ({"job": {"purpose": "credit_risk"}},
         'job.purpose: a lookalike job is a marketing use: its purpose must be'
         ' "marketing" (the operator refuses any other), got \'credit_risk\''),
        ({"model": {"task": "credit"}},
         'data.seed_source: only for model.task = "lookalike" (this job\'s task is'
         ' "credit")'),
    ],
)  # fmt: skip
def test_parse_job_spec_refuses_a_lookalike_job_naming_the_key_if_invalid(
    sections: dict[str, Any], message: str
) -> None:
    # Execute
    with pytest.raises(ConfigError) as info:
        parse_job_spec(lookalike_spec(**sections), SOURCE)
    # Assert
    assert str(info.value) == f"{SOURCE}: {message}"


def test_parse_job_spec_refuses_a_lookalike_job_if_no_seed_source() -> None:
    # Prepare
    doc = lookalike_spec()
    del doc["data"]["seed_source"]
    # Execute
    with pytest.raises(ConfigError) as info:
        parse_job_spec(doc, SOURCE)
    # Assert
    assert str(info.value).startswith(f"{SOURCE}: data.seed_source: a lookalike job")
