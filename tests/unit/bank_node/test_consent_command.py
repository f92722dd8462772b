"""`bank-node consent issue|list|revoke|key` through the CLI: the number never
appears in the output, and a revocation the operator cannot be told of is still
recorded at the bank, with the failure reported."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import pytest

from bank_node.cli import main
from tests.nodes import Pki, write_config

PHONE = "13800138000"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_consent_commands_issue_list_revoke_without_printing_the_number(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # Prepare
    config = tmp_path / "bank.toml"
    address = f"127.0.0.1:{_free_port()}"  # nobody listens: the push fails
    write_config(
        config, pki, "bank-a", "bank",
        [{"party_id": "operator", "identity": "operator", "address": address}],
        scoring={"deadline_ms": 200.0},
    )  # fmt: skip
    form = tmp_path / "form.pdf"
    form.write_bytes(b"signed authorization")
    monkeypatch.setattr("sys.stdin", io.StringIO(PHONE + "\n"))
    args = ["--config", str(config)]
    # Execute
    assert main(["consent", "issue", "--phone", "-", "--purpose", "credit_risk",
                 "--document", str(form), "--max-uses", "3", *args]) == 0  # fmt: skip
    issued = json.loads(capsys.readouterr().out)
    assert main(["consent", "revoke", issued["consent_id"], *args]) == 0
    revoked = json.loads(capsys.readouterr().out)
    assert main(["consent", "list", *args]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert main(["consent", "key", *args]) == 0
    key = capsys.readouterr().out
    unknown = main(["consent", "revoke", "ab" * 16, *args])
    # Assert
    assert issued["scope"] == ["score"] and issued["max_uses"] == 3
    assert revoked["revoked"] is True
    assert revoked["operator"].startswith("not pushed to operator:")
    assert [c["consent_id"] for c in listed] == [issued["consent_id"]]
    assert listed[0]["revoked_at"] is not None
    assert key.startswith("-----BEGIN PUBLIC KEY-----")
    assert unknown == 2
    assert PHONE not in json.dumps([issued, revoked, listed])
