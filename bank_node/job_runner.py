"""The bank's job runner: one joint model from a JOB.toml, end to end, in named stages.

Every stage is timed under its name (the summary's `timings`), and the job's status and
audit entries are recorded in both parties' stores, with progress shown:
  approve          propose the job; the operator checks its policy and approves it
                   automatically or waits for `operator-node jobs approve ID`;
  align            PSI in mode "both" on the bank's labelled rows (a lookalike job:
                   on all the source's rows, chosen before the seed is read): both
                   parties learn the intersection (stated in the report) and share a
                   row order;
  bind             a stratified train/validation split drawn by the bank (it holds the
                   labels); the operator only receives which positions are validation;
  select_features  WOE/IV of the bank's features (local) and the operator's
                   (federated, Paillier); selection by IV threshold and/or top-k;
  train            the trainer of the spec's `[model] type` (bank_node/trainers/)
                   with the operator's passive role of the same type;
  score            the trainer's scores of both splits;
  publish          evaluation, the report folder (HTML + JSON), the bank's model part.
All stages share one channel and one handshake, which checks up front that the
operator speaks every protocol the job and its trainer need.

A job always ends on both sides: while it runs, the runner heartbeats the operator
and each stage runs under its deadline (bank_node/job_watch.py); when the operator
dies, hangs or ends the job, when a stage runs late, or when the runner is told to
stop (SIGTERM/SIGINT, see job_command.py), the job fails here with one clear reason
and the runner tells the operator (Jobs.Finish under `jobs.finish_deadline_s`). A
runner killed outright is reconciled by the next `job run` or `serve`
(bank_node/job_reconcile.py) and, at the operator, by its idle-job timeout.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from bank_node import feature_selection
from bank_node.data_account import data_account
from bank_node.feature_selection import FeatureSelection
from bank_node.iv import OperatorIv, bank_iv
from bank_node.job_reconcile import runner_identity, tell_operator, write_runner
from bank_node.job_report import JobOutputs, publish
from bank_node.job_watch import JobAborted, JobInterrupted, JobWatch
from bank_node.jobspec import JobSpec, SplitSection
from bank_node.lookalike import (
    SeedAudience,
    SeedCounts,
    check_aligned_members,
    check_members_in_source,
    seed_labels,
)
from bank_node.psi import PsiResult, psi_session
from bank_node.trainers.base import (
    BankInputs,
    OperatorInputs,
    Trainer,
    TrainingContext,
)
from bank_node.trainers.registry import trainer_for
from models.scorecard import ScorecardScale
from models.woe import WoeIv
from node_core.checkpoint import CheckpointError, JobCheckpoints
from node_core.config import ConfigError
from node_core.ingest import Dataset
from node_core.node import NodeContext, PeerLink
from node_core.store import Job
from protocol.binning.service import PROTOCOL as BINNING
from protocol.domain import ACTIVE_JOB_STATUSES, JobStatus, Split
from protocol.errors import PeerCallError, PermissionDenied
from protocol.ids import new_hex_id
from protocol.jobs.messages import (
    JobBinding,
    JobDecision,
    JobOutcome,
    JobProposal,
    OperatorFeature,
    split_positions,
)
from protocol.jobs.service import PROTOCOL as JOBS
from protocol.jobs.service import JobsClient
from protocol.psi.alignment import data_fingerprint
from protocol.psi.messages import PsiMode
from protocol.psi.service import PROTOCOL as PSI

Progress = Callable[[str], None]
T = TypeVar("T")
APPROVAL_POLL_S = 2.0
INPUTS = "inputs"  # the checkpoint of training's inputs (JobRunner._save_inputs)
# What every joint job needs the operator to speak; the trainer adds its own.
JOB_CAPABILITIES = (JOBS.capability, PSI.capability, BINNING.capability)


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


@dataclass(frozen=True, kw_only=True)
class AlignedRows:
    """The bind stage's result: the aligned rows, their labels and the split."""

    rows: np.ndarray  # the bank's dataset row per aligned position
    labels: np.ndarray  # 0/1 per aligned position
    positions: dict[Split, np.ndarray]


