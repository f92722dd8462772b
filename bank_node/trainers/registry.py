"""The model types a job spec's `[model] type` may name: one trainer each.

To add a model type, add its trainer module under bank_node/trainers/ and one line to
TRAINERS (the operator side adds its passive role to operator_node/roles/registry.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bank_node.trainers.base import Trainer
from bank_node.trainers.hetero_lr import HeteroLrTrainer
from bank_node.trainers.secureboost import SecureBoostTrainer
from bank_node.trainers.split_nn import SplitNnTrainer

DEFAULT_MODEL_TYPE = "hetero_lr"

# One line per model type.
TRAINERS: Sequence[Trainer[Any, Any]] = [
    HeteroLrTrainer(),
    SecureBoostTrainer(),
    SplitNnTrainer(),
]


def trainer_for(model_type: str) -> Trainer[Any, Any] | None:
    return next((t for t in TRAINERS if t.model_type == model_type), None)


def model_types() -> tuple[str, ...]:
    return tuple(t.model_type for t in TRAINERS)


def model_types_for(task: str) -> tuple[str, ...]:
    """The model types whose trainer trains `task` ([model] task)."""
    return tuple(t.model_type for t in TRAINERS if task in t.tasks)
