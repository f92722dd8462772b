"""The split_nn trainer's [model] options: checked when the job spec loads, with
errors naming the key; the example job spec loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bank_node.jobspec import load_job_spec, parse_job_spec
from bank_node.trainers.split_nn import (
    SplitNnOptions,
    arrays_from_payload,
    arrays_to_payload,
    privacy_lines,
)
from node_core.config import ConfigError

SOURCE = Path("/jobs/nn.toml")
EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "split_nn_job.toml"


def spec(**model: Any) -> dict[str, Any]:
    return {
        "job": {"name": "nn", "purpose": "credit_risk"},
        "data": {"source": "customers"},
        "operator": {"features": ["usage_*"]},
        "model": {"type": "split_nn", **model},
    }


def test_split_nn_spec_fills_defaults_if_only_the_type_is_given() -> None:
    # Execute
    job = parse_job_spec(spec(), SOURCE)
    # Assert
    assert job.model.type == "split_nn"
    assert job.model.options == SplitNnOptions()


def test_example_split_nn_job_spec_loads_if_shipped() -> None:
    # Execute
    job = load_job_spec(EXAMPLE)
    # Assert
    assert job.model.type == "split_nn"
    assert job.model.options.defence == "marvell"


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({"rounds": 0}, "model.rounds: must be between 1 and 1000"),
        ({"operator_hidden": [0]}, "model.operator_hidden: layer width"),
        ({"top_hidden": [8, 8, 8, 8, 8]}, "model.top_hidden"),
        ({"embedding": 0}, "model.embedding"),
        ({"activation": "swish"}, "model.activation: unknown 'swish'"),
        ({"optimizer": "rmsprop"}, "model.optimizer: must be one of"),
        ({"defence": "dp"}, "model.defence: must be one of"),
        ({"defence_batch": 1}, "model.defence_batch: must be >= 2"),
        ({"learning_rate": 50.0}, "model.learning_rate"),
        ({"clip": 0.0}, "model.clip"),
        ({"round_timeout_s": 0.5}, "model.round_timeout_s"),
        ({"epochs": 3}, "model.epochs: unknown key"),
    ],
)
def test_split_nn_spec_refuses_naming_the_key_if_an_option_is_invalid(
    model: dict[str, Any], message: str
) -> None:
    # Execute / Assert
    with pytest.raises(ConfigError, match=message):
        parse_job_spec(spec(**model), SOURCE)


def test_model_arrays_round_trip_through_the_registry_payload_if_saved() -> None:
    # Prepare
    arrays = {
        "top.0.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
        "optimizer.steps": np.array([4], dtype=np.int64),
    }
    # Execute
    back = arrays_from_payload(arrays_to_payload(arrays))
    # Assert
    assert set(back) == set(arrays)
    for key, value in arrays.items():
        assert back[key].dtype == value.dtype
        np.testing.assert_array_equal(back[key], value)


def test_report_says_the_gradients_were_unprotected_if_the_defence_is_off() -> None:
    # Execute
    off = privacy_lines({}, defended=False, rounds=3)
    on = privacy_lines({"norm_attack_auc": 0.53, "direction_attack_auc": 0.58}, True, 3)
    # Assert
    assert "WITHOUT protection" in off[0] and "4 embeddings" in off[0]
    assert "Marvell" in on[0] and "norm attack 0.530" in on[0]
