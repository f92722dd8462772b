"""The job's outputs: evaluation, the HTML/JSON report and the bank's model part.

The report states what each party learned, shows the joint model next to a bank-only
baseline trained locally on the same rows (the operator data's value added), and the
bank's part of the model goes to its registry with a version.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from bank_node.hetero_lr import LrResult
from bank_node.iv import OperatorIv
from bank_node.jobspec import JobSpec
from models.binning import BinningModel
from models.metrics import evaluate
from models.preprocess import FeaturePreprocessor
from models.report import EpochMetrics, ReportInput, write_report
from models.scorecard import ScorecardScale, scorecard_points
from models.woe import WoeIv
from node_core.models import ModelRegistry
from node_core.node import NodeContext

PSI_STATEMENT = (
    "Alignment by PSI in mode 'both': both the bank and the operator learn which"
    " people are in the intersection (as in FATE and SecretFlow); no other row-level"
    " information crosses."
)
PRIVACY = (
    PSI_STATEMENT,
    "Information value: the operator saw only Paillier ciphertexts of the labels; the"
    " bank learned per-bin positive/negative counts of the operator's features.",
    "Training: weights, logits, residuals and gradients of either party stayed"
    " encrypted or masked; the bank learned the training and validation loss per epoch"
    " (flooded sums), each party learned only its own final weights.",
    "Prediction: the operator sent its partial scores once per split; the bank never"
    " received an operator feature value or a per-epoch partial logit.",
)


BANK_ONLY_NOTE = (
    "logistic regression on the bank's own inputs only, same rows and split, trained"
    " locally in plaintext: what the bank gets without the operator"
)


def bank_only_auc(
    bank_x: np.ndarray, labels: np.ndarray, positions: dict[str, np.ndarray]
) -> float:
    """Validation AUC of the bank-only baseline (the joint model's value added)."""
    train, val = positions["train"], positions["validation"]
    model = LogisticRegression(max_iter=2000, fit_intercept=False)
    model.fit(bank_x[train], labels[train])
    return float(roc_auc_score(labels[val], bank_x[val] @ model.coef_[0]))


@dataclass(frozen=True)
class JobOutputs:
    psi_summary: dict[str, Any]
    labels: np.ndarray
    positions: dict[str, np.ndarray]
    scores: dict[str, np.ndarray]  # logits per split
    lr: LrResult
    pre: FeaturePreprocessor
    bank_ivs: dict[str, WoeIv]
    op_ivs: list[OperatorIv]
    chosen_bank: list[str]
    chosen_op: list[int]
    bank_binning: BinningModel
    iv_timings: dict[str, float]
    bank_only: float


def publish(
    ctx: NodeContext, spec: JobSpec, job_id: str, out: JobOutputs,
    timings: dict[str, float],
) -> tuple[dict[str, Any], Path, Path]:  # fmt: skip
    """Evaluate, write the report folder and save the bank's model part; returns the
    summary, the HTML report and the folder."""
    labels, positions, lr, pre = out.labels, out.positions, out.lr, out.pre
    bank_ivs, op_ivs, bank_binning = out.bank_ivs, out.op_ivs, out.bank_binning
    chosen_bank, chosen_op, bank_only = out.chosen_bank, out.chosen_op, out.bank_only
    psi_summary, iv_timings, scores = out.psi_summary, out.iv_timings, out.scores
    op_names = {o.index: o.name for o in op_ivs}  # as the operator discloses them
    prob = {k: 1.0 / (1.0 + np.exp(-v)) for k, v in scores.items()}
    train_eval = evaluate(labels[positions["train"]], prob["train"],
                          threshold=spec.report.threshold)  # fmt: skip
    val_eval = evaluate(
        labels[positions["validation"]],
        prob["validation"],
        threshold=spec.report.threshold,
        reference_score=prob["train"],
    )
    names = pre.output_names
    coefficients = dict(zip(names, lr.weights[:-1].tolist(), strict=True))
    scorecard = None
    scale = ScorecardScale(
        spec.report.scorecard.base_points,
        spec.report.scorecard.base_odds,
        spec.report.scorecard.pdo,
    )
    if spec.model.woe_bank_features:
        scorecard = scorecard_points(
            coefficients,
            float(lr.weights[-1]),
            {c: bank_ivs[c].woe for c in chosen_bank},
            bin_labels={c: bank_binning.labels(c) for c in chosen_bank},
            scale=scale,
            n_features=len(chosen_bank) + len(chosen_op),
        )
    history = [
        EpochMetrics(e, train_loss=t, validation_loss=v)
        for e, t, v in zip(
            lr.history.epochs,
            lr.history.train_loss,
            lr.history.validation_loss,
            strict=True,
        )
    ]
    folder = Path(str(spec.report.output).replace("{job_id}", job_id))
    if folder == spec.report.output:
        folder = folder / job_id
    summary = {
        "job_id": job_id,
        "name": spec.job.name,
        "rows": {k: int(len(v)) for k, v in positions.items()},
        "psi": psi_summary,
        "validation_auc": round(val_eval.auc, 6),
        "bank_only_validation_auc": round(bank_only, 6),
        "validation_ks": round(val_eval.ks.statistic, 6),
        "train_auc": round(train_eval.auc, 6),
        "best_epoch": lr.best_epoch,
        "epochs_run": len(lr.history.epochs),
        "seconds_per_epoch": round(lr.seconds_per_epoch, 3),
        "iv_seconds": round(iv_timings["total_s"], 3),
        "iv_timings": {k: round(v, 3) for k, v in iv_timings.items()},
        "features": {
            "bank": chosen_bank,
            "operator": [op_names[i] for i in chosen_op],
        },
        "timings": timings,
    }
    html, _ = write_report(
        folder,
        ReportInput(
            title=f"Joint credit model: {spec.job.name}",
            validation=val_eval,
            train=train_eval,
            metadata={
                "job_id": job_id,
                "purpose": spec.job.purpose,
                "parties": f"{ctx.party_id} (labels) + {spec.job.counterpart}",
                "alignment": PSI_STATEMENT,
                "aligned_rows": psi_summary["intersection_size"],
                "train_rows": len(positions["train"]),
                "validation_rows": len(positions["validation"]),
                "best_epoch": lr.best_epoch,
                "seconds_per_epoch": round(lr.seconds_per_epoch, 3),
                "bank_only_validation_auc": round(bank_only, 4),
                "bank_only_model": BANK_ONLY_NOTE,
            },
            operator_iv={o.name: o.table.iv for o in op_ivs},
            bank_iv={k: v.iv for k, v in bank_ivs.items()},
            coefficients=coefficients,
            intercept=float(lr.weights[-1]),
            history=history,
            scorecard=scorecard,
            privacy=PRIVACY,
        ),
    )
    record = ModelRegistry(ctx.config.state_dir, ctx.store).save(
        job_id=job_id,
        counterpart=spec.job.counterpart,
        kind="hetero_lr.bank",
        name=spec.job.name,
        payload={
            "inputs": names,
            "weights": lr.weights[:-1].tolist(),
            "intercept": float(lr.weights[-1]),
            "preprocessor": pre.to_dict(),
            "woe_bank_features": spec.model.woe_bank_features,
            "binning": bank_binning.to_dict(),
            "operator_features": chosen_op,
            "metrics": {
                "validation_auc": val_eval.auc,
                "ks": val_eval.ks.statistic,
            },
        },
    )
    summary["model"] = {"name": record.name, "version": record.version}
    summary["report"] = str(html)
    return summary, html, folder
