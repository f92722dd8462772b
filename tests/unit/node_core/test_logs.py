"""Logs never carry phone numbers, resident IDs, names or any other identity-column
value, even when code slips."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest

from node_core import logs
from node_core.config import DataSourceConfig, LogConfig
from node_core.ingest import load_dataset
from node_core.logs import IdentityValues, redact, setup_logging


@pytest.fixture(autouse=True)
def identities(monkeypatch: pytest.MonkeyPatch) -> IdentityValues:
    """A registry of this test's own (earlier tests' loads register values too)."""
    fresh = IdentityValues()
    monkeypatch.setattr(logs, "IDENTITIES", fresh)
    return fresh


def test_redact_masks_phones_and_ids_if_present_in_any_format() -> None:
    # Prepare
    text = "a 13800138000 b +86 138-0013-8000 c 8613800138000 d 11010519491231002X e 42"
    # Execute
    out = redact(text)
    # Assert
    assert out == "a [phone] b [phone] c [phone] d [resident-id] e 42"


def test_json_log_redacts_message_extras_and_exception_if_identifier_logged(
    tmp_path: Path,
) -> None:
    # Prepare
    path = tmp_path / "node.log"
    setup_logging(LogConfig(format="json", level="info", file=path), "bank-a")
    log = logging.getLogger("test.redaction")
    # Execute
    log.info("lookup %s", "13800138000", extra={"who": "11010519491231002X"})
    try:
        raise ValueError("bad row 13912345678")
    except ValueError:
        log.exception("failed")
    logging.getLogger().handlers[0].flush()
    # Assert
    text = path.read_text()
    assert "13800138000" not in text and "13912345678" not in text
    assert "11010519491231002X" not in text
    first, second = (json.loads(line) for line in text.splitlines()[:2])
    assert first["msg"] == "lookup [phone]" and first["who"] == "[resident-id]"
    assert first["party"] == "bank-a"
    assert "bad row [phone]" in second["exception"]


NAMES = ["周霞美", "王丽", "CMB0000003343"]


def test_identity_values_masked_if_logged_in_any_field_of_any_type(
    tmp_path: Path,
) -> None:
    # Prepare: values of identity columns (names, a customer id) registered by role.
    logs.IDENTITIES.register(pd.Series(NAMES))
    path = tmp_path / "node.log"
    setup_logging(LogConfig(format="json", level="debug", file=path), "operator")
    log = logging.getLogger("test.identity")
    # Execute
    log.info("customer %s", NAMES[0], extra={"names": [NAMES[1]], "n": 42})
    log.info("ids", extra={"by_id": {NAMES[2]: 1}, "phone": 13800138000})
    try:
        raise KeyError(NAMES[1])
    except KeyError:
        log.exception("lookup failed", stack_info=True)
    logging.getLogger().handlers[0].flush()
    # Assert
    text = path.read_text(encoding="utf-8")
    assert [n for n in NAMES if n in text] == []
    first, second, third = (json.loads(line) for line in text.splitlines())
    assert first["msg"] == "customer [identity]"
    assert first["names"] == "['[identity]']" and first["n"] == 42
    assert second["by_id"] == "{'[identity]': 1}" and second["phone"] == "[phone]"
    assert "KeyError: '[identity]'" in third["exception"]


def test_identity_values_masked_only_if_long_enough_to_name_someone() -> None:
    # Prepare
    values = IdentityValues()
    values.register(["李", "Li", "Wei", "王芳", "Li Wei"])
    # Execute
    out = values.redact("Li met 李 and 王芳; Li Wei left")
    # Assert: one CJK character or up to 3 ASCII ones say nothing about a person.
    assert out == "Li met 李 and [identity]; [identity] left"


def test_load_dataset_registers_identity_columns_if_declared(tmp_path: Path) -> None:
    # Prepare
    csv = tmp_path / "customers.csv"
    pd.DataFrame(
        {
            "phone": ["13912345678", "bad-phone-x1"],
            "name": ["欧阳娜娜", "司马光明"],
            "customer_id": ["CUST-77123", "CUST-77124"],
            "balance": ["77123", "5"],
        }
    ).to_csv(csv, index=False)
    src = DataSourceConfig(
        csv,
        identity=("name", "customer_id"),
        numeric=("balance",),
        max_rejected_share=0.5,
    )
    # Execute
    load_dataset("customers", src)
    # Assert: identity values (rejected rows' too) are masked; feature values not.
    text = "欧阳娜娜 司马光明 CUST-77124 bad-phone-x1 balance 77123"
    assert redact(text) == ("[identity] [identity] [identity] [identity] balance 77123")
