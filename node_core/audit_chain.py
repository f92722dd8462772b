"""The audit chain's keys and its signed head: what makes the audit log tamper-evident.

Every entry's hash is HMAC-SHA256 under the node's audit MAC key over the previous
entry's hash and the entry's canonical fields, so an entry cannot be edited, inserted,
reordered or re-chained without the key. After every append the node signs the chain's
head (party, seq, hash, time) with its Ed25519 audit key and writes it to
`audit_head.json`, outside the SQLite file: deleting the last rows, or all rows, leaves
a signed head that names an entry the chain no longer has. Both keys derive from one
32-byte seed in `audit.key` (0600), created with the state directory.

`verify` (store.verify_audit, `audit verify`) therefore detects: an edited entry (any
field), an inserted, deleted or reordered entry, a chain re-computed after an edit by
anyone without the key, deletion of the last entries or of all entries, and a missing,
edited or foreign-signed head or a missing key.

It cannot detect, by itself: an attacker who holds the node's audit key (it can re-chain
and re-sign everything; the key sits in the state directory, so that means the node's
own host or administrator), a rollback of the SQLite file *and* the head file to an
older copy taken together, or the removal of the whole state directory. Those need a
copy of the head outside the node: the head is a self-contained signed statement
(`ChainHead.to_json`, with the public key) made to be sent to the counterpart, which
can then hold this node to a head it has seen (issue #14 adds that exchange).

Heads only move forward: concurrent writers (the serve process and an administrative
command) replace the file under an exclusive lock and never with an older head; a crash
between an entry's commit and its head leaves the head one entry behind, which verify
accepts because that entry's MAC is valid.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

KEY_FILE = "audit.key"
HEAD_FILE = "audit_head.json"
_LOCK_FILE = "audit_head.lock"
GENESIS_HASH = "0" * 64
_HEAD_DOMAIN = b"duet-audit-head/1\n"
_MAC_DOMAIN = b"duet-audit-mac/1"
_SIGN_DOMAIN = b"duet-audit-sign/1"


class AuditKeyMissing(RuntimeError):
    """The state directory has no audit key (see AuditKeys.load)."""


def entry_fields(
    seq: int,
    ts: float,
    actor: str,
    counterpart: str,
    action: str,
    subject: str,
    detail: Mapping[str, Any],
) -> dict[str, Any]:
    """The fields an entry's hash covers, in the one canonical form."""
    return {
        "seq": seq,
        "ts": ts,
        "actor": actor,
        "counterpart": counterpart,
        "action": action,
        "subject": subject,
        "detail": dict(detail),
    }


@dataclass(frozen=True)
class AuditKeys:
    """The node's audit MAC key and Ed25519 signing key, from one secret seed."""

    seed: bytes

    @classmethod
    def load(cls, state_dir: Path) -> AuditKeys:
        path = state_dir / KEY_FILE
        try:
            seed = path.read_bytes()
        except FileNotFoundError:
            raise AuditKeyMissing(f"no audit key at {path}") from None
        if len(seed) != 32:
            raise AuditKeyMissing(f"{path} is not a 32-byte audit key")
        return cls(seed)

    @classmethod
    def create(cls, state_dir: Path) -> AuditKeys:
        """A new key, written 0600; refuses to replace an existing one."""
        seed = secrets.token_bytes(32)
        fd = os.open(state_dir / KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(seed)
        return cls(seed)

    def _derive(self, domain: bytes) -> bytes:
        return hmac.new(self.seed, domain, hashlib.sha256).digest()

    @cached_property
    def _mac_key(self) -> bytes:
        return self._derive(_MAC_DOMAIN)

    @cached_property
    def _signing_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self._derive(_SIGN_DOMAIN))

    def entry_hash(self, prev_hash: str, fields: Mapping[str, Any]) -> str:
        """HMAC-SHA256 over the predecessor's hash and the canonical fields."""
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hmac.new(
            self._mac_key, (prev_hash + canonical).encode(), hashlib.sha256
        ).hexdigest()

    @cached_property
    def public_key(self) -> str:
        """Hex of the raw Ed25519 public key that verifies this node's heads."""
        key = self._signing_key.public_key()
        return key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

    def sign_head(self, party_id: str, seq: int, hash_: str) -> ChainHead:
        unsigned = ChainHead(party_id, seq, hash_, time.time(), self.public_key, "")
        signature = self._signing_key.sign(unsigned.signed_bytes())
        return ChainHead(
            party_id, seq, hash_, unsigned.ts, unsigned.public_key, signature.hex()
        )


@dataclass(frozen=True)
class ChainHead:
    """A signed statement "party's audit chain has `seq` entries ending in `hash`".

    Self-contained, so that it can be exchanged: anyone holding the party's audit
    public key can check it, and a later head with a lower seq, or another hash at a
    seq already seen, proves truncation or rewriting.
    """

    party_id: str
    seq: int
    hash: str
    ts: float
    public_key: str  # hex of the raw Ed25519 public key
    signature: str  # hex

    def signed_bytes(self) -> bytes:
        body: dict[str, Any] = {
            "party_id": self.party_id,
            "seq": self.seq,
            "hash": self.hash,
            "ts": self.ts,
        }
        return (
            _HEAD_DOMAIN
            + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        )

    def signature_valid(self, public_key: str | None = None) -> bool:
        """True if the signature verifies under `public_key` (default: its own)."""
        key_hex = public_key or self.public_key
        try:
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex))
            key.verify(bytes.fromhex(self.signature), self.signed_bytes())
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ChainHead:
        data = json.loads(text)
        return cls(
            party_id=str(data["party_id"]),
            seq=int(data["seq"]),
            hash=str(data["hash"]),
            ts=float(data["ts"]),
            public_key=str(data["public_key"]),
            signature=str(data["signature"]),
        )


class HeadFile:
    """`audit_head.json`: read, and replaced only by a head with a higher seq."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / HEAD_FILE
        self._lock_path = state_dir / _LOCK_FILE

    def read(self) -> ChainHead | None:
        """The stored head, None if there is none; ValueError if it is unreadable."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        try:
            return ChainHead.from_json(text)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{self.path} is not a chain head: {exc}") from None

    def advance(self, head: ChainHead) -> None:
        """Write `head` unless the stored head is already at or past its seq."""
        fd = os.open(self._lock_path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = self.read()
            except ValueError:
                return  # unreadable: verify reports it; never write over evidence
            if current is not None and current.seq >= head.seq:
                return
            tmp = self.path.with_name(self.path.name + ".tmp")
            tfd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(tfd, "w") as fh:
                fh.write(head.to_json())
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(self.path)
        finally:
            os.close(fd)
