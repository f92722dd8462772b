"""The bank's part of a joint logistic regression, ready to score one applicant:
its input checks (errors name the feature), its partial logit, scorecard points and
reason codes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.binning import BinningModel
from models.preprocess import FeaturePreprocessor
from models.scorecard import ScorecardScale, score_from_logit
from models.woe import woe_transform
from node_core.model_registry import ModelRecord

BANK_LR_KIND = "hetero_lr.bank"


class ScoringError(Exception):
    """An API error: a stable code, an HTTP status and a message (never a number)."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


@dataclass(frozen=True)
class BankLrPart:
    name: str
    version: int
    job_id: str
    numeric: tuple[str, ...]  # raw input columns the request must carry
    categorical: tuple[str, ...]
    preprocessor: FeaturePreprocessor
    weights: np.ndarray
    intercept: float
    inputs: tuple[str, ...]  # the model inputs the weights apply to
    binning: BinningModel | None  # WOE-encoded inputs only
    woe: dict[str, list[float]]
    scale: ScorecardScale | None  # scorecard points for WOE-encoded models

    @classmethod
    def from_record(cls, record: ModelRecord) -> BankLrPart:
        doc = record.load()
        pre = FeaturePreprocessor.from_dict(doc["preprocessor"])
        woe_encoded = bool(doc.get("woe_bank_features"))
        woe = {k: list(v) for k, v in doc.get("woe", {}).items()}
        if woe_encoded and not woe:
            raise ScoringError(
                "model_unavailable",
                409,
                f"model {record.name} v{record.version} predates scoring (its WOE"
                " tables were not saved); retrain it to score it",
            )
        binning = None
        numeric = tuple(n.name for n in pre.numeric)
        categorical = tuple(c.name for c in pre.categorical)
        if woe_encoded:
            full = BinningModel.from_dict(doc["binning"])
            binning = BinningModel({c: full.columns[c] for c in woe})
            kinds = {c: spec.kind for c, spec in binning.columns.items()}
            numeric = tuple(c for c in woe if kinds[c] != "categorical")
            categorical = tuple(c for c in woe if kinds[c] == "categorical")
        scale = doc.get("scorecard_scale")
        return cls(
            record.name, record.version, record.job_id, numeric, categorical, pre,
            np.asarray(doc["weights"], dtype=np.float64), float(doc["intercept"]),
            tuple(doc["inputs"]), binning, woe,
            ScorecardScale(**scale) if woe_encoded and scale else None,
        )  # fmt: skip

    def frame(self, features: Any) -> pd.DataFrame:
        """One applicant's raw features as a one-row frame; ScoringError naming the
        missing or invalid features."""
        if not isinstance(features, dict):
            raise ScoringError(
                "invalid_features", 422, "bank_features: must be an object"
            )
        needed = (*self.numeric, *self.categorical)
        missing = [c for c in needed if c not in features]
        if missing:
            raise ScoringError(
                "missing_features", 422,
                f"bank_features: missing {', '.join(missing)} (null = a missing value)",
            )  # fmt: skip
        unknown = sorted(set(features) - set(needed))
        if unknown:
            raise ScoringError(
                "invalid_features", 422,
                f"bank_features: not inputs of model {self.name}: {', '.join(unknown)}",
            )  # fmt: skip
        row: dict[str, Any] = {}
        for c in self.numeric:
            v = features[c]
            ok = v is None or (
                isinstance(v, int | float)
                and not isinstance(v, bool)
                and math.isfinite(v)
            )
            if not ok:
                raise ScoringError(
                    "invalid_features", 422,
                    f"bank_features.{c}: must be a finite number or null",
                )  # fmt: skip
            row[c] = np.nan if v is None else float(v)
        for c in self.categorical:
            v = features[c]
            if v is not None and not isinstance(v, str):
                raise ScoringError(
                    "invalid_features", 422,
                    f"bank_features.{c}: must be a string or null",
                )  # fmt: skip
            row[c] = v
        frame = pd.DataFrame({c: [row[c]] for c in self.numeric}, dtype="float64")
        for c in self.categorical:
            frame[c] = pd.Series([row[c]], dtype="string")
        return frame

    def model_inputs(self, frame: pd.DataFrame) -> np.ndarray:
        """The preprocessed inputs (intercept excluded) of every row of `frame`."""
        if self.binning is not None:
            frame = woe_transform(self.binning.transform(frame), self.woe)
        return self.preprocessor.transform(frame)

    def contributions(self, x: np.ndarray) -> dict[str, float]:
        """Each raw feature's share of the bank's logit (its inputs' w_j * x_j)."""
        out: dict[str, float] = {}
        for name, term in zip(self.inputs, self.weights * x, strict=True):
            column = name.split("=", 1)[0]
            out[column] = out.get(column, 0.0) + float(term)
        return out

    def points(self, logit: float) -> float | None:
        if self.scale is None:
            return None
        return float(score_from_logit(logit, scale=self.scale))
