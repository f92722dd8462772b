"""The audit chain is tamper-evident: every edit, deletion, reordering, re-chaining and
truncation made behind the store's back is reported by verify_audit, and the store
refuses to append to a truncated chain (which would hide the truncation)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from bank_node import cli as bank_cli
from node_core.audit_chain import GENESIS_HASH, KEY_FILE, ChainHead, HeadFile
from node_core.store import SqliteStateStore, StoreError
from tests.nodes import Pki, write_config

ENTRIES = 5


@pytest.fixture
def store(tmp_path: Path) -> SqliteStateStore:
    store = SqliteStateStore(tmp_path / "state", "operator")
    for i in range(ENTRIES):
        store.append_audit("psi.query", counterpart="bank-a", detail={"rows": i})
    return store


def _tamper(store: SqliteStateStore, *statements: str) -> None:
    """Edit the SQLite file behind the store's back (triggers dropped first)."""
    db = sqlite3.connect(store.path)
    db.execute("DROP TRIGGER IF EXISTS audit_no_update")
    db.execute("DROP TRIGGER IF EXISTS audit_no_delete")
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()


def _rechain(store: SqliteStateStore, digest: Callable[[str, str], str]) -> None:
    """Recompute every prev_hash/hash the way an attacker without the key would."""
    db = sqlite3.connect(store.path)
    db.execute("DROP TRIGGER IF EXISTS audit_no_update")
    rows = db.execute(
        "SELECT seq, ts, actor, counterpart, action, subject, detail FROM audit"
        " ORDER BY seq"
    ).fetchall()
    prev = GENESIS_HASH
    for seq, ts, actor, counterpart, action, subject, detail in rows:
        fields = {
            "seq": seq, "ts": ts, "actor": actor, "counterpart": counterpart,
            "action": action, "subject": subject, "detail": json.loads(detail),
        }  # fmt: skip
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        new = digest(prev, canonical)
        db.execute(
            "UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, new, seq)
        )
        prev = new
    db.commit()
    db.close()


def test_verify_audit_intact_if_untouched(store: SqliteStateStore) -> None:
    # Execute
    verdict = store.verify_audit()
    # Assert
    assert verdict.intact
    assert (verdict.entries, verdict.head_seq) == (ENTRIES, ENTRIES)


def test_verify_audit_detects_edit_if_any_field_changed(
    store: SqliteStateStore,
) -> None:
    # Execute
    _tamper(store, "UPDATE audit SET counterpart = 'bank-b' WHERE seq = 3")
    # Assert
    verdict = store.verify_audit()
    assert verdict.first_bad_seq == 3
    assert verdict.problem == "entry 3 was altered (its keyed hash does not match)"


def test_verify_audit_detects_truncation_if_last_entries_deleted(
    store: SqliteStateStore,
) -> None:
    # Execute
    _tamper(store, "DELETE FROM audit WHERE seq >= 4")
    # Assert
    verdict = store.verify_audit()
    assert verdict.problem == (
        "the signed head names entry 5, the chain ends at 3 (entries were deleted)"
    )


def test_verify_audit_detects_truncation_if_all_entries_deleted(
    store: SqliteStateStore,
) -> None:
    # Execute
    _tamper(store, "DELETE FROM audit")
    # Assert
    verdict = store.verify_audit()
    assert verdict.entries == 0
    assert verdict.problem == (
        "the signed head names entry 5, the chain ends at 0 (entries were deleted)"
    )


def test_verify_audit_detects_deletion_if_entry_in_the_middle_removed(
    store: SqliteStateStore,
) -> None:
    # Execute
    _tamper(store, "DELETE FROM audit WHERE seq = 2")
    # Assert
    verdict = store.verify_audit()
    assert verdict.first_bad_seq == 2
    assert verdict.problem == "entry 2 is missing or out of order"


def test_verify_audit_detects_reorder_if_two_entries_swapped(
    store: SqliteStateStore,
) -> None:
    # Prepare: swap the contents (hashes included) of entries 2 and 3.
    columns = "ts, actor, counterpart, action, subject, detail, prev_hash, hash"
    # Execute
    _tamper(
        store,
        f"CREATE TEMP TABLE saved AS SELECT seq, {columns} FROM audit"
        " WHERE seq IN (2, 3)",
        "DELETE FROM audit WHERE seq IN (2, 3)",
        f"INSERT INTO audit (seq, {columns}) SELECT 5 - seq, {columns} FROM saved",
    )
    # Assert
    verdict = store.verify_audit()
    assert verdict.first_bad_seq == 2
    assert verdict.problem == "entry 2 does not link to its predecessor"


@pytest.mark.parametrize(
    "digest",
    [
        lambda prev, canonical: hashlib.sha256((prev + canonical).encode()).hexdigest(),
        lambda prev, canonical: hashlib.sha256(
            b"guessed key" + (prev + canonical).encode()
        ).hexdigest(),
    ],
    ids=["unkeyed-sha256", "wrong-key"],
)
def test_verify_audit_detects_rechain_if_hashes_recomputed_without_the_key(
    store: SqliteStateStore, digest: Callable[[str, str], str]
) -> None:
    # Prepare
    _tamper(store, "UPDATE audit SET detail = '{\"rows\": 99}' WHERE seq = 4")
    # Execute
    _rechain(store, digest)
    # Assert
    verdict = store.verify_audit()
    assert verdict.first_bad_seq == 1
    assert verdict.problem == "entry 1 was altered (its keyed hash does not match)"