def _labelled(dataset: Dataset) -> tuple[Dataset, np.ndarray, int]:
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
    return sub, dataset.label[keep].astype(np.int64), int((~keep).sum())


class JobRunner:
    def __init__(
        self,
        ctx: NodeContext,
        spec: JobSpec,
        progress: Progress = stderr_progress,
        *,
        resume_job: str | None = None,
    ) -> None:
        self.ctx = ctx
        self.spec = spec
        self.progress = progress
        self.resuming = resume_job is not None
        self.job_id = resume_job or new_hex_id()
        self.checkpoints = JobCheckpoints(ctx.config.state_dir, self.job_id)
        self.stage = ""  # the stage running
        self.stopped = False  # told to stop (a signal): the job fails
        self.timings: dict[str, float] = {}
        self.watch: JobWatch | None = None  # while the job's channel is open
        # Set by the CLI: interrupts the runner's thread when the watch trips while
        # it computes locally (a closed channel only ends calls).
        self.interrupt: Callable[[], None] | None = None
        self.interruptible = False  # True while the job's stages run
        # The stage that is running or failed (None between stages): a watch that
        # trips while the runner is interrupted names it wherever the signal lands.
        self.current_stage: str | None = None
        self.proposed = False  # the operator knows the job
        self.seed: SeedAudience | None = None  # a lookalike job's seed audience
        self.seed_in_source = 0
        trainer = trainer_for(spec.model.type)
        if trainer is None:
            raise ConfigError(f"{spec.source}: model.type: no trainer for it")
        self.trainer: Trainer[Any, Any] = trainer

    def stop(self, reason: str) -> None:
        """Ask the running job to stop (from a signal handler): its watch trips, which
        ends the call in progress."""
        self.stopped = True
        if self.watch is not None:
            self.watch.trip(reason, interrupt=False)

    def aborted(self) -> JobAborted:
        """The error for a job its watch ended, wherever the runner was."""
        reason = (self.watch.reason if self.watch is not None else "") or "stopped"
        if self.current_stage is not None:
            return JobAborted(self._failed_in(self.current_stage, reason))
        return JobAborted(f"job {self.job_id} failed: {reason}")

    def _on_trip(self) -> None:
        if self.interruptible and self.interrupt is not None:
            self.interrupt()

    def _stage(self, name: str, work: Callable[[], T]) -> T:
        """Run one named stage under its deadline and record its wall time."""
        started = time.perf_counter()
        self.current_stage = name
        watch = self.watch
        seconds = getattr(self.spec.deadlines, f"{name}_s", None)
        guard = watch.stage(name, seconds) if watch and seconds else nullcontext()
        self.stage = name
        try:
            with guard:
                result = work()
        except Exception as exc:
            raise self._clear_error(name, exc) from exc
        if watch is not None and watch.reason:
            raise JobAborted(self._failed_in(name, watch.reason))
        self.current_stage = None
        self.timings[name] = round(time.perf_counter() - started, 3)
        return result

    def _failed_in(self, stage: str, reason: str) -> str:
        return f"job {self.job_id} failed in stage {stage}: {reason}"

    def _clear_error(self, stage: str, exc: Exception) -> Exception:
        """The error to show for a stage that failed: the watch's reason when it
        ended the stage, a plain statement when the operator went away."""
        watch = self.watch
        if watch is not None and watch.reason:
            return JobAborted(self._failed_in(stage, watch.reason))
        if isinstance(exc, PeerCallError) and exc.code == "UNAVAILABLE":
            return JobAborted(
                self._failed_in(stage, f"the operator is unreachable ({exc})")
            )
        return exc

    # ---- the job -------------------------------------------------------------------
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
        seed_source = spec.data.seed_source
        if seed_source is not None and seed_source not in ctx.config.data:
            known = ", ".join(sorted(ctx.config.data)) or "none"
            raise ConfigError(
                f"{spec.source}: data.seed_source: {seed_source!r} is not a data"
                f" source of {ctx.config.source.name} (known: {known})"
            )
        source = ctx.config.data_source(spec.data.source)
        if spec.data.label and spec.data.label != source.label:
            raise ConfigError(
                f"{spec.source}: data.label: {spec.data.label!r} is not the label of"
                f" data source {spec.data.source!r} ({source.label!r})"
            )
        problem = self.trainer.check_node(ctx.config)
        if problem is not None:
            raise ConfigError(f"{ctx.config.source}: {problem}")
        store = ctx.store
        job = store.create_job(
            spec.model.type,
            counterpart,
            {
                "name": spec.job.name,
                "purpose": spec.job.purpose,
                "task": spec.model.task,
                "spec": str(spec.source),
                "runner": runner_identity(),  # for the reconciler, if we are killed
            },
            self.job_id,
        )
        self.progress(f"job {self.job_id} ({spec.job.name}) created")
        return self._finish(job, counterpart)

    def resume(self) -> JobRun:
        """Continue an interrupted job from its last checkpoint both parties hold
        (`bank-node job resume ID`): training, then score and publish as usual."""
        store = self.ctx.store
        job = store.get_job(self.job_id)
        write_runner(self.ctx.config.state_dir, self.job_id)
        store.append_audit(
            "job.resume_requested",
            counterpart=job.counterpart,
            subject=self.job_id,
            detail={"agreed_epochs": [a.epoch for a in self.checkpoints.agreed()]},
        )
        self.proposed = True  # the operator knows the job
        self.progress(f"job {self.job_id} ({self.spec.job.name}) resuming")
        return self._finish(job, job.counterpart)

    def _finish(self, job: Job, counterpart: str) -> JobRun:
        try:
            result = self._run(counterpart)
        except BaseException as exc:
            replacement = self._fail(job, exc)
            if replacement is not None:
                raise replacement from exc
            raise
        self.ctx.store.set_job_status(
            self.job_id, JobStatus.SUCCEEDED, result=result.summary
        )
        self.checkpoints.delete()
        return result

    def _resumable(self, exc: BaseException) -> int:
        """The epoch an interrupted job can resume from: the operator went away (not
        a stop by signal, not a refusal) in the train stage after a checkpoint both
        parties agreed on; 0 if it cannot."""
        if self.stopped or self.stage != "train":
            return 0
        gone = isinstance(exc, JobAborted) or (
            isinstance(exc, PeerCallError) and exc.code == "UNAVAILABLE"
        )
        latest = self.checkpoints.latest()
        return latest.epoch if gone and latest is not None else 0

    def _fail(self, job: Job, exc: BaseException) -> Exception | None:
        """Record the failure here and tell the operator, within a short deadline;
        or, when the job can resume, record the interruption and return the error
        that says how to resume."""
        self.interruptible = False
        epoch = self._resumable(exc)
        if epoch:
            self.ctx.store.append_audit(
                "job.interrupted",
                counterpart=job.counterpart,
                subject=self.job_id,
                detail={"reason": str(exc)[:500], "resumable": True, "epoch": epoch},
            )
            return JobAborted(
                f"{str(exc) or type(exc).__name__}; it can resume from the checkpoint"
                f" after epoch {epoch}: bank-node job resume {self.job_id}"
            )
        error = str(exc)[:500] or type(exc).__name__
        # The operator hears the watch's reason or the error's kind, nothing more
        # of the bank's internals.
        stopped = isinstance(exc, (JobAborted, JobInterrupted))
        told = error if stopped else type(exc).__name__
        # Only a job the operator knows (proposed) is reported to it.
        unreached = tell_operator(self.ctx, job, told) if self.proposed else ""
        if unreached:
            error += (
                f" (the operator could not be told: {unreached}; it ends the job"
                " when the bank's heartbeats stop, jobs.session_idle_s)"
            )
        self.ctx.store.set_job_status(self.job_id, JobStatus.FAILED, error=error)
        self.checkpoints.delete()
        return None

    def _run(self, counterpart: str) -> JobRun:
        ctx, spec, trainer = self.ctx, self.spec, self.trainer
        options = spec.model.options
        started = time.perf_counter()
        full = ctx.dataset(spec.data.source)
        if spec.data.max_rejected_share is not None:
            full.report.check_rejected_share(
                spec.data.max_rejected_share,
                f"data.max_rejected_share of {spec.source.name}",
            )
        if spec.model.lookalike:
            dataset, labels, unlabelled = self._seed_labelled(full)
        else:
            dataset, labels, unlabelled = _labelled(full)
            self.progress(
                f"bank data: {full.report.rows_accepted} accepted rows"
                f" ({full.report.rows_rejected} rejected: "
                f"{dict(full.report.rejected_by_reason) or 'none'}), {unlabelled}"
                f" without a label excluded, {len(dataset.ids)} labelled"
            )
        required = (*JOB_CAPABILITIES, *trainer.capabilities)
        with (
            ctx.link(counterpart, required) as opened,
            JobWatch(
                opened.channel,
                self.job_id,
                ctx.config.jobs,
                ctx.limits.deadline_s,
                on_trip=self._on_trip,
            ) as self.watch,
        ):
            self.interruptible = True
            # Every stage uses the watched channel (it can end them all at once).
            link = PeerLink(opened.counterpart, self.watch.channel, opened.hello)
            jobs = JobsClient(link.channel, ctx.limits.deadline_s)
            if self.resuming:
                inputs = self.checkpoints.read_extra(INPUTS)
                decision, aligned, selection, psi_summary = self._restore_inputs(
                    inputs, dataset, labels
                )
                bank_frame = self._bank_frame(dataset, aligned.rows)
            else:
                decision = self._stage(
                    "approve", lambda: self._approve(jobs, len(labels))
                )
                psi = self._stage("align", lambda: self._align(link, dataset))
                aligned = self._stage("bind", lambda: self._bind(jobs, psi, labels))
                psi_summary = psi.summary()
                bank_frame = self._bank_frame(dataset, aligned.rows)
                selection = self._stage(
                    "select_features",
                    lambda: self._select(link, bank_frame, dataset, aligned, decision),
                )
                self._save_inputs(decision, aligned, selection, psi_summary)
            context = self._context(
                link, aligned, bank_frame, dataset, selection, decision
            )
            model = self._stage("train", lambda: trainer.train(context, options))
            scored = self._stage(
                "score", lambda: trainer.score(context, options, model)
            )
            self.interruptible = False
            self.watch.stop()  # the job ends now: a heartbeat would find it over
            jobs.finish(JobOutcome(self.job_id, True, "model trained"))
        self.watch = None
        outputs = JobOutputs(
            seed=self._seed_counts(len(labels), aligned),
            data=data_account(full.report, unlabelled, len(labels)),
            psi_summary=psi_summary,
            rows={s: len(p) for s, p in aligned.positions.items()},
            selection=selection,
            scored=scored,
            model=trainer.describe(context, options, model),
            model_part=trainer.model_part(context, options, model),
        )
        summary, html, folder = self._stage(
            "publish",
            lambda: publish(ctx, spec, self.job_id, outputs, self.timings),
        )
        self.timings["total"] = round(time.perf_counter() - started, 3)
        if self.resuming:
            summary["resumed_from_epoch"] = model_resumed_from(model)
        self.progress(
            f"validation AUC {summary['validation_auc']:.4f} (bank only, same"
            f" training: {summary['bank_only_validation_auc']:.4f}), KS"
            f" {summary['validation_ks']:.4f}; report: {html}"
        )
        if "lookalike" in summary:
            look = summary["lookalike"]
            self.progress(
                f"lookalike: top decile captures {look['top_decile_capture']:.1%} of"
                f" the {look['validation_members']} seed members among the validation"
                f" rows (lift {look['top_decile_lift']:.2f})"
            )
        return JobRun(self.job_id, folder, summary)

    # ---- lookalike -------------------------------------------------------------
    def _seed_labelled(self, full: Dataset) -> tuple[Dataset, np.ndarray, int]:
        """A lookalike job's rows and labels: every accepted row of the source,
        labelled 1 when its number is in the seed audience (bank_node/lookalike.py).
        Checked before anything is sent: the seed must name some, not all, of the
        source's customers."""
        spec = self.spec
        assert spec.data.seed_source is not None  # the spec's validation
        seed_data = self.ctx.dataset(spec.data.seed_source)
        seed = SeedAudience.from_dataset(seed_data)
        labels = seed_labels(full.ids, seed)
        check_members_in_source(
            labels, seed, f"{spec.source}: data.seed_source", spec.data.source
        )
        self.seed, self.seed_in_source = seed, int(labels.sum())
        self.progress(
            f"bank data: {full.report.rows_accepted} accepted rows"
            f" ({full.report.rows_rejected} rejected: "
            f"{dict(full.report.rejected_by_reason) or 'none'}); seed audience"
            f" {seed.source!r}: {len(seed.numbers)} numbers, {self.seed_in_source} of"
            " them customers (label 1), every other customer label 0"
        )
        return full, labels, 0

    def _seed_counts(self, rows: int, aligned: AlignedRows) -> SeedCounts | None:
        if self.seed is None:
            return None
        return SeedCounts(
            seed_rows_read=self.seed.rows_read,
            seed_numbers=len(self.seed.numbers),
            in_source=self.seed_in_source,
            source_rows=rows,
            aligned=len(aligned.labels),
            aligned_members=int(aligned.labels.sum()),
            members={
                split: int(aligned.labels[positions].sum())
                for split, positions in aligned.positions.items()
            },
        )

    # ---- stages ----------------------------------------------------------------------
    def _approve(self, jobs: JobsClient, rows: int) -> JobDecision:
        spec = self.spec
        self.proposed = True  # from the moment the proposal may have arrived
        decision = jobs.propose(
            JobProposal(
                job_id=self.job_id,
                purpose=spec.job.purpose,
                features=spec.operator.features,
                model=spec.model.type,
                task=spec.model.task,
                max_rows=rows,
                batch_size=spec.model.options.batch_size,
                description=spec.job.description or spec.job.name,
            )
        )
        if self.watch is not None:
            self.watch.heartbeat()  # the operator knows the job from now on
        waited = 0.0
        if decision.status is JobStatus.PENDING_APPROVAL:
            self.progress(decision.message)
        while decision.status is JobStatus.PENDING_APPROVAL:
            time.sleep(APPROVAL_POLL_S)
            waited += APPROVAL_POLL_S
            decision = jobs.status(self.job_id)
            if waited % 60 < APPROVAL_POLL_S:
                self.progress(
                    f"still waiting for the operator's approval ({waited:.0f} s)"
                )
        if decision.status not in ACTIVE_JOB_STATUSES:
            raise PermissionDenied(
                f"the operator did not approve job {self.job_id}: {decision.message}"
            )
        store = self.ctx.store
        store.set_job_status(self.job_id, JobStatus.APPROVED)
        store.set_job_status(self.job_id, JobStatus.RUNNING)
        self.progress(f"approved: {len(decision.features)} operator features available")
        return decision

    def _align(self, link: PeerLink, dataset: Dataset) -> PsiResult:
        started = time.perf_counter()
        psi = psi_session(
            self.ctx,
            link,
            dataset,
            PsiMode.BOTH,
            progress=StageProgress(self.progress),
            job_id=self.job_id,  # the operator aligns only inside the approved job
        )
        self.progress(
            f"psi: {psi.intersection_size} of {psi.bank_set_size} bank rows are"
            f" operator subscribers ({time.perf_counter() - started:.1f} s)"
        )
        return psi

    def _bind(
        self, jobs: JobsClient, psi: PsiResult, labels: np.ndarray
    ) -> AlignedRows:
        alignment = psi.alignment
        if alignment is None:
            raise RuntimeError("a PSI session in mode both returned no alignment")
        rows = alignment.local_rows
        aligned_labels = labels[rows]
        if self.spec.model.lookalike:
            # Before the binding: a seed with too few aligned members ends the job
            # here (the operator hears only that it failed).
            check_aligned_members(
                aligned_labels, f"{self.spec.source}: data.seed_source"
            )
            self.progress(
                f"lookalike: {int(aligned_labels.sum())} of the {len(rows)} aligned"
                " customers are in the seed audience"
            )
        validation = validation_mask(aligned_labels, self.spec.split, rows)
        jobs.bind(JobBinding(self.job_id, alignment.alignment_id, validation))
        return AlignedRows(
            rows=rows, labels=aligned_labels, positions=split_positions(validation)
        )

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
        self,
        link: PeerLink,
        bank_frame: pd.DataFrame,
        dataset: Dataset,
        aligned: AlignedRows,
        decision: JobDecision,
    ) -> FeatureSelection:
        train = aligned.positions[Split.TRAIN]
        selection = feature_selection.select(
            link.channel,
            self.job_id,
            self.spec,
            bank_frame,
            dataset.feature_types,
            aligned.labels[train],
            train,
            [f.index for f in decision.features],
            self.ctx.limits,
            min_bin_rows=(
                self.spec.binning.min_bin_rows
                if self.spec.binning.min_bin_rows is not None
                else decision.min_batch_size
            ),
        )
        self.progress(
            f"information value: {len(selection.operator_ivs)} operator features in"
            f" {selection.iv_timings['total_s']:.1f} s,"
            f" {len(selection.bank_ivs)} bank features"
        )
        self.progress(
            f"selected {len(selection.bank)} bank and {len(selection.operator)}"
            " operator features"
        )
        return selection

    def _context(
        self,
        link: PeerLink,
        aligned: AlignedRows,
        bank_frame: pd.DataFrame,
        dataset: Dataset,
        selection: FeatureSelection,
        decision: JobDecision,
    ) -> TrainingContext:
        scale = self.spec.report.scorecard
        return TrainingContext(
            job_id=self.job_id,
            channel=link.channel,
            limits=self.ctx.limits,
            labels=aligned.labels,
            positions=aligned.positions,
            stable_key=aligned.rows,
            bank=BankInputs(
                frame=bank_frame[selection.bank],
                kinds=dataset.feature_types,
                binning=selection.bank_binning,
                ivs=selection.bank_ivs,
            ),
            operator=OperatorInputs(
                indexes=tuple(selection.operator),
                names={o.index: o.name for o in selection.operator_ivs},
                min_batch=decision.min_batch_size,
            ),
            scorecard_scale=ScorecardScale(
                scale.base_points, scale.base_odds, scale.pdo
            ),
            progress=self.progress,
            checkpoints=self.checkpoints,
            resume=self.resuming,
            resumed=self._resumed,
            config=self.ctx.config,
        )

    def _resumed(self) -> None:
        """The operator accepted the resume: heartbeat it from now on, as a job run
        does from its proposal (the score stage has no other call for a while)."""
        if self.watch is not None:
            self.watch.heartbeat()

    # ---- resume: the inputs of training, saved after select_features --------------
    def _save_inputs(
        self,
        decision: JobDecision,
        aligned: AlignedRows,
        selection: FeatureSelection,
        psi_summary: dict[str, Any],
    ) -> None:
        """What training needs that only the earlier stages produced, in the job's
        checkpoint folder: a resume runs none of them again."""
        validation = np.zeros(len(aligned.rows), dtype=bool)
        validation[aligned.positions[Split.VALIDATION]] = True
        self.checkpoints.write_extra(
            INPUTS,
            {
                "fingerprint": self._fingerprint(),
                "rows": aligned.rows.tolist(),
                "validation": validation.astype(int).tolist(),
                "features": [
                    [f.index, f.display_name, f.kind] for f in decision.features
                ],
                "min_batch_size": decision.min_batch_size,
                "operator_ivs": [
                    operator_iv_to_dict(o) for o in selection.operator_ivs
                ],
                "bank": selection.bank,
                "operator": selection.operator,
                "iv_timings": selection.iv_timings,
                "psi_summary": psi_summary,
                "timings": self.timings,
            },
        )

    def _fingerprint(self) -> str:
        source = self.ctx.config.data_source(self.spec.data.source)
        dataset = self.ctx.dataset(self.spec.data.source)
        return data_fingerprint(source.path, dataset.report.rows_accepted)

    def _restore_inputs(
        self, inputs: dict[str, Any], dataset: Dataset, labels: np.ndarray
    ) -> tuple[JobDecision, AlignedRows, FeatureSelection, dict[str, Any]]:
        if inputs.get("fingerprint") != self._fingerprint():
            raise CheckpointError(
                f"job {self.job_id}: data source {self.spec.data.source!r} changed"
                " since the job started; it cannot resume"
            )
        rows = np.asarray(inputs["rows"], dtype=np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= len(labels)):
            raise CheckpointError(f"job {self.job_id}: its checkpoint is damaged")
        validation = np.asarray(inputs["validation"], dtype=bool)
        aligned = AlignedRows(
            rows=rows, labels=labels[rows], positions=split_positions(validation)
        )
        decision = JobDecision(
            self.job_id,
            JobStatus.RUNNING,
            features=tuple(
                OperatorFeature(int(i), str(n), k) for i, n, k in inputs["features"]
            ),
            min_batch_size=int(inputs["min_batch_size"]),
        )
        bank_frame = self._bank_frame(dataset, rows)
        train = aligned.positions[Split.TRAIN]
        categorical = [
            c for c in bank_frame if dataset.feature_types[c] == "categorical"
        ]
        binning = self.spec.binning
        bank_binning, bank_ivs = bank_iv(  # local and deterministic: computed again
            bank_frame.iloc[train],
            aligned.labels[train],
            categorical,
            bins=binning.bins,
            method=binning.method,
            min_bin_rows=(
                binning.min_bin_rows
                if binning.min_bin_rows is not None
                else decision.min_batch_size
            ),
        )
        bank = [str(c) for c in inputs["bank"]]
        if any(c not in bank_ivs for c in bank):
            raise CheckpointError(f"job {self.job_id}: its checkpoint is damaged")
        selection = FeatureSelection(
            bank_binning=bank_binning,
            bank_ivs=bank_ivs,
            operator_ivs=[operator_iv_from_dict(o) for o in inputs["operator_ivs"]],
            bank=bank,
            operator=[int(i) for i in inputs["operator"]],
            iv_timings={k: float(v) for k, v in inputs["iv_timings"].items()},
        )
        self.timings.update({k: float(v) for k, v in inputs["timings"].items()})
        return decision, aligned, selection, dict(inputs["psi_summary"])


def model_resumed_from(model: Any) -> int:
    result = getattr(model, "result", None)
    return int(getattr(result, "resumed_from", 0))


def operator_iv_to_dict(o: OperatorIv) -> dict[str, Any]:
    t = o.table
    return {
        "index": o.index,
        "name": o.name,
        "labels": list(o.labels),
        "table": {
            "pos_counts": t.pos_counts.tolist(),
            "neg_counts": t.neg_counts.tolist(),
            "dist_pos": t.dist_pos.tolist(),
            "dist_neg": t.dist_neg.tolist(),
            "woe": t.woe.tolist(),
            "iv_contribution": t.iv_contribution.tolist(),
            "iv": t.iv,
        },
    }


def operator_iv_from_dict(data: dict[str, Any]) -> OperatorIv:
    t = data["table"]
    table = WoeIv(
        **{
            k: np.asarray(t[k], dtype=np.float64)
            for k in (
                "pos_counts",
                "neg_counts",
                "dist_pos",
                "dist_neg",
                "woe",
                "iv_contribution",
            )
        },  # fmt: skip
        iv=float(t["iv"]),
    )
    return OperatorIv(
        int(data["index"]), str(data["name"]), table, tuple(data["labels"])
    )
