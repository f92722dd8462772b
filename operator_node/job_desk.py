"""The operator's job desk: per-counterpart policy, approval, and job sessions.

Every joint job passes here before any data moves. A proposal is checked against the
counterpart's policy (purpose, model type served, requested features, row bound,
minimum batch size; a PSI job: its mode against `policy.psi_modes`); a refusal names
the rule. A model job's task says what its labels are: a lookalike model (labels =
the bank's seed audience) is a marketing use of the operator's data, so it must
declare purpose "marketing", which the counterpart's `policy.purposes` must allow:
an operator that does not list "marketing" for a bank refuses its lookalike jobs
(the task and purpose are stored with the job, for `jobs list` and the reviewer of a
manual approval). Proposals count toward `policy.max_jobs_per_day` once accepted
(approved or waiting for approval; a refused one does not), within the last 24 hours
or since the operator's last `counterparts reset-quota`. Approved model jobs get a
JobSession (job_session.py) that later services (binning, each model type's passive
role) look up with `session(peer, job_id)`, which refuses unknown jobs, other
counterparts' jobs, PSI jobs and jobs not (yet) approved. A model job binds only the
alignment of its own PSI session (operator_node/psi/jobs.py).
Lifecycle: every call of the bank on a job (the runner's heartbeats, Jobs.GetStatus,
included) marks it seen; a job not seen for `jobs.session_idle_s` fails (or, while it
waits for approval, is cancelled) and its session is freed (idle_jobs.py). On start
the desk fails the jobs its previous process left running (their protocol state died
with it), and on stop the jobs it leaves running (node_core/reconcile.py). The
global lock guards only the session tables: policy checks, the data catalog and
pattern matching run before it, under a lock per counterpart at most.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import threading
import time
from collections.abc import Collection
from typing import cast

import numpy as np

from node_core.checkpoint import delete_checkpoints, has_agreed_checkpoint
from node_core.config import CounterpartPolicy
from node_core.ingest import Dataset
from node_core.node import NodeContext
from node_core.reconcile import Interrupted, reconcile_jobs
from node_core.store import Job, StoreError
from operator_node.idle_jobs import IdleJobs
from operator_node.job_session import JobSession
from operator_node.model_budget import ModelBudget
from operator_node.psi.jobs import PsiJobSessions
from operator_node.psi.quota import DailyBudget
from protocol.domain import ACTIVE_JOB_STATUSES, JobStatus, Peer
from protocol.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from protocol.jobs.messages import (
    LOOKALIKE_PURPOSE,
    LOOKALIKE_TASK,
    PSI_JOB,
    FeatureKind,
    FeatureQuery,
    JobBinding,
    JobDecision,
    JobOutcome,
    JobProposal,
    OperatorFeature,
)
from protocol.psi.alignment import Alignment, data_fingerprint, load_alignment

log = logging.getLogger(__name__)

# Earlier jobs of a counterpart a new training set is compared with.
MAX_COMPARED_JOBS = 50
# Jobs that count toward policy.max_jobs_per_day: accepted or waiting for approval.
COUNTED_STATUSES = frozenset(
    {
        JobStatus.PENDING_APPROVAL,
        JobStatus.APPROVED,
        JobStatus.RUNNING,
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
    }
)


def catalog_features(policy: CounterpartPolicy, columns: dict[str, str]) -> list[str]:
    """The operator columns a counterpart may ever request under its policy."""
    return [
        c for c in columns if any(fnmatch.fnmatchcase(c, p) for p in policy.features)
    ]


class JobDesk:
    """Handler of the Jobs service (see protocol.jobs.service.JobsHandler)."""

    def __init__(self, ctx: NodeContext, model_types: Collection[str]) -> None:
        self._ctx = ctx
        self._model_types = tuple(sorted(model_types))  # served passive roles
        # Guards the tables below only; never held for I/O or policy work.
        self._lock = threading.Lock()
        self._sessions: dict[str, JobSession] = {}
        # Models per set of rows: checked at Bind, spent at a job's first evaluation.
        self.budget = ModelBudget(ctx.config.state_dir)
        self._psi_jobs = PsiJobSessions(ctx.config.state_dir)
        self._propose_locks: dict[str, threading.Lock] = {}
        self.idle = IdleJobs(ctx.config.jobs.session_idle_s, self._expire)
        # Running jobs whose session is gone but that may resume (agreed checkpoint).
        self._interrupted: set[str] = set()

    # ---- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        """Reconcile what the previous process left, then end idle jobs in the
        background until the node stops."""
        store = self._ctx.store
        resumable = reconcile_jobs(
            store,
            statuses={JobStatus.RUNNING},
            reason="the operator restarted while the job was running; its protocol"
            " state was lost",
            decide=self._interrupted_outcome,
        )
        self._interrupted |= {
            r.job.id for r in resumable if r.outcome is Interrupted.RESUMABLE
        }
        waiting = store.list_jobs(JobStatus.APPROVED)
        waiting += store.list_jobs(JobStatus.PENDING_APPROVAL)
        self.idle.give_time(job.id for job in waiting)  # for the bank to come back
        self.idle.give_time(self._interrupted, self._resume_window)
        self.idle.start()
        self._ctx.on_stop.append(self.stop)

    def stop(self) -> None:
        """The node is stopping: its running jobs end with it (or, with an agreed
        checkpoint, wait for a resume)."""
        self.idle.stop()
        reconcile_jobs(
            self._ctx.store,
            statuses={JobStatus.RUNNING},
            reason="the operator stopped while the job was running",
            decide=self._interrupted_outcome,
        )
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for session in sessions:
            session.close()

    def _interrupted_outcome(self, job: Job) -> Interrupted:
        """A running job whose protocol state is lost: resumable while it holds a
        checkpoint both parties agreed on, else failed (and its files deleted)."""
        if has_agreed_checkpoint(self._ctx.config.state_dir, job.id):
            return Interrupted.RESUMABLE
        delete_checkpoints(self._ctx.config.state_dir, job.id)
        return Interrupted.FAIL

    def _expire(self, job_id: str) -> None:
        """A job its bank left idle: failed (cancelled while waiting for approval),
        its session freed. A running job with an agreed checkpoint is first kept for
        `jobs.resume_window_s` (its session freed, `job.interrupted` audited)."""
        with self._lock:
            session = self._sessions.pop(job_id, None)
        if session is not None:
            session.close()
        store = self._ctx.store
        idle = self.idle.idle_s
        try:
            job = store.get_job(job_id)
            why = f"no call from {job.counterpart} for {idle:g} s (jobs.session_idle_s)"
            if job.status in ACTIVE_JOB_STATUSES:
                state_dir = self._ctx.config.state_dir
                if (
                    job.status is JobStatus.RUNNING
                    and job_id not in self._interrupted
                    and has_agreed_checkpoint(state_dir, job_id)
                ):
                    self._interrupted.add(job_id)
                    store.append_audit(
                        "job.interrupted",
                        counterpart=job.counterpart,
                        subject=job_id,
                        detail={"reason": why, "resumable": True},
                    )
                    self.idle.give_time([job_id], self._resume_window)
                    log.warning("idle job kept for a resume", extra={"job": job_id})
                    return
                if job_id in self._interrupted:
                    why = (
                        f"not resumed within {self._resume_window:g} s"
                        " (jobs.resume_window_s)"
                    )
                self._interrupted.discard(job_id)
                delete_checkpoints(state_dir, job_id)
                store.set_job_status(job_id, JobStatus.FAILED, error=why)
            elif job.status is JobStatus.PENDING_APPROVAL:
                why += " while waiting for approval"
                store.set_job_status(job_id, JobStatus.CANCELLED, error=why)
            else:
                return
        except StoreError:  # finished meanwhile
            return
        log.warning("idle job ended", extra={"job": job_id, "idle_s": idle})

    @property
    def _resume_window(self) -> float:
        return self._ctx.config.jobs.resume_window_s

    def resume_session(
        self,
        peer: Peer,
        job_id: str,
        *,
        columns: list[str],
        rows: np.ndarray,
        validation: np.ndarray,
        fingerprint: str,
    ) -> JobSession:
        """A fresh session for an interrupted job, bound as its checkpoint says
        (any session left of it is dropped). FAILED_PRECONDITION unless the job is
        this peer's, running, and its policy and data are what the checkpoint was
        taken on; PERMISSION_DENIED if the model budget of its rows is spent."""
        try:
            job = self._ctx.store.get_job(job_id)
        except StoreError:
            raise FailedPrecondition(f"no job {job_id}") from None
        if job.counterpart != peer.party_id:
            raise FailedPrecondition(f"no job {job_id}")
        if job.kind == PSI_JOB or job.status is not JobStatus.RUNNING:
            raise FailedPrecondition(
                f"job {job_id} is {job.status.value.replace('_', ' ')}: only a running"
                " model job can resume"
            )
        proposal = JobProposal(job_id=job.id, **job.spec["proposal"])
        now_columns, kinds = self._check(peer, proposal)
        if now_columns != columns:
            raise FailedPrecondition(
                f"job {job_id}: the operator's policy offers other features than when"
                " it was checkpointed; it cannot resume"
            )
        policy = self._policy(peer)
        dataset = self._ctx.served_dataset(policy.source)
        source = self._ctx.config.data_source(policy.source)
        if data_fingerprint(source.path, dataset.report.rows_accepted) != fingerprint:
            raise FailedPrecondition(
                f"job {job_id}: the operator's data changed since the checkpoint; it"
                " cannot resume"
            )
        # As at Bind: a job whose rows have no model budget left is refused before
        # more training (its own place, if it spent one, never counts against it).
        self.budget.check(peer.party_id, job_id, rows, policy)
        session = JobSession(job.id, job.counterpart, now_columns, kinds)
        session.rows, session.validation, session.dataset = rows, validation, dataset
        session.claimed.add("binding to an alignment")
        with self._lock:
            old = self._sessions.get(job_id)
            self._sessions[job_id] = session
        if old is not None:
            old.close()
        self._interrupted.discard(job_id)
        self.idle.seen(job_id)
        return session

    def fingerprint(self, peer: Peer) -> str:
        """The fingerprint of the data this peer's jobs are served from."""
        policy = self._policy(peer)
        dataset = self._ctx.served_dataset(policy.source)
        source = self._ctx.config.data_source(policy.source)
        return data_fingerprint(source.path, dataset.report.rows_accepted)

    # ---- policy ----------------------------------------------------------------
    def _policy(self, peer: Peer) -> CounterpartPolicy:
        return self._ctx.config.counterpart(peer.party_id).policy

    def _resolve_features(
        self, peer: Peer, policy: CounterpartPolicy, requested: tuple[str, ...]
    ) -> tuple[list[str], list[FeatureKind]]:
        types = self._ctx.served_dataset(policy.source).feature_types
        # Patterns are matched against the features this counterpart may use only,
        # and every miss gets the same answer: the bank cannot probe for the names of
        # columns outside its policy.
        allowed = catalog_features(policy, types)
        chosen: list[str] = []
        for pattern in requested:
            hits = [c for c in allowed if fnmatch.fnmatchcase(c, pattern)]
            if not hits:
                raise PermissionDenied(
                    f"requested operator feature {pattern!r} is not available to"
                    f" {peer.party_id} (policy.features)"
                )
            chosen += [h for h in hits if h not in chosen]
        return chosen, [cast(FeatureKind, types[c]) for c in chosen]

    def _check_psi(self, peer: Peer, proposal: JobProposal) -> None:
        """A PSI job: its purpose, mode and number of rows against the policy."""
        policy = self._policy(peer)
        self._check_purpose(peer, policy, proposal)
        mode = proposal.psi_mode.value if proposal.psi_mode else ""
        if mode not in policy.psi_modes:
            allowed = ", ".join(policy.psi_modes) or "none"
            raise PermissionDenied(
                f"PSI mode {mode!r} is not allowed for {peer.party_id}"
                f" (policy.psi_modes: {allowed})"
            )
        if proposal.max_rows > policy.max_rows:
            raise PermissionDenied(
                f"job asks for up to {proposal.max_rows} rows, over {peer.party_id}'s"
                f" limit of {policy.max_rows} (policy.max_rows)"
            )

    def _check_purpose(
        self, peer: Peer, policy: CounterpartPolicy, proposal: JobProposal
    ) -> None:
        if proposal.purpose not in policy.purposes:
            allowed = ", ".join(policy.purposes) or "none"
            raise PermissionDenied(
                f"purpose {proposal.purpose!r} is not allowed for {peer.party_id}"
                f" (policy.purposes: {allowed})"
            )

    def _check(
        self, peer: Peer, proposal: JobProposal
    ) -> tuple[list[str], list[FeatureKind]]:
        policy = self._policy(peer)
        if proposal.model not in self._model_types:
            raise PermissionDenied(
                f"model type {proposal.model!r} is not served by"
                f" {self._ctx.party_id} (served: {', '.join(self._model_types)})"
            )
        if proposal.task == LOOKALIKE_TASK and proposal.purpose != LOOKALIKE_PURPOSE:
            raise PermissionDenied(
                f"task {LOOKALIKE_TASK!r} is a marketing use: its purpose must be"
                f" {LOOKALIKE_PURPOSE!r}, not {proposal.purpose!r}"
            )
        self._check_purpose(peer, policy, proposal)
        if proposal.max_rows > policy.max_rows:
            raise PermissionDenied(
                f"job asks for up to {proposal.max_rows} rows, over {peer.party_id}'s"
                f" limit of {policy.max_rows} (policy.max_rows)"
            )
        if proposal.batch_size < policy.min_batch_size:
            raise PermissionDenied(
                f"batch size {proposal.batch_size} is below the minimum of"
                f" {policy.min_batch_size} (policy.min_batch_size)"
            )
        return self._resolve_features(peer, policy, proposal.features)

    def _decision(
        self, job_id: str, status: JobStatus, message: str = ""
    ) -> JobDecision:
        session = self._sessions.get(job_id)
        features: tuple[OperatorFeature, ...] = ()
        if session is not None and (
            status in ACTIVE_JOB_STATUSES or status is JobStatus.SUCCEEDED
        ):
            policy = self._ctx.config.counterpart(session.counterpart).policy
            features = tuple(
                OperatorFeature(
                    i, session.display_name(i, policy.disclose_feature_names), k
                )
                for i, k in enumerate(session.kinds)
            )
        min_batch = 0
        if session is not None:
            min_batch = self._ctx.config.counterpart(
                session.counterpart
            ).policy.min_batch_size
        return JobDecision(job_id, status, message, features, min_batch)

    # ---- Jobs service ----------------------------------------------------------
    def features(self, peer: Peer, query: FeatureQuery) -> tuple[OperatorFeature, ...]:
        """What the peer's policy offers (narrowed by `query`), as a proposal would
        name it: real names or aliases by position, and kinds."""
        policy = self._policy(peer)
        if query.patterns:
            columns, kinds = self._resolve_features(peer, policy, query.patterns)
        else:
            types = self._ctx.served_dataset(policy.source).feature_types
            columns = catalog_features(policy, types)
            kinds = [cast(FeatureKind, types[c]) for c in columns]
        self._ctx.store.append_audit(
            "jobs.features_listed",
            counterpart=peer.party_id,
            detail={"patterns": len(query.patterns), "features": len(columns)},
        )
        disclose = policy.disclose_feature_names
        return tuple(
            OperatorFeature(i, c if disclose else f"f{i + 1:03d}", k)
            for i, (c, k) in enumerate(zip(columns, kinds, strict=True))
        )

    def _existing(
        self, peer: Peer, proposal: JobProposal, spec: dict[str, object]
    ) -> JobDecision | None:
        """The decision on an earlier proposal with this id (Propose is idempotent)."""
        try:
            existing = self._ctx.store.get_job(proposal.job_id)
        except StoreError:
            return None
        if (
            existing.counterpart != peer.party_id
            or existing.spec.get("proposal") != spec
        ):
            raise InvalidArgument(
                f"job id {proposal.job_id} was already proposed differently"
            )
        if existing.status in (*ACTIVE_JOB_STATUSES, JobStatus.PENDING_APPROVAL):
            self.idle.seen(existing.id)
        return self._decision(existing.id, existing.status, existing.error)

    def _counterpart_lock(self, party_id: str) -> threading.Lock:
        with self._lock:
            return self._propose_locks.setdefault(party_id, threading.Lock())

    def propose(self, peer: Peer, proposal: JobProposal) -> JobDecision:
        store = self._ctx.store
        spec: dict[str, object] = {
            "purpose": proposal.purpose,
            "features": list(proposal.features),
            "model": proposal.model,
            "max_rows": proposal.max_rows,
            "batch_size": proposal.batch_size,
            "description": proposal.description,
        }
        if proposal.psi_mode is not None:
            spec["psi_mode"] = proposal.psi_mode.value
        else:
            spec["task"] = proposal.task
        earlier = self._existing(peer, proposal, spec)
        if earlier is not None:
            return earlier
        # The policy checks load the data catalog (seconds, the first time) and
        # match every requested pattern: before any lock, so no proposal holds up
        # another bank's calls.
        refusal: PermissionDenied | InvalidArgument | None = None
        columns: list[str] = []
        kinds: list[FeatureKind] = []
        try:
            if proposal.is_psi:
                self._check_psi(peer, proposal)
            else:
                columns, kinds = self._check(peer, proposal)
        except (PermissionDenied, InvalidArgument) as exc:
            refusal = exc
        # One proposal of a counterpart at a time: its daily quota is counted
        # and charged atomically.
        with self._counterpart_lock(peer.party_id):
            earlier = self._existing(peer, proposal, spec)
            if earlier is not None:
                return earlier
            policy = self._policy(peer)
            counted = jobs_counted(self._ctx, peer.party_id, time.time())
            if counted >= policy.max_jobs_per_day:
                store.append_audit(
                    "job.refused",
                    counterpart=peer.party_id,
                    subject=proposal.job_id,
                    detail={"rule": "policy.max_jobs_per_day"},
                )
                raise PermissionDenied(
                    f"{peer.party_id} has {counted} accepted jobs in the last 24"
                    f" hours, the limit (policy.max_jobs_per_day)"
                )
            job = store.create_job(
                proposal.model, peer.party_id, {"proposal": spec}, proposal.job_id
            )
            if refusal is not None:
                store.set_job_status(job.id, JobStatus.REFUSED, error=str(refusal))
                log.info(
                    "job refused", extra={"job": job.id, "counterpart": peer.party_id}
                )
                raise refusal
            if not proposal.is_psi:
                with self._lock:
                    self._sessions[job.id] = JobSession(
                        job.id, peer.party_id, columns, kinds
                    )
            self.idle.seen(job.id)
            if policy.approval == "auto":
                store.set_job_status(
                    job.id, JobStatus.APPROVED, result={"approved_by": "policy"}
                )
                return self._decision(job.id, JobStatus.APPROVED)
            store.set_job_status(job.id, JobStatus.PENDING_APPROVAL)
            return self._decision(
                job.id,
                JobStatus.PENDING_APPROVAL,
                "waiting for the operator's approval"
                f" (operator-node jobs approve {job.id})",
            )

    def _own_job(self, peer: Peer, job_id: str) -> Job:
        try:
            job = self._ctx.store.get_job(job_id)
        except StoreError:
            raise NotFound(f"no job {job_id}") from None
        if job.counterpart != peer.party_id:
            raise NotFound(f"no job {job_id}")
        return job

    def status(self, peer: Peer, job_id: str) -> JobDecision:
        """The job's decision; also the bank runner's heartbeat while the job runs."""
        job = self._own_job(peer, job_id)
        if job.status in (*ACTIVE_JOB_STATUSES, JobStatus.PENDING_APPROVAL):
            self.idle.seen(job_id)
        if (
            job.status in ACTIVE_JOB_STATUSES
            and job_id not in self._sessions
            and job.kind != PSI_JOB
        ):
            try:
                self._restore(job)
            except FailedPrecondition:
                pass  # the job failed; its decision says why
            job = self._ctx.store.get_job(job_id)
        return self._decision(job.id, job.status, job.error)

    def _restore(self, job: Job) -> JobSession:
        """A session for a job approved from the CLI (or before a restart). A job
        that was already running loses its protocol state with the process, and with
        it the record of which once-per-job steps were taken: it fails."""
        if job.status is JobStatus.RUNNING and job.id in self._interrupted:
            raise FailedPrecondition(
                f"job {job.id} was interrupted: it continues only after a resume"
                f" (bank-node job resume {job.id})"
            )
        if job.status is JobStatus.RUNNING:
            try:
                self._ctx.store.set_job_status(
                    job.id,
                    JobStatus.FAILED,
                    error="operator restarted while the job was running",
                )
            except StoreError:
                pass  # another call failed it first
            raise FailedPrecondition(
                f"job {job.id} failed: the operator restarted while it was running"
            )
        proposal = JobProposal(job_id=job.id, **job.spec["proposal"])
        peer = Peer(job.counterpart, job.counterpart)
        columns, kinds = self._check(peer, proposal)  # outside the lock
        with self._lock:
            return self._sessions.setdefault(
                job.id, JobSession(job.id, job.counterpart, columns, kinds)
            )

    def session(self, peer: Peer, job_id: str) -> JobSession:
        """The active session of an approved job of this peer, or a clear refusal."""
        job = self._own_job(peer, job_id)
        if job.kind == PSI_JOB:
            raise FailedPrecondition(f"job {job_id} is a PSI job: it trains no model")
        if job.status not in ACTIVE_JOB_STATUSES:
            raise FailedPrecondition(
                f"job {job_id} is {job.status.value.replace('_', ' ')}, not approved"
            )
        self.idle.seen(job_id)
        session = self._sessions.get(job_id)
        return session if session is not None else self._restore(job)

    def _alignment(self, peer: Peer, binding: JobBinding) -> tuple[Alignment, Dataset]:
        """The alignment a binding names, checked against this peer and our data."""
        try:
            alignment = load_alignment(self._ctx.config.state_dir, binding.alignment_id)
        except (FileNotFoundError, ValueError):
            raise NotFound(f"no alignment {binding.alignment_id}") from None
        if alignment.counterpart != peer.party_id:
            raise NotFound(f"no alignment {binding.alignment_id}")
        if self._psi_jobs.session_of(binding.job_id) != binding.alignment_id:
            raise PermissionDenied(
                f"alignment {binding.alignment_id} was not made by job"
                f" {binding.job_id}'s own PSI session"
            )
        policy = self._policy(peer)
        dataset = self._ctx.served_dataset(policy.source)
        source = self._ctx.config.data_source(policy.source)
        if alignment.fingerprint != data_fingerprint(
            source.path, dataset.report.rows_accepted
        ):
            raise FailedPrecondition(
                f"alignment {binding.alignment_id} was made on data that has"
                " changed since; run the PSI again"
            )
        if len(alignment.local_rows) != binding.rows:
            raise InvalidArgument(
                f"JobBinding.rows: alignment has {len(alignment.local_rows)} rows,"
                f" binding says {binding.rows}"
            )
        if binding.rows > policy.max_rows:
            raise PermissionDenied(
                f"alignment has {binding.rows} rows, over the limit of"
                f" {policy.max_rows} (policy.max_rows)"
            )
        return alignment, dataset

    def _check_differencing(self, peer: Peer, job_id: str, train: np.ndarray) -> None:
        """Refuse a training set that differs from an earlier job's by only a few
        rows: two jobs' outputs on nearly equal sets would single those rows out."""
        minimum = self._policy(peer).min_batch_size
        folder = self._ctx.config.state_dir / "job_rows" / peer.party_id
        folder.mkdir(parents=True, exist_ok=True)
        for earlier in sorted(folder.glob("*.npy"))[-MAX_COMPARED_JOBS:]:
            rows = np.load(earlier, allow_pickle=False)
            differ = len(np.setxor1d(rows, train, assume_unique=True))
            if 0 < differ < minimum:
                raise PermissionDenied(
                    f"the training rows differ from job {earlier.stem}'s in only"
                    f" {differ} rows; at least {minimum} must differ"
                    " (policy.min_batch_size)"
                )
        np.save(folder / f"{job_id}.npy", np.sort(train), allow_pickle=False)

    def bind(self, peer: Peer, binding: JobBinding) -> JobDecision:
        session = self.session(peer, binding.job_id)
        session.claim("binding to an alignment")
        try:
            alignment, dataset = self._alignment(peer, binding)
            validation = binding.validation
            rows = np.asarray(alignment.local_rows, dtype=np.int64)
            self._check_differencing(peer, binding.job_id, rows[~validation])
            self.budget.check(peer.party_id, binding.job_id, rows, self._policy(peer))
        except BaseException:
            session.release("binding to an alignment")
            raise
        session.rows, session.validation, session.dataset = rows, validation, dataset
        store = self._ctx.store
        if store.get_job(binding.job_id).status is JobStatus.APPROVED:
            store.set_job_status(binding.job_id, JobStatus.RUNNING)
        store.append_audit(
            "job.bound",
            counterpart=peer.party_id,
            subject=binding.job_id,
            detail={
                "alignment_id": binding.alignment_id,
                "rows": binding.rows,
                "validation_rows": int(validation.sum()),
            },
        )
        return self._decision(binding.job_id, JobStatus.RUNNING)

    def finish(self, peer: Peer, outcome: JobOutcome) -> JobDecision:
        job = self._own_job(peer, outcome.job_id)
        status = JobStatus.SUCCEEDED if outcome.succeeded else JobStatus.FAILED
        if job.status is JobStatus.PENDING_APPROVAL and not outcome.succeeded:
            status = JobStatus.CANCELLED  # the bank stopped waiting for approval
        if job.status in (*ACTIVE_JOB_STATUSES, JobStatus.PENDING_APPROVAL):
            try:
                self._ctx.store.set_job_status(
                    job.id,
                    status,
                    result={"bank_message": outcome.message},
                    error="" if outcome.succeeded else outcome.message,
                )
            except StoreError:  # e.g. a pending job cannot succeed
                raise FailedPrecondition(
                    f"job {job.id} is {job.status.value.replace('_', ' ')}; it cannot"
                    f" become {status.value}"
                ) from None
        self.idle.forget(job.id)
        self._interrupted.discard(job.id)
        delete_checkpoints(self._ctx.config.state_dir, job.id)
        with self._lock:
            session = self._sessions.pop(job.id, None)
        if session is not None:
            session.close()
        return self._decision(job.id, status, outcome.message)