def test_verify_audit_detects_missing_head_if_head_file_deleted(
    store: SqliteStateStore,
) -> None:
    # Execute
    HeadFile(store.path.parent).path.unlink()
    # Assert
    assert store.verify_audit().problem == "the signed head audit_head.json is missing"


def test_verify_audit_detects_forged_head_if_signature_does_not_verify(
    store: SqliteStateStore,
) -> None:
    # Prepare: the head of entry 3, claimed with entry 5's signature.
    heads = HeadFile(store.path.parent)
    head = heads.read()
    assert head is not None
    entry3 = store.audit_entries()[2]
    # Execute
    _tamper(store, "DELETE FROM audit WHERE seq > 3")
    forged = ChainHead(
        head.party_id, 3, entry3.hash, head.ts, head.public_key, head.signature
    )
    heads.path.write_text(forged.to_json())
    # Assert
    assert store.verify_audit().problem == "the signed head's signature does not verify"


def test_verify_audit_reports_missing_key_if_key_deleted(tmp_path: Path) -> None:
    # Prepare
    state = tmp_path / "state"
    SqliteStateStore(state, "operator").append_audit("psi.query")
    (state / KEY_FILE).unlink()
    # Execute
    reopened = SqliteStateStore(state, "operator")
    # Assert
    assert reopened.verify_audit().problem.startswith("the audit key is missing")
    with pytest.raises(StoreError, match="the audit chain has no key"):
        reopened.append_audit("psi.query")


def test_append_refused_if_chain_was_truncated(store: SqliteStateStore) -> None:
    # Prepare
    _tamper(store, "DELETE FROM audit WHERE seq = 5")
    # Execute / Assert: appending entry 5 again would hide the deletion.
    with pytest.raises(StoreError, match="audit chain tampered: the signed head names"):
        store.append_audit("job.created")
    assert store.verify_audit().entries == ENTRIES - 1


def test_verify_audit_intact_if_head_lags_one_entry_after_a_crash(
    store: SqliteStateStore,
) -> None:
    # Prepare: the head of entry 4 (as if the process died after committing 5).
    heads = HeadFile(store.path.parent)
    entry4 = store.audit_entries()[3]
    assert store._keys is not None
    lagging = store._keys.sign_head("operator", 4, entry4.hash)
    # Execute
    heads.path.write_text(lagging.to_json())
    store.append_audit("job.created")
    # Assert
    verdict = store.verify_audit()
    assert verdict.intact and verdict.entries == ENTRIES + 1


def test_verify_audit_intact_if_two_stores_append_to_one_state_dir(
    tmp_path: Path,
) -> None:
    # Prepare: the serve process and an administrative command share the state dir.
    serve = SqliteStateStore(tmp_path / "state", "operator")
    command = SqliteStateStore(tmp_path / "state", "operator")
    # Execute
    for i in range(6):
        (serve if i % 2 else command).append_audit("job.created", detail={"i": i})
    # Assert
    assert serve.verify_audit().intact and command.verify_audit().intact
    assert serve.verify_audit().head_seq == 6


def test_chain_head_verifies_under_its_public_key_if_round_tripped(
    store: SqliteStateStore,
) -> None:
    # Prepare
    head = store.chain_head()
    assert head is not None
    # Execute
    again = ChainHead.from_json(head.to_json())
    # Assert
    assert again == head and again.signature_valid()
    assert (again.party_id, again.seq) == ("operator", ENTRIES)
    assert again.hash == store.audit_entries()[-1].hash
    moved = ChainHead(head.party_id, head.seq + 1, head.hash, head.ts,
                      head.public_key, head.signature)  # fmt: skip
    assert not moved.signature_valid()


def test_audit_key_is_private_if_created(store: SqliteStateStore) -> None:
    # Execute
    mode = (store.path.parent / KEY_FILE).stat().st_mode
    # Assert
    assert stat.S_IMODE(mode) == 0o600


def test_audit_verify_cli_exits_1_naming_the_problem_if_chain_truncated(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Prepare
    config = write_config(
        tmp_path / "bank.toml", pki, "bank-a", "bank",
        [{"party_id": "operator", "identity": "operator"}],
    )  # fmt: skip
    store = SqliteStateStore(config.state_dir, "bank-a")
    for _ in range(3):
        store.append_audit("psi.query")
    argv = ["audit", "verify", "--config", str(config.source)]
    assert bank_cli.main(argv) == 0
    intact = capsys.readouterr().out.strip()
    # Execute
    _tamper(store, "DELETE FROM audit WHERE seq = 3")
    code = bank_cli.main(argv)
    # Assert
    assert intact == "bank-a: audit chain intact: 3 entries, signed head at entry 3"
    assert code == 1
    assert capsys.readouterr().err.strip() == (
        "bank-a: audit chain BROKEN: the signed head names entry 3, the chain ends"
        " at 2 (entries were deleted) (2 entries)"
    )
