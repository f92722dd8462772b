"""SecureBoost through the CLIs of two node processes on a generated world: the
example job runs to the end with trees that learned from both parties' features, and
the bank exports its part as XGBoost's JSON dump with the operator's splits as opaque
references. (Whether the operator's features add AUC is not asserted here: on a world
of 80,000 subscribers the validation split is too small to tell, see the LR e2e test;
SecureBoost's quality is the plaintext-reference equality of the integration tests and
the AUC against XGBoost in scripts/bench_secureboost.py.)"""

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
    root = Path(tmp_path_factory.mktemp("world-sbt"))
    subprocess.run(
        [sys.executable, "-m", "scripts.generate_world", "--subscribers", "80000",
         "--seed", "11", "--out", str(root / "world"), "--no-report"],
        check=True, capture_output=True,
    )  # fmt: skip
    return root


def test_secureboost_job_runs_and_exports_if_run_through_node_processes(
    world: Path,
) -> None:
    # Prepare: the example job, fewer rounds.
    operator = node_body(EXAMPLES / "operator.toml", world)
    bank = node_body(EXAMPLES / "bank.toml", world)
    job = tomllib.loads((EXAMPLES / "secureboost_job.toml").read_text())
    job["model"] |= {"trees": 25}
    job["report"]["output"] = str(world / "reports")
    (world / "job.toml").write_text(tomli_w.dumps(job))
    export = world / "trees.json"
    # Execute
    with LocalPair(world / "run", operator, bank) as pair:
        out = pair.run("bank-node", "job", "run", str(world / "job.toml"))
        summary = json.loads(out.stdout)
        name = summary["model"]["name"]
        pair.run("bank-node", "models", "export", name, "--format", "xgboost-json",
                 "--out", str(export))  # fmt: skip
        listed = pair.run("operator-node", "jobs", "list", node="operator").stdout
        codes = pair.stop()
    trees = json.loads(export.read_text())
    report = json.loads(Path(summary["report"]).with_suffix(".json").read_text())
    # Assert
    assert codes == {"operator": 0, "bank": 0}
    assert summary["job_id"] in listed and "succeeded" in listed
    assert summary["validation_auc"] > 0.65, summary["validation_auc"]
    assert len(trees) == summary["training"]["trees"] >= 1
    splits = [n for t in trees for n in _nodes(t) if "split" in n]
    operator_splits = [n for n in splits if "split_ref" in n]
    assert operator_splits and all(
        n["split_condition"] is None and n["split_ref"].startswith("operator:")
        for n in operator_splits
    )
    assert all(isinstance(n["split_condition"], float) for n in splits
               if "split_ref" not in n)  # fmt: skip
    importance = report["tables"]["feature_importance"]["rows"]
    assert {r["party"] for r in importance} == {"bank", "operator"}


def _nodes(node: dict) -> list[dict]:
    return [node, *(n for child in node.get("children", []) for n in _nodes(child))]
