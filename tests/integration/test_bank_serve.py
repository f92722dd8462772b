"""`bank-node serve` answers the handshake, health and diagnostics only (README): the
operator can check the connection from its side, and nothing else is served, because
in every protocol the bank is the caller."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bank_node.cli import bank_services
from operator_node.cli import main as operator_main
from protocol.errors import PeerCallError
from protocol.jobs.messages import FeatureQuery
from protocol.jobs.service import JobsClient
from protocol.transport import TlsMaterial, connect, health_check
from tests.nodes import Pki, running_node, write_config


def test_bank_serve_answers_handshake_only_if_operator_calls_it(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Prepare: a bank node serving, and an operator configured with its address.
    bank = write_config(
        tmp_path / "bank.toml", pki, "bank-a", "bank",
        [{"party_id": "operator", "identity": "operator"}],
    )  # fmt: skip
    with running_node(bank, bank_services) as node:
        write_config(
            tmp_path / "operator.toml", pki, "operator", "operator",
            [{"party_id": "bank-a", "identity": "bank-a", "address": node.address}],
        )  # fmt: skip
        cert = pki.certs["operator"]
        tls = TlsMaterial.from_files(pki.ca.cert, cert.cert, cert.key)
        # Execute
        code = operator_main(
            ["handshake", "--counterpart", "bank-a",
             "--config", str(tmp_path / "operator.toml")]
        )  # fmt: skip
        with connect(node.address, "bank-a", tls) as channel:
            health = health_check(channel, 10)
            with pytest.raises(PeerCallError) as info:
                JobsClient(channel, 10).features(FeatureQuery())
    # Assert
    hello = json.loads(capsys.readouterr().out)
    assert code == 0 and hello["counterpart"] == "bank-a"
    assert hello["health"] == health == "SERVING"
    assert info.value.code == "UNIMPLEMENTED"
