"""A PSI job: the bank proposes it, the operator approves it, one session runs in it.

The operator runs PSI only inside an approved job (operator_node/psi/policy.py): the
bank proposes a job of model "psi" with its purpose, the mode and the number of
numbers it will send; the operator checks them against its policy (purposes,
`psi_modes`, `max_rows`) and approves automatically or by hand (`operator-node jobs
approve ID`); then exactly one session of that mode and at most that size runs under
the job's id, and both parties record its end. What each party learns per mode is
stated in protocol/psi/__init__.py; the job adds only the purpose and description the
bank writes, and a success or failure word at the end (never the intersection size,
which the operator does not learn outside mode both).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc

from bank_node.psi import Progress, PsiResult, psi_session
from node_core.ingest import Dataset
from node_core.node import NodeContext
from protocol.domain import ACTIVE_JOB_STATUSES, JobStatus
from protocol.errors import PermissionDenied
from protocol.jobs.messages import PSI_JOB, JobDecision, JobOutcome, JobProposal
from protocol.jobs.service import PROTOCOL as JOBS
from protocol.jobs.service import JobsClient
from protocol.psi.messages import PsiMode
from protocol.psi.pool import PsiPool
from protocol.psi.service import PROTOCOL as PSI

APPROVAL_POLL_S = 2.0


def wait_for_approval(
    jobs: JobsClient, decision: JobDecision, say: Callable[[str], None]
) -> JobDecision:
    """Poll while the operator has the job waiting for manual approval."""
    waited = 0.0
    if decision.status is JobStatus.PENDING_APPROVAL:
        say(decision.message)
    while decision.status is JobStatus.PENDING_APPROVAL:
        time.sleep(APPROVAL_POLL_S)
        waited += APPROVAL_POLL_S
        decision = jobs.status(decision.job_id)
        if waited % 60 < APPROVAL_POLL_S:
            say(f"still waiting for the operator's approval ({waited:.0f} s)")
    if decision.status not in ACTIVE_JOB_STATUSES:
        raise PermissionDenied(
            f"the operator did not approve job {decision.job_id}: {decision.message}"
        )
    return decision


def run_psi_job(
    ctx: NodeContext,
    counterpart: str,
    dataset: Dataset,
    mode: PsiMode,
    *,
    job_id: str,
    purpose: str,
    description: str = "",
    unbalanced: bool = False,
    channel: grpc.Channel | None = None,
    progress: Progress | None = None,
    say: Callable[[str], None] = lambda message: None,
    on_approved: Callable[[], object] = lambda: None,
    pool: PsiPool | None = None,
) -> PsiResult:
    """Propose PSI job `job_id`, wait for its approval, run its one session."""
    with ctx.link(counterpart, (JOBS.capability, PSI.capability), channel) as link:
        jobs = JobsClient(link.channel, ctx.limits.deadline_s)
        proposal = JobProposal(
            job_id=job_id,
            purpose=purpose,
            features=(),
            model=PSI_JOB,
            max_rows=len(dataset.ids),
            batch_size=0,
            description=description or f"PSI, mode {mode.value}",
            psi_mode=mode,
        )
        wait_for_approval(jobs, jobs.propose(proposal), say)
        on_approved()
        try:
            result = psi_session(
                ctx, link, dataset, mode, unbalanced=unbalanced, progress=progress,
                pool=pool, job_id=job_id,
            )  # fmt: skip
        except BaseException as exc:
            try:
                jobs.finish(JobOutcome(job_id, False, type(exc).__name__))
            except Exception:  # the original error matters more
                pass
            raise
        jobs.finish(JobOutcome(job_id, True, "PSI session finished"))
    return result
