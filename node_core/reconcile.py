"""Jobs left active by a process that is gone: failed, or kept for a resume.

A job's protocol state lives in the memory of the processes running it (the bank's
`job run`, the operator's job session). When one of them dies (kill -9, power loss,
SIGTERM of the operator), the store still says `running` (or `approved`, `created`).
Each node reconciles its store when it starts, and the operator again when it stops:
every active job whose process is gone is decided by `decide`:

- FAIL: status failed, with the reason (both parties' audit chains record it);
- RESUMABLE: left as it is, with a `job.interrupted` audit entry, for a later
  `job resume` that restores its checkpoint (not built yet: nothing is resumable today,
  so `decide` defaults to FAIL for every job).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass

from node_core.store import Job, StateStore, StoreError
from protocol.domain import JobStatus

log = logging.getLogger(__name__)


class Interrupted(enum.Enum):
    """What becomes of an active job whose process is gone."""

    FAIL = "fail"
    RESUMABLE = "resumable"


def never_resumable(job: Job) -> Interrupted:
    return Interrupted.FAIL


@dataclass(frozen=True)
class Reconciled:
    job: Job
    outcome: Interrupted


def reconcile_jobs(
    store: StateStore,
    *,
    statuses: Collection[JobStatus],
    reason: str,
    alive: Callable[[Job], bool] = lambda job: False,
    decide: Callable[[Job], Interrupted] = never_resumable,
) -> list[Reconciled]:
    """Fail (or mark resumable) every job in `statuses` that is not `alive`."""
    done = []
    jobs = [job for status in statuses for job in store.list_jobs(status)]
    for job in sorted(jobs, key=lambda j: j.created_at):
        if alive(job):
            continue
        outcome = decide(job)
        try:
            if outcome is Interrupted.FAIL:
                job = store.set_job_status(job.id, JobStatus.FAILED, error=reason)
            else:
                store.append_audit(
                    "job.interrupted",
                    counterpart=job.counterpart,
                    subject=job.id,
                    detail={"reason": reason, "resumable": True},
                )
        except StoreError:  # changed meanwhile (another process finished it)
            continue
        log.warning(
            "job reconciled",
            extra={"job": job.id, "outcome": outcome.value, "reason": reason},
        )
        done.append(Reconciled(job, outcome))
    return done
