"""The bank's jobs whose runner process is gone: failed here and at the operator.

A job runs inside one `bank-node job run` process, recorded in the job's spec (pid and
process start time, so a reused pid is not mistaken for it). When that process was
killed (kill -9, power loss), the bank's store still says the job is active; the next
`bank-node serve` or `job run` fails it (node_core/reconcile.py) and tells the operator
with Jobs.Finish under a short deadline. If the operator is unreachable, its job desk
ends the job itself once the bank's heartbeats stop (`jobs.session_idle_s`).
A running job with an epoch checkpoint both parties agreed on is not failed but left
running, resumable (`job.interrupted` in the audit), for `bank-node job resume`; the
operator keeps it for `jobs.resume_window_s`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import psutil

from node_core.checkpoint import (
    CheckpointError,
    JobCheckpoints,
    delete_checkpoints,
    has_agreed_checkpoint,
)
from node_core.node import NodeContext
from node_core.reconcile import Interrupted, Reconciled, reconcile_jobs
from node_core.store import Job
from protocol.domain import JobStatus
from protocol.errors import ProtocolError
from protocol.jobs.messages import JobOutcome
from protocol.jobs.service import JobsClient

log = logging.getLogger(__name__)

# Statuses a job holds on the bank while its runner works on it.
RUNNER_STATUSES = frozenset({JobStatus.CREATED, JobStatus.APPROVED, JobStatus.RUNNING})
RUNNER_GONE = "the bank's job runner ended without finishing the job"
RESUMED_BY = "resumed_by"  # the runner of a resumed job, in its checkpoint folder


def runner_identity() -> dict[str, Any]:
    """This process, as recorded in the job's spec (`runner`)."""
    return {"pid": os.getpid(), "started": psutil.Process().create_time()}


def _alive(runner: Any) -> bool:
    if not isinstance(runner, dict):
        return False
    try:
        started = psutil.Process(int(runner["pid"])).create_time()
    except (psutil.Error, KeyError, TypeError, ValueError):
        return False
    return abs(started - float(runner.get("started", 0.0))) < 0.01


def write_runner(state_dir: Path, job_id: str) -> None:
    """Record this process as the runner of a resumed job (next to its
    checkpoints; the job's spec names the runner that created it)."""
    JobCheckpoints(state_dir, job_id).write_extra(RESUMED_BY, runner_identity())


def runner_alive(job: Job, state_dir: Path | None = None) -> bool:
    """Whether the process that runs `job` (or resumed it) still exists."""
    if _alive(job.spec.get("runner")):
        return True
    if state_dir is None:
        return False
    try:
        resumed = JobCheckpoints(state_dir, job.id).read_extra(RESUMED_BY)
    except CheckpointError:
        return False
    return _alive(resumed)


def tell_operator(ctx: NodeContext, job: Job, message: str) -> str:
    """Report the job failed to its counterpart (Jobs.Finish, short deadline); returns
    "" or why the operator could not be told."""
    try:
        with ctx.channel(job.counterpart) as channel:
            JobsClient(channel, ctx.config.jobs.finish_deadline_s).finish(
                JobOutcome(job.id, False, message[:1000])
            )
    except (ProtocolError, ValueError) as exc:
        return getattr(exc, "code", type(exc).__name__)
    return ""


def reconcile_bank_jobs(ctx: NodeContext) -> list[Reconciled]:
    """Fail this node's jobs whose runner is gone, on both sides; a running job with
    a checkpoint both parties agreed on stays running, resumable (audited)."""
    state_dir = ctx.config.state_dir

    def decide(job: Job) -> Interrupted:
        if job.status is JobStatus.RUNNING and has_agreed_checkpoint(state_dir, job.id):
            return Interrupted.RESUMABLE
        delete_checkpoints(state_dir, job.id)
        return Interrupted.FAIL

    done = reconcile_jobs(
        ctx.store,
        statuses=RUNNER_STATUSES,
        reason=RUNNER_GONE,
        alive=lambda job: runner_alive(job, state_dir),
        decide=decide,
    )
    for item in done:
        if item.outcome is Interrupted.RESUMABLE:
            continue
        unreached = tell_operator(ctx, item.job, RUNNER_GONE)
        if unreached:
            log.warning(
                "operator not told of a failed job; it ends it when idle",
                extra={"job": item.job.id, "code": unreached},
            )
    return done
