"""The joint job through the CLIs of two node processes, on a generated world: the
joint model beats the same training on the bank's features alone by what the world's
hidden model says the operator's data is worth."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest
import tomli_w
from sklearn.metrics import roc_auc_score

from scripts.local_nodes import EXAMPLES, LocalPair, node_body

# Generates the demo-size world (200,000 subscribers) and runs a job on it: about 4
# minutes on an idle 2-core machine, three times that under load.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = Path(tmp_path_factory.mktemp("world-job"))
    subprocess.run(
        [sys.executable, "-m", "scripts.generate_world", "--subscribers", "200000",
         "--seed", "11", "--out", str(root / "world"), "--no-report"],
        check=True, capture_output=True,
    )  # fmt: skip
    return root


def hidden_operator_lift(world: Path) -> float:
    """AUC the hidden default model gains from its operator terms on the bank's
    on-network loan customers (the job's rows): AUC(bank + operator parts of the true
    logit) - AUC(bank part). The ceiling of what joint modeling can add."""
    truth = pd.read_parquet(world / "ground_truth" / "bank-a_customers_truth.parquet")
    labels = pd.read_parquet(
        world / "banks" / "bank-a" / "customers.parquet",
        columns=["customer_id", "default_12m"],
    )
    rows = truth.merge(labels, on="customer_id")
    rows = rows[rows["on_network"] & rows["default_12m"].notna()]
    y = rows["default_12m"].astype(int)
    bank = rows["default_logit_bank"]
    return float(
        roc_auc_score(y, bank + rows["default_logit_operator"]) - roc_auc_score(y, bank)
    )


def test_joint_model_beats_bank_only_if_run_through_node_processes(world: Path) -> None:
    # Prepare: the demo's job, with 8 epochs instead of 12.
    operator = node_body(EXAMPLES / "operator.toml", world)
    bank = node_body(EXAMPLES / "bank.toml", world)
    job = tomllib.loads((EXAMPLES / "credit_default_job.toml").read_text())
    job["model"]["epochs"] = 8
    job["report"]["output"] = str(world / "reports")
    (world / "job.toml").write_text(tomli_w.dumps(job))
    lift = hidden_operator_lift(world / "world")
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
    # Why half the hidden lift: the hidden model puts about 0.075 of AUC in its
    # operator terms (log-counts, thresholds) on these ~16,000 rows; a linear model
    # on the standardised raw columns, trained like the bank-only baseline (same
    # preprocessing, optimizer, batches, epochs), realised 0.066-0.093 of it on four
    # 200,000-subscriber worlds (seeds 7, 11, 12, 13; a plaintext replica of this
    # job, which reproduces the protocol's AUCs to 1e-6).
    # The difference of two AUCs on ~4,800 validation rows (~235 defaults) varies by
    # about 0.01, so half the lift is >= 2 of those below the expected gain and far
    # above no gain. (At 80,000 subscribers, ~95 validation defaults, the gain ranged
    # from -0.003 to 0.051 over three seeds: too few rows to test a difference.)
    assert lift > 0.05, f"the world's operator terms are worth only {lift:.4f}"
    assert joint - alone >= lift / 2, (
        f"joint {joint} vs bank-only {alone}: gain {joint - alone:.4f}, hidden"
        f" operator lift {lift:.4f}"
    )
    assert Path(summary["report"]).exists()
