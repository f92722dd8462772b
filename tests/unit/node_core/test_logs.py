"""Logs never carry phone numbers or resident IDs, even when code slips."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from node_core.config import LogConfig
from node_core.logs import redact, setup_logging


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
