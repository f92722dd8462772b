"""The joint job through the CLIs of two node processes, on a generated world: the
joint model beats the bank-only one, as the world's hidden model says it should."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

from scripts.local_nodes import EXAMPLES, LocalPair, node_body

pytestmark = pytest.mark.slow  # generates a world of 80,000 subscribers


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = Path(tmp_path_factory.mktemp("world-job"))
    subprocess.run(
        [sys.executable, "-m", "scripts.generate_world", "--subscribers", "80000",
         "--seed", "11", "--out", str(root / "world"), "--no-report"],
        check=True, capture_output=True,
    )  # fmt: skip
    return root


def test_joint_model_beats_bank_only_if_run_through_node_processes(world: Path) -> None:
    # Prepare
    operator = node_body(EXAMPLES / "operator.toml", world)
    bank = node_body(EXAMPLES / "bank.toml", world)
    job = tomllib.loads((EXAMPLES / "credit_default_job.toml").read_text())
    job["model"] |= {"epochs": 8, "batch_size": 2048}
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
    assert joint > alone + 0.02, f"joint {joint} vs bank-only {alone}"
    assert Path(summary["report"]).exists()
