"""PSI across two real processes: `operator-node serve` with its subscriber file and
`bank-node psi`, each with its own worker processes, over loopback mutual TLS."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import tomli_w

from tests.integration.psi_support import make_sets
from tests.nodes import Pki

BIN = Path(sys.executable).parent


def _config(path: Path, pki: Pki, party: str, role: str, **extra: object) -> Path:
    cert = pki.certs[party]
    doc = {
        "party_id": party,
        "role": role,
        "listen": "127.0.0.1:0",
        "state_dir": f"state-{party}",
        "tls": {"ca": str(pki.ca.cert), "cert": str(cert.cert), "key": str(cert.key)},
        "log": {"format": "json"},
        "psi": {"workers": 1},
        **extra,
    }
    path.write_text(tomli_w.dumps(doc))
    return path


def test_bank_node_psi_matches_plain_sets_if_run_between_two_processes(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare
    sets = make_sets(seed=11, operator_size=600, bank_size=300, overlap=120)
    pd.DataFrame({"phone": sets.operator_rows}).to_parquet(tmp_path / "subs.parquet")
    pd.DataFrame({"phone": sets.bank_rows}).to_csv(tmp_path / "bank.csv", index=False)
    op_config = _config(
        tmp_path / "operator.toml",
        pki,
        "operator",
        "operator",
        counterparts=[
            {
                "party_id": "bank-a",
                "identity": "bank-a",
                "policy": {
                    "purposes": ["marketing"],
                    "psi_modes": ["intersection"],
                    "approval": "auto",
                },
            }
        ],
        data={"subscribers": {"path": "subs.parquet"}},
        psi={"workers": 1, "source": "subscribers"},
    )
    operator = subprocess.Popen(
        [str(BIN / "operator-node"), "serve", "--config", str(op_config)],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "operator.log").open("w"),
    )
    runtime = tmp_path / "state-operator" / "node.json"
    deadline = time.time() + 60
    while not runtime.exists() and operator.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    address = json.loads(runtime.read_text())["address"]
    bank_config = _config(
        tmp_path / "bank.toml",
        pki,
        "bank-a",
        "bank",
        counterparts=[
            {"party_id": "operator", "identity": "operator", "address": address}
        ],
    )
    # Execute
    try:
        out = subprocess.run(
            [str(BIN / "bank-node"), "psi", "--config", str(bank_config)]
            + ["--input", str(tmp_path / "bank.csv"), "--mode", "intersection"]
            + ["--purpose", "marketing", "--write-rows"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        operator.send_signal(signal.SIGTERM)
        code = operator.wait(60)
    # Assert
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    matched = pd.read_csv(Path(summary["output"]) / "intersection.csv")
    assert matched["source_row"].tolist() == sets.expected_bank_rows()
    assert "psi: reblinded 100%" in out.stderr  # progress was shown
    assert code == 0
