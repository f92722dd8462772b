"""A lookalike split-NN job (examples/lookalike_job.toml) through `bank-node job run`
between two node processes on a small generated world: the labels are the bank's seed
audience (card-wallet activators), the job succeeds on both sides, its report counts
the seed from file to aligned splits exactly as the world's ground truth says, and
the model finds seed members better than chance."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest
import tomli_w

from node_core.certs import IssuedCert, ca_stem, init_dev_pki
from protocol.split_nn.pki import issue_superlink_cert
from scripts.local_nodes import EXAMPLES, LocalPair, node_body

pytestmark = pytest.mark.slow  # a generated world and a Flower deployment


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = Path(tmp_path_factory.mktemp("world-lookalike"))
    subprocess.run(
        [sys.executable, "-m", "scripts.generate_world", "--subscribers", "80000",
         "--seed", "13", "--out", str(root / "world"), "--no-report"],
        check=True, capture_output=True,
    )  # fmt: skip
    return root


def _expected_counts(world: Path) -> dict[str, int]:
    """The seed's counts from the world's files and ground truth (who is a
    subscriber), independently of the nodes."""
    bank = world / "world" / "banks" / "bank-a"
    seed = set(pd.read_parquet(bank / "seed_audience.parquet")["phone"])
    truth = pd.read_parquet(
        world / "world" / "ground_truth" / "bank-a_customers_truth.parquet"
    )
    on_network = set(truth.loc[truth["on_network"], "phone"])
    return {
        "seed_numbers": len(seed),
        "seed_in_source": len(seed & set(truth["phone"])),
        "aligned": len(on_network),
        "aligned_members": len(seed & on_network),
    }


def test_lookalike_job_reports_seed_counts_and_finds_members_if_run_by_the_cli(
    world: Path,
) -> None:
    # Prepare: the dev PKI, the SuperLink's certificate, the example job
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
    job = tomllib.loads((EXAMPLES / "lookalike_job.toml").read_text())
    job["model"] |= {"rounds": 8, "learning_rate": 0.01}
    job["report"]["output"] = str(world / "reports")
    (world / "job.toml").write_text(tomli_w.dumps(job))
    expected = _expected_counts(world)
    # Execute
    with LocalPair(world / "run", operator, bank) as pair:
        out = pair.run("bank-node", "job", "run", str(world / "job.toml"))
        listed = pair.run("operator-node", "jobs", "list", node="operator").stdout
        codes = pair.stop()
    summary = json.loads(out.stdout)
    look = summary["lookalike"]
    shown = ("validation_auc", "bank_only_validation_auc", "lookalike")
    print(json.dumps({k: summary[k] for k in shown}))  # measured: README
    report = json.loads(Path(summary["report"]).with_suffix(".json").read_text())
    # Assert: both sides succeeded; the operator saw the task and purpose
    assert codes == {"operator": 0, "bank": 0}
    line = next(x for x in listed.splitlines() if summary["job_id"] in x)
    assert "succeeded" in line and "marketing (lookalike)" in line
    # the seed's counts, from file to the aligned splits
    assert summary["task"] == "lookalike"
    assert report["metadata"]["task"] == "lookalike"
    assert {k: look[k] for k in expected} == expected
    assert look["train_members"] + look["validation_members"] == look["aligned_members"]
    assert summary["rows"] == {
        "train": expected["aligned"] - summary["rows"]["validation"],
        "validation": summary["rows"]["validation"],
    }
    assert report["tables"]["lookalike"]["rows"]
    # the model ranks seed members above the rest: AUC over chance by a margin the
    # validation members (~120) resolve, and the top decile holds well over a tenth
    # of them (measured in the README)
    assert look["validation_auc"] == summary["validation_auc"]
    assert look["validation_auc"] > 0.6, look
    assert look["top_decile_capture"] > 0.2, look
