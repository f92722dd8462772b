"""Consent proofs: signed by the bank's Ed25519 key, and refused with their reason
when missing, malformed, badly signed, for another bank, number, purpose or scope,
not yet valid or expired."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.scoring import consent as c

NOW = 1_800_000_000
PHONE = "13800138000"


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _record(**changes) -> c.ConsentRecord:
    base = c.ConsentRecord(
        consent_id="ab" * 16,
        phone=PHONE,
        purpose="credit_risk",
        scope=(c.SCORING_SCOPE,),
        issued_at=NOW - 10,
        expires_at=NOW + 3600,
        bank_id="bank-a",
        document_sha256="0" * 64,
        max_uses=3,
    )
    return dataclasses.replace(base, **changes)


def _verify(proof: c.ConsentProof | None, signer: Ed25519PrivateKey, **over):
    args = {
        "key": signer.public_key(),
        "bank_id": "bank-a",
        "phone": PHONE,
        "purpose": "credit_risk",
        "scope": c.SCORING_SCOPE,
        "now": NOW,
        **over,
    }
    return c.verify_consent(proof, **args)


def _reason(call) -> str:
    with pytest.raises(c.ConsentRefused) as info:
        call()
    assert info.value.code == "PERMISSION_DENIED"
    assert PHONE not in str(info.value)
    return info.value.reason


def test_verify_consent_returns_record_if_everything_matches(key) -> None:
    # Prepare
    proof = c.sign_consent(_record(), key)
    # Execute
    record = _verify(proof, key)
    # Assert
    assert record == proof.record


@pytest.mark.parametrize(
    ("case", "over", "reason"),
    [
        ("other bank's key", {"key": Ed25519PrivateKey.generate().public_key()},
         c.BAD_SIGNATURE),
        ("no key registered", {"key": None}, c.NO_KEY),
        ("other bank", {"bank_id": "bank-b"}, c.WRONG_BANK),
        ("other number", {"phone": "13900139000"}, c.WRONG_NUMBER),
        ("expired", {"now": NOW + 3600}, c.EXPIRED),
        ("not yet valid", {"now": NOW - 11}, c.NOT_YET_VALID),
        ("wrong purpose", {"purpose": "marketing"}, c.WRONG_PURPOSE),
        ("out of scope", {"scope": "export"}, c.OUT_OF_SCOPE),
    ],
)  # fmt: skip
def test_verify_consent_refuses_with_reason_if_check_fails(
    key, case: str, over: dict, reason: str
) -> None:
    # Prepare
    proof = c.sign_consent(_record(), key)
    # Execute / Assert
    assert _reason(lambda: _verify(proof, key, **over)) == reason, case


def test_verify_consent_refuses_if_missing(key) -> None:
    assert _reason(lambda: _verify(None, key)) == c.MISSING


@pytest.mark.parametrize(
    "field", ["purpose", "phone", "max_uses", "expires_at", "scope", "bank_id"]
)
def test_verify_consent_refuses_bad_signature_if_a_signed_field_changed(
    key, field: str
) -> None:
    # Prepare
    proof = c.sign_consent(_record(), key)
    changed = {
        "purpose": "credit_limit",
        "phone": "13900139000",
        "max_uses": 999,
        "expires_at": NOW + 7200,
        "scope": ("score", "export"),
        "bank_id": "bank-b",
    }[field]
    forged = dataclasses.replace(
        proof, record=dataclasses.replace(proof.record, **{field: changed})
    )
    # Execute / Assert
    assert _reason(lambda: _verify(forged, key)) == c.BAD_SIGNATURE


def test_verify_consent_refuses_bad_signature_if_signature_truncated(key) -> None:
    proof = c.sign_consent(_record(), key)
    cut = dataclasses.replace(proof, signature=proof.signature[:10])
    assert _reason(lambda: _verify(cut, key)) == c.BAD_SIGNATURE


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"consent_id": "XYZ"}, "consent_id"),
        ({"phone": "12345"}, "phone"),
        ({"purpose": "Credit Risk"}, "purpose"),
        ({"scope": ()}, "scope"),
        ({"document_sha256": "abc"}, "document_sha256"),
        ({"max_uses": 0}, "max_uses"),
        ({"expires_at": NOW - 100}, "expires_at"),
        ({"expires_at": NOW + 400 * 86400}, "expires_at"),
    ],
)
def test_sign_consent_refuses_malformed_record_naming_the_field(
    key, changes: dict, field: str
) -> None:
    # Execute
    with pytest.raises(c.ConsentRefused) as info:
        c.sign_consent(_record(**changes), key)
    # Assert
    assert info.value.reason == c.MALFORMED
    assert f": {field}:" in str(info.value)


def test_signing_key_is_created_private_and_reloaded(tmp_path: Path) -> None:
    # Prepare
    path = tmp_path / "k.pem"
    # Execute
    first = c.load_or_create_signing_key(path)
    again = c.load_or_create_signing_key(path)
    public = tmp_path / "pub.pem"
    public.write_bytes(c.public_key_pem(first))
    # Assert
    assert path.stat().st_mode & 0o077 == 0
    assert c.public_key_pem(again) == c.public_key_pem(first)
    assert c.load_verification_key(public).public_bytes_raw() == (
        first.public_key().public_bytes_raw()
    )
