"""The SecureBoost trainer (model type "secureboost", protocol.secureboost).

XGBoost-hist trees with the bank's gradients encrypted under its Paillier key: the
bank's selected columns (categoricals as ordinal codes fitted on the training rows) and
the labels stay at the bank; the operator's passive role (operator_node/roles/
secureboost.py) builds encrypted histograms of its columns. Options are XGBoost's
names where they exist and are all checked when the job spec is loaded, before any
data moves. The score stage is batch prediction through leaf sets (the operator sends,
per tree, the leaves its splits allow; the bank intersects them with its own); the
report gets the training curve per round, feature importance of both parties (the
operator's features under the names or aliases it disclosed) and the trees, and a
bank-only SecureBoost on the same rows as the baseline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal

import numpy as np

from bank_node.trainers.base import (
    ModelReport,
    ScoredSplit,
    Trainer,
    TrainingContext,
)
from models.metrics import roc_auc
from models.report import EpochMetrics, ReportTable
from models.secureboost import objective
from models.secureboost.encoding import ColumnCodes
from models.secureboost.model import BankModel
from models.secureboost.params import BINARY, BoostParams, InvalidParams
from models.secureboost.reference import joint_predict, train_reference
from models.secureboost.tree import BANK, Tree
from node_core.config import TomlLoader
from node_core.model_registry import ModelPart
from protocol.crypto.paillier_keys import generate_keypair
from protocol.domain import Split
from protocol.secureboost import driver
from protocol.secureboost.bank_party import BankSbtParty
from protocol.secureboost.messages import TRAIN, VALIDATION, LeafSetsRequest
from protocol.secureboost.service import PROTOCOL, SecureBoostClient

PRIVACY = (
    "SecureBoost training: the operator received the bank's gradients and hessians"
    " only as Paillier ciphertexts under the bank's key, and never decrypted anything;"
    " it learned which rows were sampled each round, the row set of every node it built"
    " histograms for (which exposes the bank's splits as row partitions, and in early"
    " trees correlates with the labels) and which of its own split candidates won.",
    "The bank learned, per node of at least min_operator_rows rows, the (G, H) sums of"
    " its own gradients over each value bin of each operator feature, and on which side"
    " of every operator split each row falls, never a threshold.",
    "Prediction: per tree, the operator sent the leaves its own splits allow for each"
    " row; the bank intersected them with its own.",
)
BANK_ONLY_NOTE = (
    "the same boosted trees on the bank's own columns only, same rows, split and"
    " options, trained locally in plaintext: what the bank gets without the operator"
)
KEY_BITS = (2048, 3072, 4096)  # Paillier; below 2048 bits is not secure (NIST)
# Option names that differ from BoostParams' field names.
_RENAMED = {"trees": "n_trees", "num_class": "n_classes"}
_PARAM_TO_OPTION = {v: k for k, v in _RENAMED.items()}


@dataclass(frozen=True)
class SecureBoostOptions:
    """The [model] table of a secureboost job (XGBoost's names and defaults)."""

    trees: int = 30  # boosting rounds (one tree per class per round for softmax)
    max_depth: int = 3  # levels of splits per tree, 1..16
    learning_rate: float = 0.3  # eta: each tree's leaves are scaled by it, (0, 1]
    reg_lambda: float = 1.0  # L2 penalty on leaf values
    gamma: float = 0.0  # min_split_loss: a split must reduce the loss by more
    min_child_weight: float = 1.0  # least hessian sum in each child of a split
    max_bins: int = 32  # value bins per feature (both parties), plus one for missing
    # binary:logistic, or multi:softprob / multi:softmax (num_class classes, labels
    # 0..num_class-1)
    objective: Literal["binary:logistic", "multi:softmax", "multi:softprob"] = (
        "binary:logistic"
    )
    num_class: int = 2  # classes of a multi: objective, 3..64 (2 for binary)
    subsample: float = 1.0  # share of training rows drawn per round (seen by both)
    colsample_bytree: float = 1.0  # share of all features (both parties) per tree
    # Gradient-based one-side sampling per round: it reveals to the operator which
    # rows have large gradients (protocol/secureboost/__init__.py)
    goss: bool = False
    goss_top_rate: float = 0.2  # GOSS: share of rows with the largest gradients kept
    goss_other_rate: float = 0.1  # GOSS: share of the other rows drawn at random
    early_stopping_rounds: int = 0  # on the validation split's loss
    bank_only_trees: int = 0  # the first k rounds use the bank's columns only
    # Operator histograms and splits only at nodes of at least this many rows (at
    # least the operator's policy.min_batch_size, checked when it approves the job).
    min_operator_rows: int = 1024
    key_bits: int = 2048  # the bank's Paillier key: 2048, 3072 or 4096 bits
    seed: int = 0  # of the row (subsample, GOSS) and column sampling

    @property
    def batch_size(self) -> int:
        """The fewest rows the operator sums gradients over (policy.min_batch_size)."""
        return self.min_operator_rows

    def params(self) -> BoostParams:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.pop("key_bits")
        return BoostParams(**{_RENAMED.get(k, k): v for k, v in values.items()})


@dataclass
class SbtModel:
    """What training produced: the bank's part and what predicting with it needs."""

    model: BankModel
    codes: ColumnCodes
    inputs: np.ndarray  # the bank's coded columns over all aligned rows
    client: SecureBoostClient  # set up for this job (its key, split sizes)
    seconds: float
    timings: dict[str, float]


class _Meter:
    """Wall seconds per (party, step) of the driver's calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, party: str, step: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - started
            for key in (party, f"{party}.{step}"):
                self.seconds[key] = self.seconds.get(key, 0.0) + spent


class SecureBoostTrainer(Trainer[SecureBoostOptions, SbtModel]):
    model_type: ClassVar[str] = "secureboost"
    capabilities: ClassVar[tuple[str, ...]] = (PROTOCOL.capability,)
    options_type: ClassVar[type[Any]] = SecureBoostOptions

    def check_options(self, loader: TomlLoader, options: SecureBoostOptions) -> None:
        if options.key_bits not in KEY_BITS:
            loader.fail(
                "model.key_bits", f"must be one of {', '.join(map(str, KEY_BITS))}"
            )
        try:
            options.params()
        except InvalidParams as exc:
            name, _, rest = str(exc).partition(" ")
            if rest.startswith("must") and name in BoostParams.__dataclass_fields__:
                loader.fail(f"model.{_PARAM_TO_OPTION.get(name, name)}", rest)
            loader.fail("model", str(exc))

    # ---- train -------------------------------------------------------------------
    def _inputs(self, context: TrainingContext) -> tuple[np.ndarray, ColumnCodes]:
        frame = context.bank.frame
        train = context.positions[Split.TRAIN]
        kinds = {c: context.bank.kinds.get(c, "numeric") for c in frame.columns}
        codes = ColumnCodes.fit(frame.iloc[train], kinds)
        return codes.transform(frame), codes

    def train(self, context: TrainingContext, options: SecureBoostOptions) -> SbtModel:
        inputs, codes = self._inputs(context)
        train = context.positions[Split.TRAIN]
        valid = context.positions[Split.VALIDATION]
        labels = context.labels
        context.progress(f"secureboost: {options.key_bits}-bit Paillier key")
        started = time.perf_counter()
        _, private_key = generate_keypair(options.key_bits)
        keygen = time.perf_counter() - started
        bank = BankSbtParty(
            context.job_id,
            inputs[train],
            labels[train],
            options.params(),
            private_key,
            names=codes.columns,
            operator_features=context.operator.indexes,
            validation=(inputs[valid], labels[valid]),
        )
        client = SecureBoostClient(
            context.channel,
            context.job_id,
            context.limits.stream_deadline_s,
            context.limits.chunk_bytes,
        )
        meter = _Meter()
        started = time.perf_counter()
        model = driver.train(bank, client, meter, context.progress)
        seconds = time.perf_counter() - started
        timings = {
            "keygen_s": keygen,
            "train_s": seconds,
            "operator_calls_s": meter.seconds.get("operator", 0.0),
            "bank_s": meter.seconds.get("bank", 0.0),
            **{f"{k}_s": v for k, v in bank.timings.items()},
            **{
                f"{key}_s": v
                for key, v in meter.seconds.items()
                if key.startswith("operator.")
            },
        }
        return SbtModel(model, codes, inputs, client, seconds, timings)

    # ---- score, report, registry -------------------------------------------------
    def _probability(
        self, model: SbtModel, dataset: str, rows: np.ndarray
    ) -> np.ndarray:
        bank_model = model.model
        leaf_sets: dict[int, np.ndarray] = {}
        wanted = bank_model.operator_trees()
        if wanted:
            reply = model.client.leaf_sets(LeafSetsRequest(dataset, tuple(wanted)))
            leaf_sets = dict(reply.leaf_sets)
        margins = bank_model.predict_margin(model.inputs[rows], leaf_sets)
        p = objective.probabilities(margins, bank_model.params)
        return p if p.ndim == 1 else p[:, 1]

    def score(
        self, context: TrainingContext, options: SecureBoostOptions, model: SbtModel
    ) -> dict[Split, ScoredSplit]:
        """Batch prediction of both splits through the operator's leaf sets."""
        started = time.perf_counter()
        out = {}
        for split, dataset in ((Split.TRAIN, TRAIN), (Split.VALIDATION, VALIDATION)):
            rows = context.positions[split]
            out[split] = ScoredSplit(
                self._probability(model, dataset, rows), context.labels[rows]
            )
        model.timings["predict_s"] = time.perf_counter() - started
        return out

    def describe(
        self, context: TrainingContext, options: SecureBoostOptions, model: SbtModel
    ) -> ModelReport:
        bank_model = model.model
        history = tuple(
            EpochMetrics(
                int(h["round"]) + 1,
                train_loss=h.get("train_loss"),
                validation_loss=h.get("valid_loss"),
                train_auc=h.get("train_auc"),
                validation_auc=h.get("valid_auc"),
            )
            for h in bank_model.history
        )
        rounds = max(len(history), 1)
        kept = bank_model.best_rounds or len(bank_model.trees) // bank_model.n_outputs
        details = {
            "trees": len(bank_model.trees),
            "rounds_run": len(history),
            "key_bits": options.key_bits,
            "seconds_per_tree": model.seconds / rounds,
            **{k: round(v, 3) for k, v in model.timings.items()},
        }
        return ModelReport(
            history=history,
            best_epoch=kept,
            seconds_per_epoch=model.seconds / rounds,
            bank_only_auc=bank_only_auc(model.inputs, context, options),
            bank_only_note=BANK_ONLY_NOTE,
            privacy=PRIVACY,
            tables=(importance_table(bank_model), trees_table(bank_model)),
            details=details,
        )

    def model_part(
        self, context: TrainingContext, options: SecureBoostOptions, model: SbtModel
    ) -> ModelPart:
        return ModelPart(
            kind="secureboost.bank",
            payload={
                "model": model.model.to_dict(),
                "codes": model.codes.to_dict(),
                "operator_features": list(context.operator.indexes),
                "key_bits": options.key_bits,
            },
        )


def bank_only_auc(
    inputs: np.ndarray, context: TrainingContext, options: SecureBoostOptions
) -> float:
    """Validation AUC of the same trees on the bank's columns alone."""
    train = context.positions[Split.TRAIN]
    valid = context.positions[Split.VALIDATION]
    labels = context.labels
    params = options.params()
    none = np.empty((len(labels), 0))
    bank_model, operator_model = train_reference(
        inputs[train],
        none[train],
        labels[train],
        params,
        x_bank_valid=inputs[valid],
        x_operator_valid=none[valid],
        labels_valid=labels[valid],
    )
    p = joint_predict(bank_model, operator_model, inputs[valid], none[valid])
    if params.objective != BINARY:
        p = objective.probabilities(
            bank_model.predict_margin(inputs[valid], {}), params
        )[:, 1]
    return roc_auc(labels[valid], p)


def importance_table(model: BankModel) -> ReportTable:
    rows = tuple(
        (r["party"], r["name"], r["splits"], r["total_gain"], r["mean_gain"])
        for r in model.feature_importance()
    )
    return ReportTable(
        "feature_importance",
        "Feature importance (both parties)",
        ("party", "feature", "splits", "total_gain", "mean_gain"),
        rows,
        "Split count and loss reduction (gain) per feature over all kept trees; the"
        " operator's features under the names or aliases it disclosed.",
    )


def _condition(model: BankModel, tree: Tree, node_id: int) -> tuple[str, str]:
    node = tree.nodes[node_id]
    if node.owner == BANK and node.rule is not None:
        return model.bank_features[node.rule.feature], f"< {node.rule.threshold:.6g}"
    return (
        model.operator_features[node.feature or 0],
        f"operator split {node.split_id} (threshold kept by the operator)",
    )


def trees_table(model: BankModel) -> ReportTable:
    rows: list[tuple[Any, ...]] = []
    for t, tree in enumerate(model.trees):
        for node_id in sorted(tree.nodes):
            node = tree.nodes[node_id]
            if node.is_leaf:
                rows.append(
                    (t, node_id, "leaf", "", "", "", None, node.cover,
                     node.leaf_value)
                )  # fmt: skip
                continue
            feature, condition = _condition(model, tree, node_id)
            missing = "left" if node.default_left else "right"
            rows.append(
                (t, node_id, node.owner, feature, condition, missing,
                 node.loss_change, node.cover, None)
            )  # fmt: skip
    return ReportTable(
        "trees",
        "Trees",
        ("tree", "node", "owner", "feature", "condition", "missing goes",
         "gain", "cover", "leaf value"),
        tuple(rows),
        "Children of node n are 2n + 1 (condition true) and 2n + 2. The operator's"
        " thresholds stay with the operator.",
    )  # fmt: skip
