"""The logistic-regression trainer (model type "hetero_lr", protocol.hetero_lr).

The bank's inputs are its selected features standardised on the training rows and
clipped to +-clip (or their WOE values, `woe_bank_features`), plus an intercept; the
operator prepares its own the same way. Training is the two-party protocol driven by
hetero_lr_driver.py, with the validation AUC of every epoch from protocol.evaluation
(`epoch_auc`, on by default); the score stage evaluates the trained model on both
splits with protocol.evaluation (the bank's partial scores plus the operator's, as a
multiset of (score, label) pairs), and the report gets the bank's coefficients, a
scorecard when the bank's features are WOE-encoded, and the bank-only baseline: the
same training in plaintext on the bank's inputs alone (hetero_lr_baseline.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from bank_node.evaluation import JointEvaluation
from bank_node.trainers.base import (
    ModelReport,
    ScoredSplit,
    Trainer,
    TrainingContext,
)
from bank_node.trainers.hetero_lr_baseline import BaselineResult, train_bank_only
from bank_node.trainers.hetero_lr_driver import BankLrDriver, LrResult, LrSettings
from models.metrics import roc_auc
from models.preprocess import FeaturePreprocessor
from models.report import EpochMetrics
from models.scorecard import scorecard_points
from models.woe import woe_transform
from node_core.config import TomlLoader
from node_core.model_registry import ModelPart
from protocol.crypto.ckks import PRECISE
from protocol.domain import Split
from protocol.evaluation.service import PROTOCOL as EVALUATION
from protocol.hetero_lr.party import DEFAULT_CLIP, MAX_CLIP, LrHyper
from protocol.hetero_lr.service import PROTOCOL, HeteroLrClient

PRIVACY = (
    "Training: weights, logits, residuals and gradients of either party stayed"
    " encrypted or under 157-bit masks (both views within 2^-43 of masks alone for a"
    " 30-epoch job); the bank learned the training and validation loss per epoch and"
    " per batch whether a logit left the sigmoid's range (sums over rows, exact), the"
    " operator the range level; each party learned only its own final weights, from"
    " sums of steps computed from decryptions flooded with 40-bit noise.",
    "Evaluation: the bank learned the joint model's scores of each split, and the"
    " validation logits of every epoch, only as multisets of (score, label) pairs in"
    " an order the operator drew in secret; no score of the operator's alone, per row"
    " or otherwise, reached the bank. The operator saw only ciphertexts under the"
    " bank's key, and answers only if its scores do not bunch"
    " (policy.max_rows_per_score, policy.max_score_share), mix the order of the"
    " bank's own (policy.min_rank_mixing) and stay within its budget of models per"
    " set of rows (policy.max_models_per_rows).",
)
BANK_ONLY_NOTE = (
    "the same logistic regression on the bank's own inputs only: same rows, split,"
    " preprocessing and clipping, sigmoid approximation, optimizer, batches, epochs"
    " and early stopping, trained locally in plaintext: what the bank gets without"
    " the operator"
)


@dataclass(frozen=True)
class HeteroLrOptions:
    """The [model] table of a hetero_lr job."""

    # Most training passes over the training rows.
    epochs: int = 30
    # Rows per gradient step (at least the operator's min_batch_size, at most one
    # ciphertext's slots).
    batch_size: int = 4096
    # Step size.
    learning_rate: float = 0.5
    # sgd, momentum or nesterov (heavy-ball or Nesterov momentum on gradient sums).
    optimizer: Literal["sgd", "momentum", "nesterov"] = "sgd"
    # Momentum factor of the momentum and nesterov optimizers.
    momentum: float = 0.9
    lr_decay: float = 0.0  # lr_t = lr / (1 + lr_decay * epoch)
    # L2 penalty, applied as a decoupled weight decay (not on the intercept).
    l2: float = 0.0
    early_stopping_patience: int = 0  # 0 = off; else epochs without val-loss gain
    # Feed the bank's features as their WOE values (gives a scorecard in the
    # report).
    woe_bank_features: bool = False
    # Standardised features are clipped to +-clip (same preprocessing as baselines).
    clip: float = DEFAULT_CLIP
    seed: int = 7  # of the batch order
    # Validation AUC of every epoch (protocol.evaluation on the logit shares, in the
    # score stage; about 1.3 ms of both parties' CPU per validation row and epoch,
    # ~1.8x a training epoch's time on default_credit).
    epoch_auc: bool = True

    def hyper(self) -> LrHyper:
        return LrHyper(
            learning_rate=self.learning_rate,
            optimizer=self.optimizer,
            momentum=self.momentum,
            lr_decay=self.lr_decay,
            l2=self.l2,
        )


@dataclass(frozen=True)
class LrModel:
    """The bank's side of a trained model: its weights and the inputs they apply to."""

    result: LrResult
    inputs: np.ndarray  # all aligned rows, preprocessed, intercept last
    preprocessor: FeaturePreprocessor
    evaluation: JointEvaluation  # the job's evaluations (one Paillier key)
    bank_only: BaselineResult  # the same training without the operator's features
    operator_inputs: int  # the operator's model inputs (from its Setup reply)


