"""Training options of SecureBoost, checked before any data moves."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

BINARY = "binary:logistic"
SOFTPROB = "multi:softprob"
SOFTMAX = "multi:softmax"
OBJECTIVES = (BINARY, SOFTPROB, SOFTMAX)

MAX_DEPTH_LIMIT = 16
MAX_BINS_LIMIT = 256
MAX_CLASSES = 64


class InvalidParams(ValueError):
    """An option outside its range; the message names the option and the range."""


@dataclass(frozen=True)
class BoostParams:
    """XGBoost-compatible options (names and defaults as XGBoost's where they exist).

    n_trees: boosting rounds (XGBoost's n_estimators); multi-class grows one tree per
    class per round. gamma is XGBoost's min_split_loss, compared with the unhalved
    loss change. goss keeps the goss_top_rate rows with the largest gradients and a
    random goss_other_rate of the rest, amplified by (1 - top) / other (LightGBM).
    early_stopping_rounds > 0 stops when the validation loss has not improved for that
    many rounds and keeps the best round. bank_only_trees: the first rounds use the
    bank's features only (FATE's complete_secure, SecretFlow's
    first_tree_with_label_holder_feature). min_operator_rows: nodes with fewer rows
    consider the bank's features only, so the operator never sums gradients over
    fewer rows (1: every node, XGBoost's trees).
    """

    n_trees: int = 30
    max_depth: int = 3
    learning_rate: float = 0.3
    reg_lambda: float = 1.0
    gamma: float = 0.0
    min_child_weight: float = 1.0
    max_bins: int = 32
    objective: str = BINARY
    n_classes: int = 2
    subsample: float = 1.0
    colsample_bytree: float = 1.0
    goss: bool = False
    goss_top_rate: float = 0.2
    goss_other_rate: float = 0.1
    early_stopping_rounds: int = 0
    bank_only_trees: int = 0
    min_operator_rows: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        _check_int("n_trees", self.n_trees, 1, 10_000)
        _check_int("max_depth", self.max_depth, 1, MAX_DEPTH_LIMIT)
        _check_int("max_bins", self.max_bins, 2, MAX_BINS_LIMIT)
        _check_int("early_stopping_rounds", self.early_stopping_rounds, 0, 10_000)
        _check_int("bank_only_trees", self.bank_only_trees, 0, self.n_trees)
        _check_int("min_operator_rows", self.min_operator_rows, 1, 2**31 - 1)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        if self.objective not in OBJECTIVES:
            raise InvalidParams(
                f"unknown objective {self.objective!r}; expected one of "
                + ", ".join(OBJECTIVES)
            )
        if self.objective == BINARY:
            if self.n_classes != 2:
                raise InvalidParams(
                    f"n_classes must be 2 for {BINARY}, got {self.n_classes}"
                )
        else:
            _check_int("n_classes", self.n_classes, 3, MAX_CLASSES)
        _check_real("learning_rate", self.learning_rate, 0.0, 1.0, low_open=True)
        _check_real("reg_lambda", self.reg_lambda, 0.0, 1e6)
        _check_real("gamma", self.gamma, 0.0, 1e6)
        _check_real("min_child_weight", self.min_child_weight, 0.0, 1e6)
        _check_real("subsample", self.subsample, 0.0, 1.0, low_open=True)
        _check_real("colsample_bytree", self.colsample_bytree, 0.0, 1.0, low_open=True)
        _check_real("goss_top_rate", self.goss_top_rate, 0.0, 1.0, low_open=True)
        _check_real("goss_other_rate", self.goss_other_rate, 0.0, 1.0, low_open=True)
        if not isinstance(self.goss, bool):
            raise InvalidParams(f"goss must be true or false, got {self.goss!r}")
        if self.goss and self.goss_top_rate + self.goss_other_rate > 1.0:
            raise InvalidParams(
                "goss_top_rate + goss_other_rate must be at most 1, got "
                f"{self.goss_top_rate} + {self.goss_other_rate}"
            )
        if self.goss and self.subsample < 1.0:
            raise InvalidParams("goss and subsample < 1 cannot be combined")

    @property
    def n_outputs(self) -> int:
        """Trees per round: 1 for binary, one per class for softmax."""
        return 1 if self.objective == BINARY else self.n_classes

    @property
    def goss_amplification(self) -> float:
        """Weight of a sampled small-gradient row under GOSS (1 without GOSS)."""
        if not self.goss:
            return 1.0
        return (1.0 - self.goss_top_rate) / self.goss_other_rate

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BoostParams:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidParams(f"unknown option(s): {', '.join(unknown)}")
        return cls(**data)


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParams(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise InvalidParams(f"{name} must be between {low} and {high}, got {value}")


def _check_real(
    name: str, value: object, low: float, high: float, *, low_open: bool = False
) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParams(f"{name} must be a number, got {value!r}")
    number = float(value)
    below = number <= low if low_open else number < low
    if not math.isfinite(number) or below or number > high:
        bracket = "(" if low_open else "["
        raise InvalidParams(
            f"{name} must be in {bracket}{low:g}, {high:g}], got {value!r}"
        )