def jobs_counted(ctx: NodeContext, counterpart: str, now: float) -> int:
    """Accepted jobs of `counterpart` toward policy.max_jobs_per_day: those created
    in the last 24 hours and since the quota was last reset."""
    since = max(now - 86_400, ctx.store.quota_reset_at(counterpart))
    return sum(
        1
        for j in ctx.store.list_jobs()
        if j.counterpart == counterpart
        and "proposal" in j.spec
        and j.created_at > since
        and j.status in COUNTED_STATUSES
    )


def reset_quota(ctx: NodeContext, counterpart: str) -> str:
    """CLI action: restart the counterpart's job count and today's PSI numbers."""
    ctx.config.counterpart(counterpart)  # ConfigError naming the known ones
    now = time.time()
    jobs = jobs_counted(ctx, counterpart, now)
    budget = DailyBudget(ctx.config.state_dir)
    try:
        numbers = budget.reset(counterpart, now)
    finally:
        budget.close()
    ctx.store.reset_quota(
        counterpart, now, {"jobs_counted": jobs, "psi_numbers_today": numbers}
    )
    return (
        f"{counterpart}: quota reset ({jobs} jobs counted toward max_jobs_per_day and"
        f" {numbers} PSI numbers charged today are no longer counted)"
    )


def approve_job(ctx: NodeContext, job_id: str, approved: bool, reason: str) -> str:
    """CLI action: approve or refuse a job waiting for manual approval."""
    job = ctx.store.get_job(job_id)
    if job.status is not JobStatus.PENDING_APPROVAL:
        raise StoreError(f"job {job_id} is {job.status.value}, not pending approval")
    if approved:
        ctx.store.set_job_status(
            job_id, JobStatus.APPROVED, result={"approved_by": "operator"}
        )
        return f"job {job_id} approved"
    ctx.store.set_job_status(
        job_id, JobStatus.REFUSED, error=reason or "refused by the operator"
    )
    return f"job {job_id} refused"


def describe_job(job: Job) -> str:
    proposal = job.spec.get("proposal", {})
    return json.dumps(
        {
            "id": job.id,
            "counterpart": job.counterpart,
            "status": job.status.value,
            **proposal,
        },
        indent=2,
    )
