"""Consent proofs: a person's authorization for one bank to query the operator about
them, signed with the bank's Ed25519 key, and the checks every verifier runs.

A proof is the one thing that lets a person's phone number cross to the operator
(protocol/scoring): the operator verifies the signature against the key registered
for that bank (`counterparts[].consent_key`), then purpose, scope and validity period
here, and revocation and replay in its consent book (operator_node/consent_book.py).
The signed bytes are a canonical JSON document with a domain-separation prefix, so a
signature made for anything else never verifies as a consent. Refusals carry a stable
reason (the constants below) and never echo the phone number.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from protocol.errors import PermissionDenied
from protocol.identifiers import InvalidPhoneError, normalize_phone
from protocol.ids import is_hex_id, is_party_id

# Domain separation: these bytes prefix every signed consent document.
SIGNING_CONTEXT = b"duet.consent.v1\n"
# The scope a consent needs for real-time scoring (protocol/scoring).
SCORING_SCOPE = "score"
# Bounds of what a proof may declare (checked by both issuer and verifier).
MAX_USES = 1000
MAX_VALIDITY_S = 366 * 86400
_WORD_RE = re.compile(r"^[a-z0-9_.:-]{1,64}$")
_DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")
ED25519_SIGNATURE_BYTES = 64

# Stable refusal reasons (tests and the bank's API errors name them).
MISSING = "consent missing"
NO_KEY = "no consent key registered for this bank"
BAD_SIGNATURE = "consent signature does not verify under the bank's registered key"
WRONG_BANK = "consent was issued by another bank"
WRONG_NUMBER = "consent does not cover this phone number"
NOT_YET_VALID = "consent is not valid yet"
EXPIRED = "consent expired"
WRONG_PURPOSE = "consent purpose does not match the model's purpose"
OUT_OF_SCOPE = "consent scope does not include this use"
REVOKED = "consent revoked"
REPLAYED = "consent id already bound to another number or purpose"
USED_UP = "consent used as often as it allows"
MALFORMED = "consent malformed"


class ConsentRefused(PermissionDenied):
    """A consent check failed; `reason` is one of the constants above."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class ConsentRecord:
    """What the person authorized, as the bank signs it."""

    consent_id: str  # 32 lowercase hex characters
    phone: str  # canonical 11-digit number
    purpose: str  # e.g. credit_risk
    scope: tuple[str, ...]  # uses, e.g. ("score",)
    issued_at: int  # unix seconds
    expires_at: int  # unix seconds
    bank_id: str  # the issuing bank's party id
    document_sha256: str  # hex digest of the authorization document signed
    max_uses: int  # queries this consent allows

    def signed_bytes(self) -> bytes:
        """The canonical document the signature covers."""
        body = {
            "bank_id": self.bank_id,
            "consent_id": self.consent_id,
            "document_sha256": self.document_sha256,
            "expires_at": self.expires_at,
            "issued_at": self.issued_at,
            "max_uses": self.max_uses,
            "phone": self.phone,
            "purpose": self.purpose,
            "scope": list(self.scope),
        }
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return SIGNING_CONTEXT + text.encode("ascii")


@dataclass(frozen=True)
class ConsentProof:
    record: ConsentRecord
    signature: bytes  # Ed25519, 64 bytes


def check_record(record: ConsentRecord) -> None:
    """Shape checks of a record (MALFORMED naming the field; never the value)."""

    def bad(field: str, why: str) -> ConsentRefused:
        return ConsentRefused(MALFORMED, f"{field}: {why}")

    if not is_hex_id(record.consent_id):
        raise bad("consent_id", "not 32 lowercase hex characters")
    try:
        if normalize_phone(record.phone) != record.phone:
            raise bad("phone", "not in canonical 11-digit form")
    except InvalidPhoneError as exc:
        raise bad("phone", str(exc)) from None
    if not _WORD_RE.match(record.purpose):
        raise bad("purpose", "1-64 lowercase letters, digits or _.:-")
    if not record.scope or len(record.scope) > 16:
        raise bad("scope", "1-16 entries")
    if not all(_WORD_RE.match(s) for s in record.scope):
        raise bad("scope", "entries are 1-64 lowercase letters, digits or _.:-")
    if not is_party_id(record.bank_id):
        raise bad("bank_id", "not a party id")
    if not _DIGEST_RE.match(record.document_sha256):
        raise bad("document_sha256", "not a SHA-256 hex digest")
    if not 1 <= record.max_uses <= MAX_USES:
        raise bad("max_uses", f"must be 1..{MAX_USES}")
    if not 0 < record.issued_at < record.expires_at:
        raise bad("expires_at", "must be after issued_at")
    if record.expires_at - record.issued_at > MAX_VALIDITY_S:
        raise bad("expires_at", f"validity longer than {MAX_VALIDITY_S // 86400} days")


def sign_consent(record: ConsentRecord, key: Ed25519PrivateKey) -> ConsentProof:
    check_record(record)
    return ConsentProof(record, key.sign(record.signed_bytes()))


def verify_consent(
    proof: ConsentProof | None,
    *,
    key: Ed25519PublicKey | None,
    bank_id: str,
    phone: str,
    purpose: str,
    scope: str,
    now: float,
) -> ConsentRecord:
    """The stateless checks, in order: present, shape, signature, bank, number,
    validity period, purpose, scope. Revocation and replay need the verifier's state
    (operator_node/consent_book.py)."""
    if proof is None:
        raise ConsentRefused(MISSING)
    if key is None:
        raise ConsentRefused(NO_KEY, f"set consent_key for {bank_id}")
    record = proof.record
    check_record(record)
    if len(proof.signature) != ED25519_SIGNATURE_BYTES:
        raise ConsentRefused(BAD_SIGNATURE)
    try:
        key.verify(proof.signature, record.signed_bytes())
    except InvalidSignature:
        raise ConsentRefused(BAD_SIGNATURE) from None
    if record.bank_id != bank_id:
        raise ConsentRefused(WRONG_BANK)
    if record.phone != phone:
        raise ConsentRefused(WRONG_NUMBER)
    if now < record.issued_at:
        raise ConsentRefused(NOT_YET_VALID)
    if now >= record.expires_at:
        raise ConsentRefused(EXPIRED)
    if record.purpose != purpose:
        raise ConsentRefused(WRONG_PURPOSE, f"{record.purpose!r} vs {purpose!r}")
    if scope not in record.scope:
        raise ConsentRefused(OUT_OF_SCOPE, f"needs {scope!r}")
    return record


def with_phone(proof: ConsentProof, phone: str) -> ConsentProof:
    """The proof with its number filled in (the bank stores proofs without it)."""
    return replace(proof, record=replace(proof.record, phone=phone))


# ---- keys ----------------------------------------------------------------------
def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """The bank's consent signing key (PEM, mode 0600), created on first use."""
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return loaded


def public_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_verification_key(path: Path) -> Ed25519PublicKey:
    """A bank's registered consent verification key (PEM)."""
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key")
    return key