class HeteroLrTrainer(Trainer[HeteroLrOptions, LrModel]):
    model_type: ClassVar[str] = "hetero_lr"
    capabilities: ClassVar[tuple[str, ...]] = (
        PROTOCOL.capability,
        EVALUATION.capability,
    )
    options_type: ClassVar[type[Any]] = HeteroLrOptions

    def check_options(self, loader: TomlLoader, options: HeteroLrOptions) -> None:
        if options.epochs < 1:
            loader.fail("model.epochs", "must be >= 1")
        if not 1 <= options.batch_size <= PRECISE.slots:
            loader.fail(
                "model.batch_size",
                f"must be between 1 and {PRECISE.slots} (one ciphertext's slots)",
            )
        if not 0 < options.momentum < 1:
            loader.fail("model.momentum", "must be between 0 and 1")
        if not 0 < options.clip <= MAX_CLIP:
            loader.fail("model.clip", f"must be > 0 and at most {MAX_CLIP:g}")
        try:
            options.hyper()
        except ValueError as exc:
            loader.fail("model", str(exc))

    # ---- train -------------------------------------------------------------------
    def _inputs(
        self, context: TrainingContext, options: HeteroLrOptions
    ) -> tuple[np.ndarray, FeaturePreprocessor]:
        """The bank's design matrix over all aligned rows, intercept last."""
        bank = context.bank
        frame = bank.frame
        if options.woe_bank_features:
            bins = bank.binning.transform(frame)
            frame = woe_transform(bins, {c: bank.ivs[c].woe for c in frame.columns})
            kinds = {c: "numeric" for c in frame.columns}
        else:
            kinds = {c: bank.kinds[c] for c in frame.columns}
        train = context.positions[Split.TRAIN]
        pre = FeaturePreprocessor.fit(frame.iloc[train], kinds, clip=options.clip)
        if options.woe_bank_features:
            for n in pre.numeric:  # WOE values enter the model as they are
                n.mean, n.std = 0.0, 1.0
        x = pre.transform(frame)
        return np.hstack([x, np.ones((len(x), 1))]), pre

    def train(self, context: TrainingContext, options: HeteroLrOptions) -> LrModel:
        inputs, pre = self._inputs(context, options)
        labels = context.labels.astype(np.float64)
        settings = LrSettings(
            epochs=options.epochs,
            batch_size=options.batch_size,
            hyper=options.hyper(),
            min_batch=context.operator.min_batch,
            patience=options.early_stopping_patience,
            clip=options.clip,
            seed=options.seed,
        )
        driver = BankLrDriver(
            HeteroLrClient(context.channel, context.limits.compute_deadline_s),
            context.job_id,
            inputs,
            labels,
            context.positions,
            context.operator.indexes,
            settings,
            context.progress,
            stable_key=context.stable_key,
            checkpoints=context.checkpoints,
            resume=context.resume,
            on_resumed=context.resumed,
        )
        result = driver.train()
        baseline = train_bank_only(
            inputs, labels, context.positions, settings, context.stable_key
        )
        evaluation = JointEvaluation(context.channel, context.job_id, context.limits)
        return LrModel(result, inputs, pre, evaluation, baseline, driver.operator_dim)

    # ---- score, report, registry -------------------------------------------------
    def score(
        self, context: TrainingContext, options: HeteroLrOptions, model: LrModel
    ) -> dict[Split, ScoredSplit]:
        """Both splits through protocol.evaluation: the bank's partial scores plus
        the operator's, as multisets of (probability, label) pairs; then, once the
        operator has checked its validation scores, each epoch's validation AUC."""
        out = {}
        for split in (Split.VALIDATION, Split.TRAIN):
            rows = context.positions[split]
            logits, labels = model.evaluation.partial_scores(
                split, model.inputs[rows] @ model.result.weights, context.labels[rows]
            )
            out[split] = ScoredSplit(1.0 / (1.0 + np.exp(-logits)), labels)
            if split is Split.VALIDATION and options.epoch_auc:
                epoch_aucs(model, context)
        return out

    def describe(
        self, context: TrainingContext, options: HeteroLrOptions, model: LrModel
    ) -> ModelReport:
        weights, history = model.result.weights, model.result.history
        coefficients = dict(
            zip(model.preprocessor.output_names, weights[:-1].tolist(), strict=True)
        )
        scorecard = None
        if options.woe_bank_features:
            chosen = list(context.bank.frame.columns)
            scorecard = scorecard_points(
                coefficients,
                float(weights[-1]),
                {c: context.bank.ivs[c].woe for c in chosen},
                bin_labels={c: context.bank.binning.labels(c) for c in chosen},
                scale=context.scorecard_scale,
                n_features=len(chosen) + len(context.operator.indexes),
            )
        return ModelReport(
            history=tuple(
                EpochMetrics(e, train_loss=t, validation_loss=v, validation_auc=a)
                for e, t, v, a in zip(
                    history.epochs,
                    history.train_loss,
                    history.validation_loss,
                    history.validation_auc,
                    strict=True,
                )
            ),
            best_epoch=model.result.best_epoch,
            seconds_per_epoch=model.result.seconds_per_epoch,
            bank_only_auc=model.bank_only.validation_auc,
            bank_only_note=BANK_ONLY_NOTE,
            bank_only_best_epoch=model.bank_only.best_epoch,
            preparation=tuple(c.to_dict() for c in model.preprocessor.preparation),
            notes=self._resume_note(model)
            + (
                f"operator side: its {len(context.operator.indexes)} selected features"
                f" became {model.operator_inputs} model inputs; its indicator columns"
                " (missing values, categories, 'other') need at least"
                f" {context.operator.min_batch} rows on each side, smaller ones are"
                " merged (its policy.min_batch_size)",
            ),
            privacy=PRIVACY,
            coefficients=coefficients,
            intercept=float(weights[-1]),
            scorecard=scorecard,
            warnings=model.result.warnings,
            evaluation_seconds_per_epoch=history.auc_seconds
            / max(len(history.epochs), 1),
        )

    @staticmethod
    def _resume_note(model: LrModel) -> tuple[str, ...]:
        epoch = model.result.resumed_from
        if not epoch:
            return ()
        return (
            f"training was interrupted and resumed from the checkpoint after epoch"
            f" {epoch} (bank-node job resume): epochs from {epoch + 1} on were"
            " trained after the resume",
        )

    def model_part(
        self, context: TrainingContext, options: HeteroLrOptions, model: LrModel
    ) -> ModelPart:
        weights = model.result.weights
        return ModelPart(
            kind="hetero_lr.bank",
            payload={
                "inputs": model.preprocessor.output_names,
                "weights": weights[:-1].tolist(),
                "intercept": float(weights[-1]),
                "preprocessor": model.preprocessor.to_dict(),
                "woe_bank_features": options.woe_bank_features,
                "binning": context.bank.binning.to_dict(),
                "operator_features": list(context.operator.indexes),
                # What real-time scoring (bank_node/scoring) needs beyond the
                # weights: the WOE of each bin of WOE-encoded inputs, and the
                # scorecard's scale.
                "woe": {
                    c: np.asarray(context.bank.ivs[c].woe, dtype=float).tolist()
                    for c in (
                        context.bank.frame.columns if options.woe_bank_features else ()
                    )
                },
                "scorecard_scale": vars(context.scorecard_scale),
            },
        )


def epoch_aucs(model: LrModel, context: TrainingContext) -> None:
    """Every epoch's validation AUC into the history, from the bank's logit shares of
    that epoch and the operator's (protocol.evaluation, one round per epoch)."""
    result = model.result
    labels = context.labels[context.positions[Split.VALIDATION]]
    started = time.perf_counter()
    for epoch, shares in sorted(result.validation_shares.items()):
        logits, got = model.evaluation.logit_shares(
            epoch, shares, labels, result.period
        )
        result.history.validation_auc[epoch - 1] = roc_auc(got, logits)
    seconds = time.perf_counter() - started
    result.history.auc_seconds = seconds
    shown = ", ".join(f"{a:.4f}" for a in result.history.validation_auc if a)
    context.progress(
        f"validation AUC per epoch: {shown}"
        f" ({seconds / max(len(result.validation_shares), 1):.1f} s per epoch)"
    )
