"""The bank's jobs whose runner process is gone: failed here and at the operator.

A job runs inside one `bank-node job run` process, recorded in the job's spec (pid and
process start time, so a reused pid is not mistaken for it). When that process was
killed (kill -9, power loss), the bank's store still says the job is active; the next
`bank-node serve` or `job run` fails it (node_core/reconcile.py) and tells the operator
with Jobs.Finish under a short deadline. If the operator is unreachable, its job desk
ends the job itself once the bank's heartbeats stop (`jobs.session_idle_s`).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import psutil

from node_core.node import NodeContext
from node_core.reconcile import Reconciled, reconcile_jobs
from node_core.store import Job
from protocol.domain import JobStatus
from protocol.errors import ProtocolError
from protocol.jobs.messages import JobOutcome
from protocol.jobs.service import JobsClient

log = logging.getLogger(__name__)

# Statuses a job holds on the bank while its runner works on it.
RUNNER_STATUSES = frozenset({JobStatus.CREATED, JobStatus.APPROVED, JobStatus.RUNNING})
RUNNER_GONE = "the bank's job runner ended without finishing the job"


def runner_identity() -> dict[str, Any]:
    """This process, as recorded in the job's spec (`runner`)."""
    return {"pid": os.getpid(), "started": psutil.Process().create_time()}


def runner_alive(job: Job) -> bool:
    """Whether the process that runs `job` still exists."""
    runner = job.spec.get("runner")
    if not isinstance(runner, dict):
        return False
    try:
        started = psutil.Process(int(runner["pid"])).create_time()
    except (psutil.Error, KeyError, TypeError, ValueError):
        return False
    return abs(started - float(runner.get("started", 0.0))) < 0.01


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
    """Fail this node's jobs whose runner is gone, on both sides."""
    done = reconcile_jobs(
        ctx.store, statuses=RUNNER_STATUSES, reason=RUNNER_GONE, alive=runner_alive
    )
    for item in done:
        unreached = tell_operator(ctx, item.job, RUNNER_GONE)
        if unreached:
            log.warning(
                "operator not told of a failed job; it ends it when idle",
                extra={"job": item.job.id, "code": unreached},
            )
    return done
