"""The bank's consent register: it signs consent proofs with its Ed25519 key
(`<state_dir>/consent_signing.key`, 0600), keeps them without the number, and revokes
them.

A stored proof keeps the keyed pseudonym of its number, not the number: the scoring
API gets the number with each request, puts it back into the record, and the signature
only verifies if it is the number the person consented for. A revoked consent is
refused here before anything is sent, and the revocation is pushed to the operator
(`bank-node consent revoke`), whose own book refuses it from the next query on.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node_core.store import SqliteStateStore
from protocol.identifiers import normalize_phone
from protocol.ids import new_hex_id
from protocol.scoring.consent import (
    MISSING,
    REVOKED,
    WRONG_NUMBER,
    ConsentProof,
    ConsentRecord,
    ConsentRefused,
    load_or_create_signing_key,
    public_key_pem,
    sign_consent,
    with_phone,
)

SIGNING_KEY_FILE = "consent_signing.key"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS consents (
    consent_id TEXT PRIMARY KEY,
    person TEXT NOT NULL,
    record TEXT NOT NULL,
    signature BLOB NOT NULL,
    revoked_at REAL
);
"""


@dataclass(frozen=True)
class ConsentSummary:
    consent_id: str
    person: str  # keyed pseudonym of the number
    purpose: str
    scope: tuple[str, ...]
    issued_at: int
    expires_at: int
    max_uses: int
    revoked_at: float | None

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "scope": list(self.scope)}


class BankConsents:
    def __init__(self, state_dir: Path, store: SqliteStateStore, bank_id: str) -> None:
        self._key_path = state_dir / SIGNING_KEY_FILE
        self._store = store
        self._bank_id = bank_id
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            store.path, check_same_thread=False, isolation_level=None, timeout=30
        )
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(_SCHEMA)

    def public_key_pem(self) -> bytes:
        """The verification key to register at the operator (`consent_key`)."""
        return public_key_pem(load_or_create_signing_key(self._key_path))

    def issue(
        self,
        *,
        phone: str,
        purpose: str,
        scope: tuple[str, ...],
        document: bytes,
        now: int,
        valid_s: int,
        max_uses: int,
    ) -> ConsentProof:
        record = ConsentRecord(
            consent_id=new_hex_id(),
            phone=normalize_phone(phone),
            purpose=purpose,
            scope=tuple(scope),
            issued_at=now,
            expires_at=now + valid_s,
            bank_id=self._bank_id,
            document_sha256=hashlib.sha256(document).hexdigest(),
            max_uses=max_uses,
        )
        proof = sign_consent(record, load_or_create_signing_key(self._key_path))
        stored = {**vars(record), "phone": "", "scope": list(record.scope)}
        person = self._store.pseudonym(record.phone)
        with self._lock:
            self._db.execute(
                "INSERT INTO consents VALUES (?, ?, ?, ?, NULL)",
                (record.consent_id, person, json.dumps(stored), proof.signature),
            )
        self._store.append_audit(
            "consent.issued",
            subject=record.consent_id,
            detail={
                "person": person,
                "purpose": purpose,
                "scope": list(scope),
                "expires_at": record.expires_at,
                "max_uses": max_uses,
            },
        )
        return proof

    def revoke(self, consent_id: str, now: float) -> bool:
        """Mark revoked (idempotent); False if the id is unknown."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE consents SET revoked_at = COALESCE(revoked_at, ?)"
                " WHERE consent_id = ?",
                (now, consent_id),
            )
        if cursor.rowcount:
            self._store.append_audit("consent.revoked", subject=consent_id)
        return bool(cursor.rowcount)

    def proof(self, consent_id: str, phone: str) -> ConsentProof:
        """The stored proof for `phone`, refused if unknown, revoked or for another
        number (the caller has normalised the number)."""
        with self._lock:
            row = self._db.execute(
                "SELECT person, record, signature, revoked_at FROM consents"
                " WHERE consent_id = ?",
                (consent_id,),
            ).fetchone()
        if row is None:
            raise ConsentRefused(MISSING, "no such consent id at this bank")
        if row[3] is not None:
            raise ConsentRefused(REVOKED)
        if row[0] != self._store.pseudonym(phone):
            raise ConsentRefused(WRONG_NUMBER)
        data = json.loads(row[1])
        record = ConsentRecord(**{**data, "scope": tuple(data["scope"])})
        return with_phone(ConsentProof(record, bytes(row[2])), phone)

    def list(self) -> list[ConsentSummary]:
        with self._lock:
            rows = self._db.execute(
                "SELECT person, record, revoked_at FROM consents ORDER BY rowid"
            ).fetchall()
        out = []
        for person, text, revoked in rows:
            r = json.loads(text)
            out.append(
                ConsentSummary(
                    r["consent_id"],
                    person,
                    r["purpose"],
                    tuple(r["scope"]),
                    r["issued_at"],
                    r["expires_at"],
                    r["max_uses"],
                    revoked,
                )  # fmt: skip
            )
        return out
