"""Per-counterpart daily PSI budget, counted in the operator's state directory.

The operator sees only blinded values under fresh scalars, so it cannot count the
*distinct* numbers a bank queries. It counts what it can soundly: the sum of the set
sizes a counterpart announces per UTC day, an upper bound on the distinct numbers it
queried. The charge is made at Open, before any data moves, and is never refunded (a
session that fails half way may already have taught the bank something).

Kept in its own SQLite file (`psi_usage.sqlite3`) so the node's state store keeps its
small interface; refusals are written to the audit chain by the caller.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS psi_usage (
    counterpart TEXT NOT NULL,
    day TEXT NOT NULL,
    numbers INTEGER NOT NULL,
    PRIMARY KEY (counterpart, day)
);
"""


def utc_day(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Charge:
    granted: bool
    used_before: int  # numbers already charged today, before this request
    day: str


class DailyBudget:
    """Atomic check-and-charge of a counterpart's numbers per UTC day."""

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

    def charge(self, counterpart: str, amount: int, limit: int, now: float) -> Charge:
        """Add `amount` to today's total unless that would pass `limit`."""
        day = utc_day(now)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT numbers FROM psi_usage WHERE counterpart = ? AND day = ?",
                    (counterpart, day),
                ).fetchone()
                used = int(row[0]) if row else 0
                granted = used + amount <= limit
                if granted:
                    self._db.execute(
                        "INSERT INTO psi_usage (counterpart, day, numbers)"
                        " VALUES (?, ?, ?) ON CONFLICT (counterpart, day)"
                        " DO UPDATE SET numbers = numbers + excluded.numbers",
                        (counterpart, day, amount),
                    )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return Charge(granted, used, day)

    def reset(self, counterpart: str, now: float) -> int:
        """Forget today's charges of `counterpart` (an administrator's reset);
        returns the numbers that were charged."""
        day = utc_day(now)
        with self._lock:
            row = self._db.execute(
                "SELECT numbers FROM psi_usage WHERE counterpart = ? AND day = ?",
                (counterpart, day),
            ).fetchone()
            self._db.execute(
                "DELETE FROM psi_usage WHERE counterpart = ? AND day = ?",
                (counterpart, day),
            )
        return int(row[0]) if row else 0

    def used(self, counterpart: str, now: float) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT numbers FROM psi_usage WHERE counterpart = ? AND day = ?",
                (counterpart, utc_day(now)),
            ).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            self._db.close()
