"""Model registry: each party stores its own part of a joint model, versioned.

A model part is a JSON document (weights, preprocessing, feature names; never personal
data) under `<state_dir>/models/<name>/v<version>.json`, indexed in the node's SQLite
file with its job, counterpart and kind. Versions count up per model name. Saving
writes an audit entry with the document's SHA-256, so the audit chain pins every model.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node_core.store import SqliteStateStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    job_id TEXT NOT NULL,
    counterpart TEXT NOT NULL,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (name, version)
);
"""


@dataclass(frozen=True)
class ModelPart:
    """One party's part of a joint model, as its trainer or passive role serialises
    it: `kind` ("<model type>.<role>", e.g. "hetero_lr.bank") and a JSON-able payload
    (weights, preprocessing, feature names; never personal data)."""

    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class ModelRecord:
    name: str
    version: int
    job_id: str
    counterpart: str
    kind: str
    path: Path
    sha256: str
    created_at: float

    def load(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.path.read_text())
        return data


class ModelRegistry:
    def __init__(self, state_dir: Path, store: SqliteStateStore) -> None:
        self._dir = state_dir / "models"
        self._store = store
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            store.path, check_same_thread=False, isolation_level=None, timeout=30
        )
        self._db.executescript(_SCHEMA)

    def save(
        self,
        *,
        job_id: str,
        counterpart: str,
        part: ModelPart,
        name: str | None = None,
    ) -> ModelRecord:
        kind = part.kind
        name = name or f"{kind}.{counterpart}"
        document = json.dumps(
            {"name": name, "job_id": job_id, "kind": kind, **part.payload},
            indent=2,
            sort_keys=True,
        )
        digest = hashlib.sha256(document.encode()).hexdigest()
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(MAX(version), 0) FROM models WHERE name = ?", (name,)
            ).fetchone()
            version = int(row[0]) + 1
            path = self._dir / name / f"v{version}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(document)
            now = time.time()
            self._db.execute(
                "INSERT INTO models VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name, version, job_id, counterpart, kind, str(path), digest, now),
            )
        self._store.append_audit(
            "model.saved",
            counterpart=counterpart,
            subject=job_id,
            detail={"name": name, "version": version, "sha256": digest},
        )
        return ModelRecord(name, version, job_id, counterpart, kind, path, digest, now)

    def list(self, name: str | None = None) -> list[ModelRecord]:
        query = "SELECT * FROM models"
        args: tuple[Any, ...] = ()
        if name is not None:
            query, args = query + " WHERE name = ?", (name,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY name, version", args).fetchall()
        return [
            ModelRecord(r[0], r[1], r[2], r[3], r[4], Path(r[5]), r[6], r[7])
            for r in rows
        ]
