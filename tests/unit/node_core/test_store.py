"""State store: job lifecycle, append-only audit table, keyed pseudonyms (the audit
chain's tamper evidence: test_audit_chain.py)."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from node_core.store import SqliteStateStore, StoreError
from protocol.domain import JobStatus


@pytest.fixture
def store(tmp_path: Path) -> SqliteStateStore:
    return SqliteStateStore(tmp_path / "state", "bank-a")


def test_job_moves_through_lifecycle_if_transitions_allowed(
    store: SqliteStateStore,
) -> None:
    # Prepare
    job = store.create_job("psi", "operator", {"mode": "both"})
    # Execute
    for status in (JobStatus.APPROVED, JobStatus.RUNNING, JobStatus.SUCCEEDED):
        job = store.set_job_status(job.id, status, result={"rows": 3})
    # Assert
    assert job.status is JobStatus.SUCCEEDED
    assert job.result == {"rows": 3}
    actions = [e.action for e in store.audit_entries()]
    assert actions == ["job.created", "job.approved", "job.running", "job.succeeded"]


def test_set_job_status_raises_if_transition_not_allowed(
    store: SqliteStateStore,
) -> None:
    # Prepare
    job = store.create_job("psi", "operator", {})
    store.set_job_status(job.id, JobStatus.REFUSED, error="purpose not allowed")
    # Execute / Assert
    with pytest.raises(
        StoreError, match=f"job {job.id} cannot go from refused to running"
    ):
        store.set_job_status(job.id, JobStatus.RUNNING)


def test_audit_refuses_update_and_delete_if_tampered_through_sql(
    store: SqliteStateStore,
) -> None:
    # Prepare
    store.append_audit("psi.query", counterpart="operator", detail={"rows": 10})
    db = sqlite3.connect(store.path)
    # Execute / Assert
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE audit SET detail = '{}'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM audit")


def test_verify_audit_detects_edit_if_triggers_bypassed(
    store: SqliteStateStore,
) -> None:
    # Prepare
    for i in range(3):
        store.append_audit("psi.query", counterpart="operator", detail={"rows": i})
    assert store.verify_audit().intact
    db = sqlite3.connect(store.path)
    db.execute("DROP TRIGGER audit_no_update")
    # Execute
    db.execute("UPDATE audit SET detail = '{\"rows\": 99}' WHERE seq = 2")
    db.commit()
    # Assert
    verdict = store.verify_audit()
    assert verdict.first_bad_seq == 2
    assert verdict.problem == "entry 2 was altered (its keyed hash does not match)"


def test_pseudonym_is_keyed_and_stable_if_same_store(tmp_path: Path) -> None:
    # Prepare
    a = SqliteStateStore(tmp_path / "a", "bank-a")
    b = SqliteStateStore(tmp_path / "b", "bank-a")
    # Execute / Assert
    assert a.pseudonym("13800138000") == a.pseudonym("13800138000")
    assert a.pseudonym("13800138000") != b.pseudonym("13800138000")
    assert "13800138000" not in a.pseudonym("13800138000")
    mode = stat.S_IMODE((tmp_path / "a" / "pseudonym.key").stat().st_mode)
    assert mode == 0o600
