"""One PSI session per approved job, recorded where a restart cannot forget it.

At Open, the session claims its job (sessions.py, after every other check); a job that
already has a session is refused, so an approval buys exactly one set of answers. A
model job's binding later names the alignment of *its own* session (job_desk.py), so
an alignment from another job cannot be reused. Kept in the PSI usage database
(`psi_usage.sqlite3`, table psi_job_sessions).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS psi_job_sessions (
    job_id TEXT PRIMARY KEY,
    counterpart TEXT NOT NULL,
    session_id TEXT NOT NULL,
    mode TEXT NOT NULL,
    opened_at REAL NOT NULL
);
"""


class PsiJobSessions:
    """Which session each job opened (at most one)."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            state_dir / "psi_usage.sqlite3",
            check_same_thread=False,
            isolation_level=None,
            timeout=30,
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def session_of(self, job_id: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT session_id FROM psi_job_sessions WHERE job_id = ?", (job_id,)
            ).fetchone()
        return str(row[0]) if row else None

    def claim(self, job_id: str, counterpart: str, session_id: str, mode: str) -> bool:
        """Record the job's session; False if the job already has one."""
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO psi_job_sessions (job_id, counterpart, session_id,"
                    " mode, opened_at) VALUES (?, ?, ?, ?, ?)",
                    (job_id, counterpart, session_id, mode, time.time()),
                )
            except sqlite3.IntegrityError:
                return False
        return True

    def close(self) -> None:
        with self._lock:
            self._db.close()
