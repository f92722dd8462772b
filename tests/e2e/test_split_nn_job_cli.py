"""A split-NN job through `bank-node job run` between two node processes on a small
generated world: each node starts and stops its own Flower processes (SuperLink at
the bank, SuperNode at the operator), the job succeeds on both sides and the
network learns (its quality is measured by scripts/bench_split_nn.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

from node_core.certs import IssuedCert, ca_stem, init_dev_pki
from protocol.split_nn.pki import issue_superlink_cert
from scripts.local_nodes import EXAMPLES, LocalPair, node_body

pytestmark = pytest.mark.slow  # a generated world and two Flower deployments


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = Path(tmp_path_factory.mktemp("world-nn"))
    subprocess.run(
        [sys.executable, "-m", "scripts.generate_world", "--subscribers", "80000",
         "--seed", "13", "--out", str(root / "world"), "--no-report"],
        check=True, capture_output=True,
    )  # fmt: skip
    return root


def test_split_nn_job_succeeds_on_both_sides_if_run_through_node_processes(
    world: Path,
) -> None:
    # Prepare: the dev PKI, and the SuperLink's certificate from the bank's CA
    certs = world / "run" / "certs"
    init_dev_pki(certs, ["operator", "bank-a"])
    bank_ca = IssuedCert(
        certs / f"{ca_stem('bank-a')}.pem", certs / f"{ca_stem('bank-a')}.key"
    )
    superlink = issue_superlink_cert(bank_ca, "bank-a", ["127.0.0.1"], certs)
    operator = node_body(EXAMPLES / "operator.toml", world)
    bank = node_body(EXAMPLES / "bank.toml", world)
    bank["split_nn"] = {
        "superlink_cert": str(superlink.cert),
        "superlink_key": str(superlink.key),
        "superlink_ca": str(bank_ca.cert),
    }
    job = tomllib.loads((EXAMPLES / "split_nn_job.toml").read_text())
    job["model"] |= {"rounds": 12, "learning_rate": 0.01, "operator_local_epochs": 2}
    job["report"]["output"] = str(world / "reports")
    (world / "job.toml").write_text(tomli_w.dumps(job))
    # Execute
    with LocalPair(world / "run", operator, bank) as pair:
        out = pair.run("bank-node", "job", "run", str(world / "job.toml"))
        listed = pair.run("operator-node", "jobs", "list", node="operator").stdout
        codes = pair.stop()
    summary = json.loads(out.stdout)
    # Assert
    assert codes == {"operator": 0, "bank": 0}
    assert summary["job_id"] in listed and "succeeded" in listed
    joint, alone = summary["validation_auc"], summary["bank_only_validation_auc"]
    # The network learned (random scores give 0.5). On this small world (~4.5k
    # training rows, 5% positives, defence on) it is NOT reliably better than the
    # bank-only model: measured 0.689-0.710 vs 0.695-0.707 (README, known issue);
    # the quality targets are the bench's (default_credit).
    assert joint > 0.6, f"joint {joint} vs bank-only {alone}"
    assert summary["epochs_run"] == 12  # Flower rounds
    assert Path(summary["report"]).exists()
