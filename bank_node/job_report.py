"""The publish stage: evaluation, the HTML/JSON report and the bank's model part.

The report states what each party learned, shows the joint model next to a bank-only
baseline trained the same way on the same rows (the operator data's value added), what
the job did to the data (rejected and unlabelled rows, missing shares, merged bins and
indicators; bank_node/data_account.py), and the bank's part of the model goes to its
registry with a version. Model-specific content
(history, coefficients, scorecard, the training and scoring privacy lines) comes from
the trainer's ModelReport. A lookalike job's report (task "lookalike") adds the seed
audience's counts from its file to the aligned splits and how well the model finds
the seed's members among the validation rows (AUC, top decile's capture and lift).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bank_node.data_account import bin_tables, data_notes, missing_shares
from bank_node.feature_selection import FeatureSelection
from bank_node.jobspec import JobSpec
from bank_node.lookalike import SeedCounts, lookalike_rows, lookalike_summary
from bank_node.trainers.base import ModelReport, ScoredSplit
from models.metrics import evaluate
from models.report import ReportInput, ReportTable, write_report
from node_core.model_registry import ModelPart, ModelRegistry
from node_core.node import NodeContext
from protocol.domain import Split

PSI_STATEMENT = (
    "Alignment by PSI in mode 'both': both the bank and the operator learn which"
    " people are in the intersection (as in FATE and SecretFlow); no other row-level"
    " information crosses."
)
# No lift, gains or calibration bin of a report is a statistic of fewer rows.
MIN_BIN_ROWS = 30
IV_STATEMENT = (
    "Information value: the operator saw only Paillier ciphertexts of the labels; the"
    " bank learned per-bin positive/negative counts of the operator's features."
)
SEED_STATEMENT = (
    "Lookalike: the labels (1 = in the seed audience, 0 = every other aligned"
    " customer) were built on the bank from its own list; the seed's numbers never"
    " left the bank, the PSI set was the whole data source, and the operator learned"
    " only what a credit job of this model type discloses (the job's task and"
    " purpose, and what training discloses about labels, stated below)."
)


@dataclass(frozen=True, kw_only=True)
class JobOutputs:
    """What the stages before publish produced."""

    data: dict[str, Any]  # the bank source's rows (data_account)
    psi_summary: dict[str, Any]
    rows: dict[Split, int]  # aligned rows per split
    selection: FeatureSelection
    scored: dict[Split, ScoredSplit]
    model: ModelReport
    model_part: ModelPart
    seed: SeedCounts | None = None  # a lookalike job's seed audience


def publish(
    ctx: NodeContext,
    spec: JobSpec,
    job_id: str,
    out: JobOutputs,
    timings: dict[str, float],
) -> tuple[dict[str, Any], Path, Path]:
    """Evaluate, write the report folder and save the bank's model part; returns the
    summary, the HTML report and the folder."""
    selection, model = out.selection, out.model
    train, validation = out.scored[Split.TRAIN], out.scored[Split.VALIDATION]
    threshold = spec.report.threshold
    train_eval = evaluate(
        train.labels, train.probability, threshold=threshold, min_bin_rows=MIN_BIN_ROWS
    )
    val_eval = evaluate(
        validation.labels,
        validation.probability,
        threshold=threshold,
        reference_score=train.probability,
        min_bin_rows=MIN_BIN_ROWS,
    )
    op_names = {o.index: o.name for o in selection.operator_ivs}  # as disclosed
    bins = bin_tables(selection)
    notes = [*data_notes(out.data, bins, spec.binning.bins), *model.notes]
    iv_timings = selection.iv_timings
    folder = Path(str(spec.report.output).replace("{job_id}", job_id))
    if folder == spec.report.output:
        folder = folder / job_id
    summary = {
        "job_id": job_id,
        "name": spec.job.name,
        "data": {**out.data, "aligned": out.psi_summary["intersection_size"]},
        "rows": {split.value: count for split, count in out.rows.items()},
        "psi": out.psi_summary,
        "validation_auc": round(val_eval.auc, 6),
        "bank_only_validation_auc": round(model.bank_only_auc, 6),
        "bank_only_best_epoch": model.bank_only_best_epoch,
        "validation_ks": round(val_eval.ks.statistic, 6),
        "train_auc": round(train_eval.auc, 6),
        "best_epoch": model.best_epoch,
        "epochs_run": len(model.history),
        "warnings": list(model.warnings),
        "seconds_per_epoch": round(model.seconds_per_epoch, 3),
        "epoch_evaluation_seconds": round(model.evaluation_seconds_per_epoch, 3),
        "iv_seconds": round(iv_timings["total_s"], 3),
        "iv_timings": {k: round(v, 3) for k, v in iv_timings.items()},
        "features": {
            "bank": selection.bank,
            "operator": [op_names[i] for i in selection.operator],
        },
        "timings": timings,
    }
    if model.details:
        summary["training"] = dict(model.details)
    summary["task"] = spec.model.task
    tables = model.tables
    privacy: tuple[str, ...] = (PSI_STATEMENT, IV_STATEMENT, *model.privacy)
    metadata: dict[str, Any] = {"task": spec.model.task}
    if out.seed is not None:
        lookalike = lookalike_summary(out.seed, val_eval)
        summary["lookalike"] = {"seed_source": spec.data.seed_source, **lookalike}
        metadata |= {
            "seed_source": spec.data.seed_source,
            "seed_numbers": lookalike["seed_numbers"],
            "aligned_seed_members": lookalike["aligned_members"],
        }
        tables = (
            ReportTable(
                "lookalike",
                "Lookalike: the seed audience and how well the model finds it",
                ("", "value"),
                lookalike_rows(lookalike),
                "Label 1 = an aligned customer in the seed audience, 0 = every other"
                " aligned customer (unlabelled, not known negatives): the AUC and"
                " lift measure how the model ranks seed members above the rest.",
            ),
            *tables,
        )
        privacy = (PSI_STATEMENT, SEED_STATEMENT, IV_STATEMENT, *model.privacy)
    html, _ = write_report(
        folder,
        ReportInput(
            title=(
                f"Lookalike model: {spec.job.name}"
                if out.seed is not None
                else f"Joint credit model: {spec.job.name}"
            ),
            validation=val_eval,
            train=train_eval,
            metadata={
                "job_id": job_id,
                "purpose": spec.job.purpose,
                "model": spec.model.type,
                **metadata,
                "parties": f"{ctx.party_id} (labels) + {spec.job.counterpart}",
                "alignment": PSI_STATEMENT,
                "aligned_rows": out.psi_summary["intersection_size"],
                "train_rows": out.rows[Split.TRAIN],
                "validation_rows": out.rows[Split.VALIDATION],
                "best_epoch": model.best_epoch,
                "seconds_per_epoch": round(model.seconds_per_epoch, 3),
                "bank_only_validation_auc": round(model.bank_only_auc, 4),
                "bank_only_model": model.bank_only_note,
                **({"warnings": "; ".join(model.warnings)} if model.warnings else {}),
            },
            operator_iv={o.name: o.table.iv for o in selection.operator_ivs},
            bank_iv={k: v.iv for k, v in selection.bank_ivs.items()},
            coefficients=model.coefficients,
            intercept=model.intercept,
            history=model.history,
            scorecard=model.scorecard,
            privacy=privacy,
            tables=tables,
            data=out.data,
            notes=notes,
            missing=missing_shares(bins),
            preparation=model.preparation,
            bins=bins,
        ),
    )
    metrics = {"validation_auc": val_eval.auc, "ks": val_eval.ks.statistic}
    part = ModelPart(
        out.model_part.kind, {**out.model_part.payload, "metrics": metrics}
    )
    record = ModelRegistry(ctx.config.state_dir, ctx.store).save(
        job_id=job_id, counterpart=spec.job.counterpart, part=part, name=spec.job.name
    )
    summary["model"] = {"name": record.name, "version": record.version}
    summary["report"] = str(html)
    return summary, html, folder
