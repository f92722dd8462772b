"""Reconciling jobs left active by a process that is gone: failed with the reason, or
left for a resume with an audit entry; live and finished jobs are untouched."""

from __future__ import annotations

from pathlib import Path

from node_core.reconcile import Interrupted, reconcile_jobs
from node_core.store import SqliteStateStore
from protocol.domain import JobStatus


def _store(tmp_path: Path) -> SqliteStateStore:
    store = SqliteStateStore(tmp_path, "operator")
    for job_id, statuses in {
        "aaaa0000aaaa0000": (JobStatus.APPROVED, JobStatus.RUNNING),
        "bbbb0000bbbb0000": (JobStatus.APPROVED, JobStatus.RUNNING),
        "cccc0000cccc0000": (JobStatus.APPROVED,),
        "dddd0000dddd0000": (JobStatus.APPROVED, JobStatus.RUNNING,
                             JobStatus.SUCCEEDED),
    }.items():  # fmt: skip
        store.create_job("hetero_lr", "bank-a", {}, job_id)
        for status in statuses:
            store.set_job_status(job_id, status)
    return store


def test_reconcile_fails_jobs_in_the_given_statuses_if_their_process_is_gone(
    tmp_path: Path,
) -> None:
    # Prepare
    store = _store(tmp_path)
    # Execute
    done = reconcile_jobs(
        store,
        statuses={JobStatus.RUNNING},
        reason="the process died",
        alive=lambda job: job.id == "bbbb0000bbbb0000",
    )
    # Assert
    assert [(r.job.id, r.outcome) for r in done] == [
        ("aaaa0000aaaa0000", Interrupted.FAIL)
    ]
    statuses = {j.id: (j.status, j.error) for j in store.list_jobs()}
    assert statuses["aaaa0000aaaa0000"] == (JobStatus.FAILED, "the process died")
    assert statuses["bbbb0000bbbb0000"] == (JobStatus.RUNNING, "")
    assert statuses["cccc0000cccc0000"] == (JobStatus.APPROVED, "")
    assert statuses["dddd0000dddd0000"] == (JobStatus.SUCCEEDED, "")


def test_reconcile_leaves_a_job_with_an_audit_entry_if_it_is_resumable(
    tmp_path: Path,
) -> None:
    # Prepare
    store = _store(tmp_path)
    # Execute
    done = reconcile_jobs(
        store,
        statuses={JobStatus.RUNNING},
        reason="the process died",
        decide=lambda job: Interrupted.RESUMABLE,
    )
    # Assert
    assert {r.outcome for r in done} == {Interrupted.RESUMABLE}
    assert store.get_job("aaaa0000aaaa0000").status is JobStatus.RUNNING
    interrupted = [e for e in store.audit_entries() if e.action == "job.interrupted"]
    assert [(e.subject, e.detail) for e in interrupted] == [
        (job_id, {"reason": "the process died", "resumable": True})
        for job_id in ("aaaa0000aaaa0000", "bbbb0000bbbb0000")
    ]
