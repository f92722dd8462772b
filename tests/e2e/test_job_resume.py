"""A joint logistic regression interrupted mid-training resumes from its last epoch
checkpoint: kill -9 of the operator, or of `bank-node job run`, after at least one
epoch was checkpointed; the node restarts, `bank-node job resume ID` continues the job
and reaches the validation AUC of an uninterrupted run with the same seed (within
0.002); the report says where it resumed from and no checkpoint is left behind. Its
per-epoch table has every epoch once with its validation AUC, those before the
checkpoint computed from both parties' checkpointed logit shares (the operator's
restarted without them in memory), each as the uninterrupted run's."""

from __future__ import annotations

import json
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from node_core.config import load_config
from node_core.store import SqliteStateStore
from scripts.fate_data import write_party_files
from scripts.local_nodes import BIN, LocalPair
from tests.e2e.test_job_faults import JobProcess

pytestmark = pytest.mark.slow

SESSION_IDLE_S = 4.0
EPOCHS = 5


def _bodies(data: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    files = write_party_files("breast", data)
    operator = {
        "counterparts": [
            {
                "party_id": "bank-a",
                "identity": "bank-a",
                "limits": {"psi_min_set_size": 10},
                "policy": {
                    "purposes": ["credit_risk"],
                    "features": ["o_*"],
                    "approval": "auto",
                    "min_batch_size": 64,
                    "max_epochs": EPOCHS,
                    # Breast data: the bank's features nearly separate it alone
                    # (as in tests/integration/test_joint_job.py).
                    "min_rank_mixing": 20.0,
                    # Three jobs are evaluated on the same rows here: the
                    # uninterrupted run and one resumed run per test (each resumed
                    # job spends one place however often it resumes).
                    "max_models_per_rows": 3,
                },
            }
        ],
        "data": {"subscribers": {"path": str(files.operator), "numeric": ["o_*"]}},
        "jobs": {"session_idle_s": SESSION_IDLE_S, "resume_window_s": 600},
    }
    bank = {
        "counterparts": [{"party_id": "operator", "identity": "operator"}],
        "data": {
            "customers": {"path": str(files.bank), "label": "y", "numeric": ["b_*"]}
        },
        "jobs": {"heartbeat_s": 0.5, "heartbeat_timeout_s": 4.0},
    }
    return operator, bank


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPair]:
    root = tmp_path_factory.mktemp("resume")
    operator, bank = _bodies(root / "data")
    job = {
        "job": {"name": "long-model", "purpose": "credit_risk"},
        "data": {"source": "customers"},
        "operator": {"features": ["o_*"]},
        "selection": {"top_k": 8},
        "model": {
            "epochs": EPOCHS,
            "batch_size": 128,
            "learning_rate": 0.1,
            "seed": 11,
        },
        "report": {"output": str(root / "reports")},
    }
    (root / "job.toml").write_text(tomli_w.dumps(job))
    with LocalPair(root / "run", operator, bank) as started:
        yield started


