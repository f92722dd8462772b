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
