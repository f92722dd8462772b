"""The operator's job desk: per-counterpart policy, approval, and job sessions.

Every joint job passes here before any data moves. A proposal is checked against the
counterpart's policy (purpose, model type served, requested features, row bound,
minimum batch size); a refusal names the rule. Approved jobs get a JobSession
(job_session.py) that later services (binning, each model type's passive role) look up
with `session(peer, job_id)`, which refuses unknown jobs, other counterparts' jobs and
jobs not (yet) approved.
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

from node_core.config import CounterpartPolicy
from node_core.ingest import Dataset
from node_core.node import NodeContext
from node_core.store import Job, StoreError
from operator_node.job_session import JobSession
from protocol.domain import ACTIVE_JOB_STATUSES, JobStatus, Peer
from protocol.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from protocol.jobs.messages import (
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
        self._lock = threading.Lock()
        self._sessions: dict[str, JobSession] = {}

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

    def _check(
        self, peer: Peer, proposal: JobProposal
    ) -> tuple[list[str], list[FeatureKind]]:
        policy = self._policy(peer)
        if proposal.model not in self._model_types:
            raise PermissionDenied(
                f"model type {proposal.model!r} is not served by"
                f" {self._ctx.party_id} (served: {', '.join(self._model_types)})"
            )
        if proposal.purpose not in policy.purposes:
            allowed = ", ".join(policy.purposes) or "none"
            raise PermissionDenied(
                f"purpose {proposal.purpose!r} is not allowed for {peer.party_id}"
                f" (policy.purposes: {allowed})"
            )
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

    def propose(self, peer: Peer, proposal: JobProposal) -> JobDecision:
        store = self._ctx.store
        spec = {
            "purpose": proposal.purpose,
            "features": list(proposal.features),
            "model": proposal.model,
            "max_rows": proposal.max_rows,
            "batch_size": proposal.batch_size,
            "description": proposal.description,
        }
        with self._lock:
            try:
                existing = store.get_job(proposal.job_id)
            except StoreError:
                existing = None
            if existing is not None:
                if (
                    existing.counterpart != peer.party_id
                    or existing.spec.get("proposal") != spec
                ):
                    raise InvalidArgument(
                        f"job id {proposal.job_id} was already proposed differently"
                    )
                return self._decision(existing.id, existing.status, existing.error)
            policy = self._policy(peer)
            day_ago = time.time() - 86_400
            recent = [
                j for j in store.list_jobs()
                if j.counterpart == peer.party_id and "proposal" in j.spec
                and j.created_at > day_ago
            ]  # fmt: skip
            if len(recent) >= policy.max_jobs_per_day:
                store.append_audit(
                    "job.refused",
                    counterpart=peer.party_id,
                    subject=proposal.job_id,
                    detail={"rule": "policy.max_jobs_per_day"},
                )
                raise PermissionDenied(
                    f"{peer.party_id} has proposed {len(recent)} jobs in the last 24"
                    f" hours, the limit (policy.max_jobs_per_day)"
                )
            job = store.create_job(
                proposal.model, peer.party_id, {"proposal": spec}, proposal.job_id
            )
            try:
                columns, kinds = self._check(peer, proposal)
            except (PermissionDenied, InvalidArgument) as exc:
                store.set_job_status(job.id, JobStatus.REFUSED, error=str(exc))
                log.info(
                    "job refused", extra={"job": job.id, "counterpart": peer.party_id}
                )
                raise
            self._sessions[job.id] = JobSession(job.id, peer.party_id, columns, kinds)
            policy = self._policy(peer)
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
        job = self._own_job(peer, job_id)
        if job.status in ACTIVE_JOB_STATUSES and job_id not in self._sessions:
            with self._lock:
                self._restore(job)
            job = self._ctx.store.get_job(job_id)
        return self._decision(job.id, job.status, job.error)

    def _restore(self, job: Job) -> None:
        """A session for a job approved from the CLI (or before a restart). A job
        that was already running loses its protocol state with the process, and with
        it the record of which once-per-job steps were taken: it fails."""
        if job.id in self._sessions:
            return
        if job.status is JobStatus.RUNNING:
            self._ctx.store.set_job_status(
                job.id,
                JobStatus.FAILED,
                error="operator restarted while the job was running",
            )
            raise FailedPrecondition(
                f"job {job.id} failed: the operator restarted while it was running"
            )
        proposal = JobProposal(job_id=job.id, **job.spec["proposal"])
        peer = Peer(job.counterpart, job.counterpart)
        columns, kinds = self._check(peer, proposal)
        self._sessions[job.id] = JobSession(job.id, job.counterpart, columns, kinds)

    def session(self, peer: Peer, job_id: str) -> JobSession:
        """The active session of an approved job of this peer, or a clear refusal."""
        job = self._own_job(peer, job_id)
        if job.status not in ACTIVE_JOB_STATUSES:
            raise FailedPrecondition(
                f"job {job_id} is {job.status.value.replace('_', ' ')}, not approved"
            )
        with self._lock:
            if job_id not in self._sessions:
                self._restore(job)
            return self._sessions[job_id]

    def _alignment(self, peer: Peer, binding: JobBinding) -> tuple[Alignment, Dataset]:
        """The alignment a binding names, checked against this peer and our data."""
        try:
            alignment = load_alignment(self._ctx.config.state_dir, binding.alignment_id)
        except (FileNotFoundError, ValueError):
            raise NotFound(f"no alignment {binding.alignment_id}") from None
        if alignment.counterpart != peer.party_id:
            raise NotFound(f"no alignment {binding.alignment_id}")
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
        if job.status in ACTIVE_JOB_STATUSES:
            self._ctx.store.set_job_status(
                job.id, status, result={"bank_message": outcome.message}
            )
        with self._lock:
            session = self._sessions.pop(job.id, None)
        if session is not None:
            session.close()
        return self._decision(job.id, status, outcome.message)


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
