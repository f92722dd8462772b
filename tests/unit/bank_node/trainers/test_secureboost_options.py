"""SecureBoost job options: XGBoost's names and defaults, and every bad value refused
with the key and the range when the job spec is loaded, before any data moves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bank_node.jobspec import parse_job_spec
from bank_node.trainers.secureboost import SecureBoostOptions
from models.secureboost.params import BoostParams
from node_core.config import ConfigError

SOURCE = Path("/jobs/sbt.toml")


def spec(**model: Any) -> dict[str, Any]:
    return {
        "job": {"name": "credit", "purpose": "credit_risk"},
        "data": {"source": "customers"},
        "operator": {"features": ["usage_*"]},
        "model": {"type": "secureboost", **model},
    }


def test_parse_job_spec_gives_xgboost_defaults_if_secureboost_minimal() -> None:
    # Execute
    job = parse_job_spec(spec(), SOURCE)
    # Assert
    options = job.model.options
    assert job.model.type == "secureboost" and options == SecureBoostOptions()
    assert options.params() == BoostParams(min_operator_rows=1024)
    assert (options.trees, options.max_depth, options.max_bins) == (30, 3, 32)
    assert options.batch_size == options.min_operator_rows == 1024


def test_parse_job_spec_maps_every_option_if_secureboost_set() -> None:
    # Prepare
    model = {
        "trees": 50, "max_depth": 4, "learning_rate": 0.1, "reg_lambda": 2.0,
        "gamma": 0.5, "min_child_weight": 3.0, "max_bins": 64,
        "objective": "multi:softprob", "num_class": 3, "subsample": 0.8,
        "colsample_bytree": 0.7, "early_stopping_rounds": 5, "bank_only_trees": 2,
        "min_operator_rows": 2000, "key_bits": 3072, "seed": 9,
    }  # fmt: skip
    # Execute
    params = parse_job_spec(spec(**model), SOURCE).model.options.params()
    # Assert
    assert params == BoostParams(
        n_trees=50, max_depth=4, learning_rate=0.1, reg_lambda=2.0, gamma=0.5,
        min_child_weight=3.0, max_bins=64, objective="multi:softprob", n_classes=3,
        subsample=0.8, colsample_bytree=0.7, early_stopping_rounds=5,
        bank_only_trees=2, min_operator_rows=2000, seed=9,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({"max_depth": 0}, "model.max_depth: must be between 1 and 16, got 0"),
        ({"max_bins": 1}, "model.max_bins: must be between 2 and 256, got 1"),
        ({"objective": "reg:squarederror"},
         "model.objective: must be one of 'binary:logistic', 'multi:softmax',"
         " 'multi:softprob', got 'reg:squarederror'"),
        ({"trees": 0}, "model.trees: must be between 1 and 10000, got 0"),
        ({"objective": "multi:softmax"},
         "model.num_class: must be between 3 and 64, got 2"),
        ({"learning_rate": 0.0}, "model.learning_rate: must be in (0, 1], got 0.0"),
        ({"subsample": 1.5}, "model.subsample: must be in (0, 1], got 1.5"),
        ({"goss": True, "subsample": 0.5},
         "model: goss and subsample < 1 cannot be combined"),
        ({"bank_only_trees": 31},
         "model.bank_only_trees: must be between 0 and 30, got 31"),
        ({"min_operator_rows": 0},
         "model.min_operator_rows: must be between 1 and 2147483647, got 0"),
        ({"key_bits": 1024}, "model.key_bits: must be one of 2048, 3072, 4096"),
        ({"depth": 3}, "model.depth: unknown key"),
    ],
)  # fmt: skip
def test_parse_job_spec_refuses_if_secureboost_option_bad(
    model: dict[str, Any], message: str
) -> None:
    # Execute
    with pytest.raises(ConfigError) as info:
        parse_job_spec(spec(**model), SOURCE)
    # Assert
    assert str(info.value) == f"{SOURCE}: {message}"