def _cli(pair: LocalPair, *args: str) -> subprocess.CompletedProcess[str]:
    config = pair.nodes["bank"].config
    return subprocess.run(
        [str(BIN / "bank-node"), "job", *args, "--config", str(config)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def uninterrupted(pair: LocalPair) -> dict[str, Any]:
    out = _cli(pair, "run", str(pair.work.parent / "job.toml"))
    assert out.returncode == 0, out.stderr
    summary: dict[str, Any] = json.loads(out.stdout)
    return summary


def _store(pair: LocalPair, node: str) -> SqliteStateStore:
    config = load_config(pair.nodes[node].config)
    return SqliteStateStore(config.state_dir, config.party_id)


def _status(pair: LocalPair, node: str, job_id: str) -> str:
    store = _store(pair, node)
    try:
        return store.get_job(job_id).status.value
    finally:
        store.close()


def _audited(pair: LocalPair, node: str, job_id: str) -> list[str]:
    store = _store(pair, node)
    try:
        return [e.action for e in store.audit_entries() if e.subject == job_id]
    finally:
        store.close()


def _checkpoints(pair: LocalPair, node: str, job_id: str) -> Path:
    return load_config(pair.nodes[node].config).state_dir / "checkpoints" / job_id


def _restart_operator(pair: LocalPair) -> None:
    """The operator again, on the address the bank's config names."""
    operator = pair.nodes["operator"]
    operator.process.wait(30)
    doc = tomllib.loads(operator.config.read_text())
    doc["listen"] = operator.address
    operator.config.write_text(tomli_w.dumps(doc))
    pair.nodes["operator"] = pair._start("operator-node", "operator", operator.config)


def _history(summary: dict[str, Any]) -> list[dict[str, Any]]:
    report = json.loads(Path(summary["report"]).with_suffix(".json").read_text())
    history: list[dict[str, Any]] = report["history"]
    return history


def _assert_epoch_table(summary: dict[str, Any], uninterrupted: dict[str, Any]) -> None:
    """Every epoch once, in order, each with the uninterrupted run's validation AUC;
    the best epoch's is the final model's."""
    history, reference = _history(summary), _history(uninterrupted)
    assert [h["epoch"] for h in history] == list(range(1, summary["epochs_run"] + 1))
    assert [h["epoch"] for h in history] == [h["epoch"] for h in reference]
    aucs = [h["validation_auc"] for h in history]
    assert all(a is not None and 0.9 < a <= 1 for a in aucs), aucs
    for got, want in zip(aucs, (h["validation_auc"] for h in reference), strict=True):
        assert abs(got - want) < 0.002, (aucs, reference)
    best = aucs[summary["best_epoch"] - 1]
    assert abs(best - summary["validation_auc"]) < 2e-3


def _resume(pair: LocalPair, job_id: str) -> dict[str, Any]:
    out = _cli(pair, "resume", job_id)
    assert out.returncode == 0, out.stderr
    summary: dict[str, Any] = json.loads(out.stdout)
    return summary


def test_job_resumes_to_the_same_auc_if_the_operator_is_killed_mid_training(
    pair: LocalPair, uninterrupted: dict[str, Any]
) -> None:
    # Prepare
    job = JobProcess(pair)
    job_id = job.job_id()
    job.wait_for(r"epoch 2/")  # epoch 1 is checkpointed on both sides
    # Execute
    pair.nodes["operator"].process.kill()
    code, _, line = job.finished(60)
    _restart_operator(pair)
    interrupted = (_status(pair, "bank", job_id), _status(pair, "operator", job_id))
    summary = _resume(pair, job_id)
    # Assert
    assert code == 2
    assert line.endswith(f"bank-node job resume {job_id}"), line
    assert interrupted == ("running", "running")
    assert summary["resumed_from_epoch"] >= 1
    assert abs(summary["validation_auc"] - uninterrupted["validation_auc"]) < 0.002
    assert (_status(pair, "bank", job_id), _status(pair, "operator", job_id)) == (
        "succeeded",
        "succeeded",
    )
    assert "job.interrupted" in _audited(pair, "operator", job_id)
    assert "job.resumed" in _audited(pair, "operator", job_id)
    _assert_epoch_table(summary, uninterrupted)
    assert not _checkpoints(pair, "bank", job_id).exists()
    assert not _checkpoints(pair, "operator", job_id).exists()


def test_job_resumes_to_the_same_auc_if_job_run_is_killed_mid_training(
    pair: LocalPair, uninterrupted: dict[str, Any]
) -> None:
    # Prepare
    job = JobProcess(pair)
    job_id = job.job_id()
    job.wait_for(r"epoch 2/")
    # Execute: kill -9; the operator's idle timeout passes (the job waits for a
    # resume instead of failing)
    job.process.kill()
    job.process.wait(30)
    time.sleep(SESSION_IDLE_S + 6)
    operator_status = _status(pair, "operator", job_id)
    summary = _resume(pair, job_id)
    # Assert
    assert operator_status == "running"
    assert summary["resumed_from_epoch"] >= 1
    assert abs(summary["validation_auc"] - uninterrupted["validation_auc"]) < 0.002
    assert (_status(pair, "bank", job_id), _status(pair, "operator", job_id)) == (
        "succeeded",
        "succeeded",
    )
    assert "job.interrupted" in _audited(pair, "operator", job_id)
    _assert_epoch_table(summary, uninterrupted)
    assert not _checkpoints(pair, "bank", job_id).exists()
    assert not _checkpoints(pair, "operator", job_id).exists()


def test_job_resume_is_refused_if_the_job_has_ended(
    pair: LocalPair, uninterrupted: dict[str, Any]
) -> None:
    # Prepare
    job_id = uninterrupted["job_id"]
    # Execute
    out = _cli(pair, "resume", job_id)
    # Assert
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1] == (
        f"bank-node: error: job resume: job {job_id} is succeeded; only an"
        " interrupted running job can resume"
    )
