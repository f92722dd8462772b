"""Embedded per-node state store (SQLite): jobs with a status lifecycle, and an
append-only, keyed hash chain of audit entries with a signed head.

The audit table refuses UPDATE and DELETE (triggers); behind the store's back,
`verify_audit()` detects edits, insertions, deletions, reordering, re-chaining and
truncation (node_core/audit_chain.py says exactly what it detects and what it cannot).
Appends refuse to continue a chain whose signed head names more entries than the
chain has, so the next entry never covers up a truncation. Identifiers never enter the
store in clear: callers pass `pseudonym(value)`, a keyed HMAC under a secret that never
leaves the node's state directory.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from node_core.audit_chain import (
    GENESIS_HASH,
    AuditKeyMissing,
    AuditKeys,
    ChainHead,
    HeadFile,
    entry_fields,
)
from protocol.domain import JobStatus
from protocol.ids import new_hex_id

S = JobStatus
# Allowed status transitions. Terminal states have no successors.
JOB_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    S.CREATED: frozenset(
        {S.PENDING_APPROVAL, S.APPROVED, S.RUNNING, S.REFUSED, S.FAILED, S.CANCELLED}
    ),
    S.PENDING_APPROVAL: frozenset({S.APPROVED, S.REFUSED, S.CANCELLED}),
    S.APPROVED: frozenset({S.RUNNING, S.CANCELLED, S.FAILED}),
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.REFUSED: frozenset(),
    S.CANCELLED: frozenset(),
}


class StoreError(RuntimeError):
    pass


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    counterpart: str
    status: JobStatus
    spec: dict[str, Any]
    result: dict[str, Any]
    error: str
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    ts: float
    actor: str
    counterpart: str
    action: str
    subject: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditVerdict:
    """The outcome of verify_audit: intact, or the first problem found."""

    entries: int
    head_seq: int | None  # seq named by the signed head, None if there is none
    problem: str = ""  # empty when intact
    first_bad_seq: int | None = None  # the first entry that fails, if one does

    @property
    def intact(self) -> bool:
        return not self.problem


class StateStore(Protocol):
    """What node code may ask of its state store."""

    def create_job(
        self, kind: str, counterpart: str, spec: Mapping[str, Any], job_id: str | None
    ) -> Job: ...
    def get_job(self, job_id: str) -> Job: ...
    def list_jobs(self, status: JobStatus | None = None) -> list[Job]: ...
    def set_job_status(
        self,
        job_id: str,
        status: JobStatus,
        *,
        result: Mapping[str, Any] | None = None,
        error: str = "",
    ) -> Job: ...
    def append_audit(
        self,
        action: str,
        *,
        counterpart: str = "",
        subject: str = "",
        detail: Mapping[str, Any] | None = None,
    ) -> AuditEntry: ...
    def audit_entries(self) -> list[AuditEntry]: ...
    def verify_audit(self) -> AuditVerdict: ...
    def quota_reset_at(self, counterpart: str) -> float: ...
    def reset_quota(
        self, counterpart: str, now: float, detail: Mapping[str, Any]
    ) -> AuditEntry: ...
    def pseudonym(self, value: str) -> str: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    counterpart TEXT NOT NULL,
    status TEXT NOT NULL,
    spec TEXT NOT NULL,
    result TEXT NOT NULL DEFAULT '{}',
    error TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    actor TEXT NOT NULL,
    counterpart TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quota_resets (
    counterpart TEXT PRIMARY KEY,
    reset_at REAL NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
"""


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


