"""The operator's consent book: revocations pushed by each bank, and the uses of each
consent id (replay protection), in the node's SQLite file.

A consent id is bound, on its first use, to the keyed pseudonym of its number and to
its purpose; a later query with the same id for another number or purpose is refused
(REPLAYED), and so is any query past the proof's `max_uses` (USED_UP). A bank's
revocation (`bank-node consent revoke`, pushed over Scoring.Revoke) is recorded here
before the call returns, so it takes effect on the next query. Numbers never enter the
book in clear: only `store.pseudonym(number)`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable

from node_core.store import SqliteStateStore
from protocol.scoring.consent import (
    REPLAYED,
    REVOKED,
    USED_UP,
    ConsentRecord,
    ConsentRefused,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS consent_revocations (
    counterpart TEXT NOT NULL,
    consent_id TEXT NOT NULL,
    revoked_at REAL NOT NULL,
    PRIMARY KEY (counterpart, consent_id)
);
CREATE TABLE IF NOT EXISTS consent_uses (
    counterpart TEXT NOT NULL,
    consent_id TEXT NOT NULL,
    person TEXT NOT NULL,
    purpose TEXT NOT NULL,
    uses INTEGER NOT NULL,
    PRIMARY KEY (counterpart, consent_id)
);
"""


class ConsentBook:
    def __init__(self, store: SqliteStateStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            store.path, check_same_thread=False, isolation_level=None, timeout=30
        )
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(_SCHEMA)

    def revoke(self, counterpart: str, consent_id: str, now: float) -> bool:
        """Record a revocation (idempotent); True if the id had been used here."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO consent_revocations VALUES (?, ?, ?)",
                (counterpart, consent_id, now),
            )
            used = self._db.execute(
                "SELECT 1 FROM consent_uses WHERE counterpart = ? AND consent_id = ?",
                (counterpart, consent_id),
            ).fetchone()
        self._store.append_audit(
            "consent.revoked", counterpart=counterpart, subject=consent_id
        )
        return used is not None

    def use(
        self,
        counterpart: str,
        record: ConsentRecord,
        then: Callable[[], None] = lambda: None,
    ) -> int:
        """Check revocation and replay and count one use (atomically); returns the
        uses so far. `then` runs inside the same lock, after the checks, before the
        use is counted (a quota check that must not consume a use when it fails)."""
        person = self._store.pseudonym(record.phone)
        key = (counterpart, record.consent_id)
        with self._lock:
            revoked = self._db.execute(
                "SELECT 1 FROM consent_revocations"
                " WHERE counterpart = ? AND consent_id = ?",
                key,
            ).fetchone()
            if revoked:
                raise ConsentRefused(REVOKED)
            row = self._db.execute(
                "SELECT person, purpose, uses FROM consent_uses"
                " WHERE counterpart = ? AND consent_id = ?",
                key,
            ).fetchone()
            if row is not None and (row[0], row[1]) != (person, record.purpose):
                raise ConsentRefused(REPLAYED)
            uses = 0 if row is None else int(row[2])
            if uses >= record.max_uses:
                raise ConsentRefused(USED_UP, f"{record.max_uses} uses")
            then()
            self._db.execute(
                "INSERT INTO consent_uses VALUES (?, ?, ?, ?, 1)"
                " ON CONFLICT (counterpart, consent_id) DO UPDATE SET uses = uses + 1",
                (*key, person, record.purpose),
            )
        return uses + 1
