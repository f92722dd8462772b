"""The bank's job runner: one joint credit model from a JOB.toml, end to end.

Steps (each recorded in the job's status and the audit table, with progress shown):
  1. propose the job to the operator, which checks its policy and approves it
     automatically or waits for `operator-node jobs approve ID`;
  2. PSI in mode "both" on the bank's labelled rows: both parties learn the
     intersection (stated in the report) and share a pseudonymous row order;
  3. a stratified train/validation split, computed by the bank (it holds the labels);
     the operator only receives which aligned positions are validation rows;
  4. WOE/IV of the bank's features (local) and the operator's (federated, Paillier);
     feature selection by IV threshold and/or top-k;
  5. two-party logistic regression (HE + masking) with early stopping on the
     validation loss;
  6. batch prediction (the operator's partial scores, once per split), evaluation,
     the report folder (HTML + JSON) and the bank's part of the model in its registry.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from bank_node.hetero_lr import BankLrDriver, LrResult, LrSettings
from bank_node.iv import OperatorIv, bank_iv, operator_iv
from bank_node.job_report import JobOutputs, bank_only_auc, publish
from bank_node.jobspec import JobSpec, SplitSection
from bank_node.psi import run_psi
from models.binning import BinningModel
from models.preprocess import FeaturePreprocessor
from models.woe import WoeIv, select_features, woe_transform
from node_core.config import ConfigError
from node_core.ingest import Dataset
from node_core.node import NodeContext
from protocol.domain import JobBinding, JobDecision, JobOutcome, JobProposal
from protocol.errors import FailedPrecondition, PermissionDenied
from protocol.hetero_lr.party import LrHyper
from protocol.hetero_lr.service import HeteroLrClient
from protocol.ids import new_hex_id
from protocol.jobs import JobsClient
from protocol.psi.messages import PsiMode

Progress = Callable[[str], None]
APPROVAL_POLL_S = 2.0
# What a joint credit-model job needs the operator to speak (protocol/version.py).
JOB_CAPABILITIES = (
    "jobs/policy/1",
    "psi/ecdh-x25519/1",
    "binning/paillier-iv/1",
    "hetero-lr/ckks-fourier/1",
)


def validation_mask(
    labels: np.ndarray, split: SplitSection, stable_key: np.ndarray
) -> np.ndarray:
    """The bank's stratified split over aligned positions: True = validation.

    The aligned order is new in every PSI session, so the split is drawn over the
    positions sorted by `stable_key` (the bank's own row numbers): the same data and
    seed give the same validation rows in every run.
    """
    order = np.argsort(stable_key, kind="stable")
    _, val = train_test_split(
        np.arange(len(labels)),
        test_size=split.validation_fraction,
        stratify=labels[order],
        random_state=split.seed,
    )
    mask = np.zeros(len(labels), dtype=bool)
    mask[order[val]] = True
    return mask


def stderr_progress(message: str) -> None:
    print(f"[job] {message}", file=sys.stderr, flush=True)


class StageProgress:
    """Turns PSI's per-chunk progress into one line per stage and quarter."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._shown: dict[str, int] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        quarter = 4 * done // max(total, 1)
        if self._shown.get(stage, -1) < quarter:
            self._shown[stage] = quarter
            self._progress(f"psi {stage}: {done}/{total}")


@dataclass
class JobRun:
    """What the runner produced, for the CLI summary and the benchmark."""

    job_id: str
    report_dir: Path
    summary: dict[str, Any] = field(default_factory=dict)


def _labelled(dataset: Dataset, label: str | None) -> tuple[Dataset, int]:
    if dataset.label is None:
        raise ConfigError(f"data source {dataset.name!r} declares no label column")
    keep = ~np.isnan(dataset.label)
    sub = Dataset(
        name=dataset.name,
        ids=dataset.ids[keep],
        features=dataset.features[keep].reset_index(drop=True),
        feature_types=dataset.feature_types,
        label=dataset.label[keep],
        identity=dataset.identity[keep].reset_index(drop=True),
        source_rows=dataset.source_rows[keep],
        report=dataset.report,
    )
    return sub, int((~keep).sum())


class JobRunner:
    def __init__(
        self, ctx: NodeContext, spec: JobSpec, progress: Progress = stderr_progress
    ) -> None:
        self.ctx = ctx
        self.spec = spec
        self.progress = progress
        self.job_id = new_hex_id()
        self.timings: dict[str, float] = {}

    def _timed(self, name: str, started: float) -> None:
        self.timings[name] = round(time.perf_counter() - started, 3)

    # ---- steps -------------------------------------------------------------------
    def _approve(self, jobs: JobsClient, rows: int) -> JobDecision:
        spec = self.spec
        decision = jobs.propose(
            JobProposal(
                job_id=self.job_id,
                purpose=spec.job.purpose,
                features=spec.operator.features,
                model=spec.model.type,
                max_rows=rows,
                batch_size=spec.model.batch_size,
                description=spec.job.description or spec.job.name,
            )
        )
        waited = 0.0
        if decision.status == "pending_approval":
            self.progress(decision.message)
        while decision.status == "pending_approval":
            time.sleep(APPROVAL_POLL_S)
            waited += APPROVAL_POLL_S
            decision = jobs.status(self.job_id)
            if waited % 60 < APPROVAL_POLL_S:
                self.progress(
                    f"still waiting for the operator's approval ({waited:.0f} s)"
                )
        if decision.status not in ("approved", "running"):
            raise PermissionDenied(
                f"the operator did not approve job {self.job_id}: {decision.message}"
            )
        return decision

    def run(self) -> JobRun:
        ctx, spec = self.ctx, self.spec
        counterpart = spec.job.counterpart
        ctx.config.counterpart(counterpart)
        if spec.data.source not in ctx.config.data:
            known = ", ".join(sorted(ctx.config.data)) or "none"
            raise ConfigError(
                f"{spec.source}: data.source: {spec.data.source!r} is not a data"
                f" source of {ctx.config.source.name} (known: {known})"
            )
        source = ctx.config.data_source(spec.data.source)
        if spec.data.label and spec.data.label != source.label:
            raise ConfigError(
                f"{spec.source}: data.label: {spec.data.label!r} is not the label of"
                f" data source {spec.data.source!r} ({source.label!r})"
            )
        store = ctx.store
        store.create_job(
            "hetero_lr",
            counterpart,
            {
                "name": spec.job.name,
                "purpose": spec.job.purpose,
                "spec": str(spec.source),
            },
            self.job_id,
        )
        self.progress(f"job {self.job_id} ({spec.job.name}) created")
        try:
            result = self._run(counterpart)
        except BaseException as exc:
            store.set_job_status(self.job_id, "failed", error=str(exc)[:500])
            try:
                with ctx.channel(counterpart) as channel:
                    JobsClient(channel, ctx.limits.deadline_s).finish(
                        JobOutcome(self.job_id, False, type(exc).__name__)
                    )
            except Exception:
                pass
            raise
        store.set_job_status(self.job_id, "succeeded", result=result.summary)
        return result

    def _run(self, counterpart: str) -> JobRun:
        ctx, spec = self.ctx, self.spec
        started = time.perf_counter()
        full = ctx.dataset(spec.data.source)
        dataset, unlabelled = _labelled(full, spec.data.label)
        self.progress(
            f"bank data: {full.report.rows_accepted} accepted rows"
            f" ({full.report.rows_rejected} rejected), {unlabelled} without a label"
            f" excluded, {len(dataset.ids)} labelled"
        )
        with ctx.channel(counterpart) as channel:
            jobs = JobsClient(channel, ctx.limits.deadline_s)
            hello = ctx.handshake(channel, counterpart)
            missing = [
                c for c in JOB_CAPABILITIES if c not in hello.shared_capabilities
            ]
            if missing:
                raise FailedPrecondition(
                    f"{counterpart} does not speak {', '.join(missing)}"
                )
            mark = time.perf_counter()
            decision = self._approve(jobs, len(dataset.ids))
            self._timed("approval", mark)
            self.ctx.store.set_job_status(self.job_id, "approved")
            self.ctx.store.set_job_status(self.job_id, "running")
            self.progress(
                f"approved: {len(decision.features)} operator features available"
            )
            mark = time.perf_counter()
            psi = run_psi(
                ctx,
                counterpart,
                dataset,
                PsiMode.BOTH,
                channel=channel,
                progress=StageProgress(self.progress),
            )
            self._timed("psi", mark)
            alignment = psi.alignment
            assert alignment is not None
            rows = alignment.local_rows
            self.progress(
                f"psi: {psi.intersection_size} of {psi.bank_set_size} bank rows are"
                f" operator subscribers ({self.timings['psi']:.1f} s)"
            )
            labels = dataset.label[rows].astype(np.int64)  # type: ignore[index]
            validation = validation_mask(labels, spec.split, rows)
            bitmap = np.packbits(validation, bitorder="little").tobytes()
            jobs.bind(
                JobBinding(self.job_id, alignment.alignment_id, len(rows), bitmap)
            )
            positions = {
                "train": np.flatnonzero(~validation),
                "validation": np.flatnonzero(validation),
            }
            bank_frame = self._bank_frame(dataset, rows)
            y_train = labels[positions["train"]]
            mark = time.perf_counter()
            op_ivs, iv_timings = operator_iv(
                channel,
                self.job_id,
                y_train,
                [f.index for f in decision.features],
                bins=spec.binning.bins,
                method=spec.binning.method,
                chunk_bytes=ctx.limits.chunk_bytes,
                deadline_s=ctx.limits.stream_deadline_s,
            )
            self._timed("operator_iv", mark)
            categorical = [
                c for c in bank_frame if dataset.feature_types[c] == "categorical"
            ]
            bank_binning, bank_ivs = bank_iv(
                bank_frame.iloc[positions["train"]],
                y_train,
                categorical,
                bins=spec.binning.bins,
                method=spec.binning.method,
            )
            self.progress(
                f"information value: {len(op_ivs)} operator features in"
                f" {self.timings['operator_iv']:.1f} s, {len(bank_ivs)} bank features"
            )
            chosen_bank, chosen_op = self._select(bank_ivs, op_ivs)
            self.progress(
                f"selected {len(chosen_bank)} bank and {len(chosen_op)} operator"
                " features"
            )
            bank_x, pre = self._bank_inputs(
                bank_frame[chosen_bank], bank_binning, bank_ivs, positions["train"]
            )
            mark = time.perf_counter()
            lr = self._train(
                channel, bank_x, labels, positions, chosen_op, decision.min_batch_size
            )
            self._timed("training", mark)
            client = HeteroLrClient(channel, ctx.limits.stream_deadline_s)
            scores = {
                split: bank_x[positions[split]] @ lr.weights
                + client.partial_scores(self.job_id, split, len(positions[split]))
                for split in ("train", "validation")
            }
            jobs.finish(JobOutcome(self.job_id, True, "model trained"))
        self._timed("total", started)
        outputs = JobOutputs(
            psi.summary(), labels, positions, scores, lr, pre, bank_ivs, op_ivs,
            chosen_bank, chosen_op, bank_binning, iv_timings,
            bank_only_auc(bank_x, labels, positions),
        )  # fmt: skip
        summary, html, folder = publish(ctx, spec, self.job_id, outputs, self.timings)
        self.progress(
            f"validation AUC {summary['validation_auc']:.4f}, KS"
            f" {summary['validation_ks']:.4f}; report: {html}"
        )
        return JobRun(self.job_id, folder, summary)

    def _bank_frame(self, dataset: Dataset, rows: np.ndarray) -> pd.DataFrame:
        frame = dataset.features.iloc[rows].reset_index(drop=True)
        if self.spec.data.bank_features:
            missing = [c for c in self.spec.data.bank_features if c not in frame]
            if missing:
                raise ConfigError(
                    f"{self.spec.source}: data.bank_features: unknown column"
                    f" {missing[0]!r}"
                )
            frame = frame[list(self.spec.data.bank_features)]
        return frame

    def _select(
        self, bank_ivs: dict[str, WoeIv], op_ivs: list[OperatorIv]
    ) -> tuple[list[str], list[int]]:
        sel = self.spec.selection
        iv = {f"bank:{k}": v.iv for k, v in bank_ivs.items()}
        iv |= {f"operator:{o.index}": o.table.iv for o in op_ivs}
        chosen = select_features(iv, min_iv=sel.min_iv, top_k=sel.top_k)
        bank = [c.split(":", 1)[1] for c in chosen if c.startswith("bank:")]
        operator = [
            int(c.split(":", 1)[1]) for c in chosen if c.startswith("operator:")
        ]
        if not operator:
            raise ConfigError(
                f"{self.spec.source}: selection: no operator feature passes the"
                " selection; lower selection.min_iv or raise selection.top_k"
            )
        return [c for c in bank_ivs if c in bank], sorted(operator)

    def _bank_inputs(
        self,
        frame: pd.DataFrame,
        binning: BinningModel,
        ivs: dict[str, WoeIv],
        train: np.ndarray,
    ) -> tuple[np.ndarray, FeaturePreprocessor]:
        spec = self.spec.model
        if spec.woe_bank_features:
            bins = binning.transform(frame)
            frame = woe_transform(bins, {c: ivs[c].woe for c in frame.columns})
            kinds = {c: "numeric" for c in frame.columns}
        else:
            kinds = {
                c: self.ctx.dataset(self.spec.data.source).feature_types[c]
                for c in frame.columns
            }
        clip = spec.clip or 8.0
        pre = FeaturePreprocessor.fit(frame.iloc[train], kinds, clip=clip)
        if spec.woe_bank_features:
            for n in pre.numeric:  # WOE values enter the model as they are
                n.mean, n.std = 0.0, 1.0
        x = pre.transform(frame)
        return np.hstack([x, np.ones((len(x), 1))]), pre

    def _train(
        self,
        channel: Any,
        bank_x: np.ndarray,
        labels: np.ndarray,
        positions: dict[str, np.ndarray],
        operator_features: list[int],
        min_batch: int,
    ) -> LrResult:
        spec = self.spec.model
        hyper = LrHyper(
            learning_rate=spec.learning_rate,
            optimizer=spec.optimizer,
            momentum=spec.momentum,
            lr_decay=spec.lr_decay,
            l2=spec.l2,
        )
        driver = BankLrDriver(
            HeteroLrClient(channel, self.ctx.limits.stream_deadline_s),
            self.job_id,
            bank_x,
            labels.astype(np.float64),
            positions,
            operator_features,
            LrSettings(
                epochs=spec.epochs,
                batch_size=spec.batch_size,
                hyper=hyper,
                min_batch=min_batch,
                patience=spec.early_stopping_patience,
                clip=spec.clip or 8.0,
                seed=spec.seed,
            ),
            self.progress,
        )
        return driver.train()