class SqliteStateStore:
    """StateStore on one SQLite file (WAL) under the node's state directory."""

    def __init__(self, state_dir: Path, party_id: str) -> None:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.party_id = party_id
        self.path = state_dir / "state.sqlite3"
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=30
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(_SCHEMA)
        key_path = state_dir / "pseudonym.key"
        if not key_path.exists():
            _write_secret(key_path, secrets.token_bytes(32))
        self._pseudonym_key = key_path.read_bytes()
        self._heads = HeadFile(state_dir)
        self._keys = self._audit_keys(state_dir)
        self._pending_head: tuple[int, str] | None = None
        self._verified_head = ""  # JSON of the last head whose signature checked out

    def _audit_keys(self, state_dir: Path) -> AuditKeys | None:
        """The audit keys; a new chain (key and signed genesis head) only for an empty
        audit table without a head. Otherwise a missing key stays missing: appends are
        refused and verify reports it, rather than starting a chain that hides it."""
        try:
            return AuditKeys.load(state_dir)
        except AuditKeyMissing:
            pass
        (count,) = self._db.execute("SELECT COUNT(*) FROM audit").fetchone()
        if count or self._heads.path.exists():
            return None
        try:
            keys = AuditKeys.create(state_dir)
        except FileExistsError:  # another process created it just now
            return AuditKeys.load(state_dir)
        self._heads.advance(keys.sign_head(self.party_id, 0, GENESIS_HASH))
        return keys

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._pending_head = None
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            if self._pending_head is not None and self._keys is not None:
                seq, digest = self._pending_head
                self._pending_head = None
                self._heads.advance(self._keys.sign_head(self.party_id, seq, digest))

    # ---- jobs ------------------------------------------------------------------
    def create_job(
        self,
        kind: str,
        counterpart: str,
        spec: Mapping[str, Any],
        job_id: str | None = None,
    ) -> Job:
        job_id = job_id or new_hex_id()
        now = time.time()
        with self._tx() as db:
            try:
                db.execute(
                    "INSERT INTO jobs (id, kind, counterpart, status, spec, created_at,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (job_id, kind, counterpart, JobStatus.CREATED.value,
                     json.dumps(dict(spec)), now, now),
                )  # fmt: skip
            except sqlite3.IntegrityError:
                raise StoreError(f"job {job_id} already exists") from None
            self._append(db, "job.created", counterpart, job_id, {"kind": kind})
        return self.get_job(job_id)

    def get_job(self, job_id: str) -> Job:
        with self._lock:
            row = self._db.execute(
                "SELECT id, kind, counterpart, status, spec, result, error, created_at,"
                " updated_at FROM jobs WHERE id = ?",
                (job_id,),
            ).fetchone()
        if row is None:
            raise StoreError(f"no job {job_id}")
        return Job(
            id=row[0], kind=row[1], counterpart=row[2], status=JobStatus(row[3]),
            spec=json.loads(row[4]), result=json.loads(row[5]), error=row[6],
            created_at=row[7], updated_at=row[8],
        )  # fmt: skip

    def list_jobs(self, status: JobStatus | None = None) -> list[Job]:
        query = "SELECT id FROM jobs"
        args: tuple[Any, ...] = ()
        if status is not None:
            query, args = query + " WHERE status = ?", (JobStatus(status).value,)
        with self._lock:
            ids = [r[0] for r in self._db.execute(query + " ORDER BY created_at", args)]
        return [self.get_job(i) for i in ids]

    def set_job_status(
        self,
        job_id: str,
        status: JobStatus,
        *,
        result: Mapping[str, Any] | None = None,
        error: str = "",
    ) -> Job:
        try:
            status = JobStatus(status)
        except ValueError:
            raise StoreError(f"unknown job status {status!r}") from None
        with self._tx() as db:
            row = db.execute(
                "SELECT status, counterpart FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if row is None:
                raise StoreError(f"no job {job_id}")
            current, counterpart = JobStatus(row[0]), row[1]
            if status not in JOB_TRANSITIONS[current]:
                raise StoreError(f"job {job_id} cannot go from {current} to {status}")
            db.execute(
                "UPDATE jobs SET status = ?, result = ?, error = ?, updated_at = ?"
                " WHERE id = ?",
                (
                    status.value,
                    json.dumps(dict(result or {})),
                    error,
                    time.time(),
                    job_id,
                ),
            )
            detail = {"from": current.value, "to": status.value}
            if error:
                detail["error"] = error
            self._append(db, f"job.{status.value}", counterpart, job_id, detail)
        return self.get_job(job_id)

    # ---- audit -----------------------------------------------------------------
    def _append(
        self,
        db: sqlite3.Connection,
        action: str,
        counterpart: str,
        subject: str,
        detail: Mapping[str, Any],
    ) -> AuditEntry:
        keys = self._keys
        if keys is None:
            raise StoreError(
                f"{self.path.parent}: the audit chain has no key (deleted, or the"
                " state predates the keyed chain); nothing more is recorded. Run"
                " `audit verify`"
            )
        last = db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        row = last.fetchone()
        seq, prev_hash = (row[0] + 1, row[1]) if row else (1, GENESIS_HASH)
        problem = self._head_problem(db, keys, seq - 1)
        if problem:
            raise StoreError(
                f"{self.path.parent}: audit chain tampered: {problem}; nothing more is"
                " recorded. Run `audit verify`"
            )
        ts = time.time()
        payload = dict(detail)
        fields = entry_fields(
            seq, ts, self.party_id, counterpart, action, subject, payload
        )
        digest = keys.entry_hash(prev_hash, fields)
        db.execute(
            "INSERT INTO audit (seq, ts, actor, counterpart, action, subject, detail,"
            " prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                ts,
                self.party_id,
                counterpart,
                action,
                subject,
                json.dumps(payload, sort_keys=True),
                prev_hash,
                digest,
            ),
        )
        self._pending_head = (seq, digest)
        return AuditEntry(
            seq=seq, ts=ts, actor=self.party_id, counterpart=counterpart,
            action=action, subject=subject, detail=payload, prev_hash=prev_hash,
            hash=digest,
        )  # fmt: skip

    def append_audit(
        self,
        action: str,
        *,
        counterpart: str = "",
        subject: str = "",
        detail: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        with self._tx() as db:
            return self._append(db, action, counterpart, subject, detail or {})

    def audit_entries(self) -> list[AuditEntry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, ts, actor, counterpart, action, subject, detail,"
                " prev_hash, hash FROM audit ORDER BY seq"
            ).fetchall()
        return [
            AuditEntry(
                seq=r[0],
                ts=r[1],
                actor=r[2],
                counterpart=r[3],
                action=r[4],
                subject=r[5],
                detail=json.loads(r[6]),
                prev_hash=r[7],
                hash=r[8],
            )  # fmt: skip
            for r in rows
        ]

    def _head_problem(
        self, db: sqlite3.Connection, keys: AuditKeys, last_seq: int
    ) -> str:
        """Why the signed head does not fit a chain ending at `last_seq` ("" if it
        does): missing, unreadable, not ours, or naming an entry that is gone."""
        try:
            text = self._heads.path.read_text()
            head = ChainHead.from_json(text)
        except FileNotFoundError:
            return f"the signed head {self._heads.path.name} is missing"
        except (KeyError, TypeError, ValueError):
            return f"the signed head {self._heads.path.name} is unreadable"
        if text != self._verified_head:
            if head.party_id != self.party_id or head.public_key != keys.public_key:
                return "the signed head is another node's or under another key"
            if not head.signature_valid():
                return "the signed head's signature does not verify"
            self._verified_head = text
        if head.seq > last_seq:
            return (
                f"the signed head names entry {head.seq}, the chain ends at"
                f" {last_seq} (entries were deleted)"
            )
        if head.seq == 0:
            expected = GENESIS_HASH
        else:
            found = db.execute(
                "SELECT hash FROM audit WHERE seq = ?", (head.seq,)
            ).fetchone()
            expected = found[0] if found else ""
        if expected != head.hash:
            return f"entry {head.seq} differs from the one the signed head names"
        return ""

    def verify_audit(self) -> AuditVerdict:
        """Check every entry's key-dependent hash and link, then the signed head."""
        entries = self.audit_entries()
        head: ChainHead | None = None
        try:
            head = self._heads.read()
        except ValueError:
            pass
        head_seq = head.seq if head is not None else None

        def broken(problem: str, first_bad: int | None = None) -> AuditVerdict:
            return AuditVerdict(len(entries), head_seq, problem, first_bad)

        keys = self._keys
        if keys is None:
            return broken(
                "the audit key is missing (deleted, or the state predates the keyed"
                " chain): no entry can be checked"
            )
        prev_hash = GENESIS_HASH
        for expected_seq, entry in enumerate(entries, start=1):
            fields = entry_fields(
                entry.seq, entry.ts, entry.actor, entry.counterpart, entry.action,
                entry.subject, entry.detail,
            )  # fmt: skip
            if entry.seq != expected_seq:
                return broken(
                    f"entry {expected_seq} is missing or out of order", expected_seq
                )
            if entry.prev_hash != prev_hash:
                return broken(
                    f"entry {entry.seq} does not link to its predecessor", entry.seq
                )
            if keys.entry_hash(prev_hash, fields) != entry.hash:
                return broken(
                    f"entry {entry.seq} was altered (its keyed hash does not match)",
                    entry.seq,
                )
            prev_hash = entry.hash
        with self._lock:
            self._verified_head = ""  # verify the signature again, from the file
            problem = self._head_problem(self._db, keys, len(entries))
        return broken(problem) if problem else AuditVerdict(len(entries), head_seq)

    def chain_head(self) -> ChainHead | None:
        """The signed head as stored (for `audit head` and, later, the counterpart)."""
        try:
            return self._heads.read()
        except ValueError:
            return None

    # ---- quotas ----------------------------------------------------------------
    def quota_reset_at(self, counterpart: str) -> float:
        """When an administrator last reset the counterpart's quota (0 = never)."""
        with self._lock:
            row = self._db.execute(
                "SELECT reset_at FROM quota_resets WHERE counterpart = ?",
                (counterpart,),
            ).fetchone()
        return float(row[0]) if row else 0.0

    def reset_quota(
        self, counterpart: str, now: float, detail: Mapping[str, Any]
    ) -> AuditEntry:
        """Record a quota reset and its audit entry in one transaction."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO quota_resets (counterpart, reset_at) VALUES (?, ?)"
                " ON CONFLICT (counterpart) DO UPDATE SET reset_at = excluded.reset_at",
                (counterpart, now),
            )
            return self._append(db, "quota.reset", counterpart, "", detail)

    def pseudonym(self, value: str) -> str:
        """Keyed pseudonym of an identifier, for audit entries and quotas."""
        return hmac.new(
            self._pseudonym_key, value.encode(), hashlib.sha256
        ).hexdigest()[:32]
