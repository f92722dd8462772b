"""The bank's consent register: issued proofs verify under its key, are stored
without the number, and revoked or foreign-number lookups are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from bank_node.consents import BankConsents
from node_core.store import SqliteStateStore
from protocol.scoring import consent as c

PHONE = "13800138000"


@pytest.fixture
def consents(tmp_path: Path) -> BankConsents:
    state = tmp_path / "state"
    return BankConsents(state, SqliteStateStore(state, "bank-a"), "bank-a")


def _issue(consents: BankConsents) -> c.ConsentProof:
    return consents.issue(
        phone="+86 138-0013-8000", purpose="credit_risk", scope=("score",),
        document=b"signed form", now=1000, valid_s=3600, max_uses=2,
    )  # fmt: skip


def test_issue_signs_a_proof_that_verifies_under_the_public_key(
    consents: BankConsents,
) -> None:
    # Prepare
    proof = _issue(consents)
    key = c.serialization.load_pem_public_key(consents.public_key_pem())
    # Execute
    stored = consents.proof(proof.record.consent_id, PHONE)
    record = c.verify_consent(
        stored, key=key, bank_id="bank-a", phone=PHONE, purpose="credit_risk",
        scope="score", now=1500,
    )  # fmt: skip
    # Assert
    assert record.phone == PHONE and stored.signature == proof.signature


def test_store_keeps_no_raw_number(consents: BankConsents, tmp_path: Path) -> None:
    _issue(consents)
    assert PHONE.encode() not in (tmp_path / "state" / "state.sqlite3").read_bytes()


def test_proof_refuses_if_revoked_or_other_number_or_unknown(
    consents: BankConsents,
) -> None:
    # Prepare
    consent_id = _issue(consents).record.consent_id
    # Execute
    with pytest.raises(c.ConsentRefused) as other:
        consents.proof(consent_id, "13900139000")
    with pytest.raises(c.ConsentRefused) as unknown:
        consents.proof("ef" * 16, PHONE)
    assert consents.revoke(consent_id, 2000.0)
    with pytest.raises(c.ConsentRefused) as revoked:
        consents.proof(consent_id, PHONE)
    # Assert
    assert other.value.reason == c.WRONG_NUMBER
    assert unknown.value.reason == c.MISSING
    assert revoked.value.reason == c.REVOKED
    assert [s.revoked_at for s in consents.list()] == [2000.0]
