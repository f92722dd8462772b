"""The operator's consent book: revocation takes effect on the next use, a consent id
is bound to its number and purpose, and its use limit holds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from node_core.store import SqliteStateStore
from operator_node.consent_book import ConsentBook
from protocol.scoring import consent as c

RECORD = c.ConsentRecord(
    "cd" * 16, "13800138000", "credit_risk", ("score",), 1, 10**10, "bank-a",
    "0" * 64, 2,
)  # fmt: skip


@pytest.fixture
def book(tmp_path: Path) -> ConsentBook:
    return ConsentBook(SqliteStateStore(tmp_path / "state", "operator"))


def _reason(call) -> str:
    with pytest.raises(c.ConsentRefused) as info:
        call()
    return info.value.reason


def test_use_counts_up_to_the_limit_then_refuses_used_up(book: ConsentBook) -> None:
    # Execute
    uses = [book.use("bank-a", RECORD), book.use("bank-a", RECORD)]
    # Assert
    assert uses == [1, 2]
    assert _reason(lambda: book.use("bank-a", RECORD)) == c.USED_UP


def test_use_refuses_revoked_if_bank_revoked_before_the_next_query(
    book: ConsentBook,
) -> None:
    # Prepare
    book.use("bank-a", RECORD)
    # Execute
    used = book.revoke("bank-a", RECORD.consent_id, 5.0)
    # Assert
    assert used is True
    assert _reason(lambda: book.use("bank-a", RECORD)) == c.REVOKED


@pytest.mark.parametrize(
    "changes", [{"phone": "13900139000"}, {"purpose": "credit_limit"}]
)
def test_use_refuses_replayed_if_same_id_for_other_number_or_purpose(
    book: ConsentBook, changes: dict
) -> None:
    # Prepare
    book.use("bank-a", RECORD)
    other = dataclasses.replace(RECORD, **changes)
    # Execute / Assert
    assert _reason(lambda: book.use("bank-a", other)) == c.REPLAYED


def test_use_counts_nothing_if_the_guard_refuses(book: ConsentBook) -> None:
    # Prepare
    def refuse() -> None:
        raise RuntimeError("quota")

    # Execute
    with pytest.raises(RuntimeError):
        book.use("bank-a", RECORD, then=refuse)
    # Assert
    assert book.use("bank-a", RECORD) == 1


def test_book_keeps_no_raw_number(book: ConsentBook, tmp_path: Path) -> None:
    book.use("bank-a", RECORD)
    data = (tmp_path / "state" / "state.sqlite3").read_bytes()
    assert RECORD.phone.encode() not in data
