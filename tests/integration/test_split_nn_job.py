"""A split-NN job through the bank's job runner against a serving operator node: the
Flower SuperLink and SuperNode run as real processes (TLS, SuperNode authentication),
started and stopped by the two nodes; the job ends succeeded or failed on both sides."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w
import torch

from bank_node.job_runner import JobRun, JobRunner
from bank_node.jobspec import JobSpec, parse_job_spec
from bank_node.trainers.split_nn import arrays_from_payload
from models.split_nn import BankTop, SplitNnSpec, TrainHyper
from node_core.model_registry import ModelRegistry
from protocol.domain import JobStatus
from protocol.split_nn.bank import BankData
from protocol.split_nn.party import OPERATOR_FEATURES_FILE, OPERATOR_MODEL_FILE
from protocol.split_nn.pki import issue_superlink_cert
from protocol.split_nn.server_app import EMBEDDINGS_FILE, SCORES_FILE
from tests.joint import JointSetup, joint_setup
from tests.nodes import Pki

pytestmark = pytest.mark.slow  # Flower processes: ~1 min per job on 2 shared cores

MODEL = {
    "type": "split_nn",
    "rounds": 2,
    "batch_size": 64,
    "learning_rate": 0.01,
    "defence_batch": 128,
    "embedding": 4,
    "operator_hidden": [8],
    "bank_hidden": [8],
    "top_hidden": [8],
}


def job_spec(root: Path, model: dict[str, Any]) -> JobSpec:
    doc = {
        "job": {"name": "nn-model", "purpose": "credit_risk"},
        "data": {"source": "customers"},
        "operator": {"features": ["o_*"]},
        "model": model,
        "report": {"output": str(root / "reports")},
    }
    path = root / "job.toml"
    path.write_text(tomli_w.dumps(doc))
    return parse_job_spec(doc, path)


def _with_superlink(setup: JointSetup, pki: Pki) -> None:
    """The bank's SuperLink certificate, from the CA the operator pins for it."""
    issued = issue_superlink_cert(pki.ca, "bank-a", ["127.0.0.1"], setup.root / "sl")
    config = setup.bank.config
    setup.bank.config = replace(
        config,
        split_nn=replace(
            config.split_nn,
            superlink_cert=issued.cert,
            superlink_key=issued.key,
            round_timeout_s=30.0,
        ),
    )


@pytest.fixture
def setup(pki: Pki, tmp_path: Path) -> Iterator[JointSetup]:
    with joint_setup(tmp_path, pki) as joint:
        _with_superlink(joint, pki)
        yield joint


@dataclass
class Succeeded:
    setup: JointSetup
    run: JobRun
    lines: list[str]


@pytest.fixture(scope="module")
def succeeded(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Succeeded]:
    root = Path(tmp_path_factory.mktemp("split-nn-job"))
    with joint_setup(root, pki) as joint:
        _with_superlink(joint, pki)
        lines: list[str] = []
        spec = job_spec(root, MODEL)
        yield Succeeded(joint, JobRunner(joint.bank, spec, lines.append).run(), lines)


def _flower_pids(job_id: str) -> list[int]:
    """Processes of this job's Flower deployment (their argv names the job)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if job_id in argv and ("flower-" in argv or "split_nn.executor" in argv):
            pids.append(int(entry.name))
    return pids


def test_split_nn_job_succeeds_on_both_sides_if_run_through_the_job_runner(
    succeeded: Succeeded,
) -> None:
    # Prepare
    setup, run = succeeded.setup, succeeded.run
    operator = setup.operator.ctx
    # Execute
    bank_status = setup.bank.store.get_job(run.job_id).status
    operator_status = operator.store.get_job(run.job_id).status
    # Assert: both sides succeeded, every Flower process stopped
    assert bank_status is JobStatus.SUCCEEDED
    assert operator_status is JobStatus.SUCCEEDED
    assert run.summary["validation_auc"] > 0.9
    assert any(line.startswith("split-nn round 2/2") for line in succeeded.lines)
    assert _flower_pids(run.job_id) == []


def test_split_nn_job_registers_both_parts_and_drops_the_feature_copy_if_it_succeeds(
    succeeded: Succeeded,
) -> None:
    # Prepare
    setup, run = succeeded.setup, succeeded.run
    operator = setup.operator.ctx
    # Execute
    bank_models = ModelRegistry(setup.bank.config.state_dir, setup.bank.store).list()
    operator_models = ModelRegistry(operator.config.state_dir, operator.store).list()
    # Assert
    assert [r.kind for r in bank_models] == ["split_nn.bank"]
    assert [r.kind for r in operator_models] == ["split_nn.operator"]
    job_folder = operator.config.state_dir / "split_nn" / run.job_id / run.job_id
    assert not (job_folder / OPERATOR_FEATURES_FILE).exists()
    assert (job_folder / OPERATOR_MODEL_FILE).is_file()


def test_registered_bank_model_predicts_the_job_scores_if_loaded_back(
    succeeded: Succeeded,
) -> None:
    # Prepare
    setup, run = succeeded.setup, succeeded.run
    record = ModelRegistry(setup.bank.config.state_dir, setup.bank.store).list()[0]
    payload = json.loads(record.path.read_text())
    job_dir = setup.bank.config.state_dir / "split_nn" / run.job_id
    data = BankData.load(job_dir, payload["spec"]["bank_features"])
    embeddings = np.load(job_dir / EMBEDDINGS_FILE, allow_pickle=False)
    scores = np.load(job_dir / SCORES_FILE, allow_pickle=False)
    spec = SplitNnSpec(
        **{
            k: tuple(v) if isinstance(v, list) else v
            for k, v in payload["spec"].items()
        }
    )
    # Execute: the registry's model on the final embeddings the bank received
    model = BankTop.from_arrays(
        spec, TrainHyper(**payload["hyper"]), arrays_from_payload(payload["arrays"])
    )
    logits = model.predict(
        torch.from_numpy(data.features[data.validation]), embeddings["validation"]
    )
    # Assert
    np.testing.assert_allclose(logits, scores["validation"], rtol=1e-5, atol=1e-6)


def test_job_fails_on_both_sides_if_the_operators_supernode_is_killed(
    setup: JointSetup,
) -> None:
    # Prepare: kill the operator's SuperNode once the first round is reported
    spec = job_spec(setup.root, MODEL | {"rounds": 4})
    killed: list[int] = []

    def progress(line: str) -> None:
        if line.startswith("split-nn round 1/") and not killed:
            for pid in _flower_pids(runner.job_id):
                argv = Path(f"/proc/{pid}/cmdline").read_bytes()
                if b"flower-supernode" in argv:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)

    runner = JobRunner(setup.bank, spec, progress=progress)
    started = time.monotonic()
    # Execute
    with pytest.raises(Exception) as err:
        runner.run()
    took = time.monotonic() - started
    # Assert: a clear error within the round deadline (30 s) plus start-up
    assert killed
    assert "split-nn run" in str(err.value)
    assert took < 240
    operator = setup.operator.ctx
    assert setup.bank.store.get_job(runner.job_id).status is JobStatus.FAILED
    deadline = time.monotonic() + 30
    while operator.store.get_job(runner.job_id).status is not JobStatus.FAILED:
        assert time.monotonic() < deadline, "the operator's job did not fail"
        time.sleep(0.2)
    # Stopping takes a SIGTERM, a second one after 5 s, then SIGKILL.
    deadline = time.monotonic() + 30
    while _flower_pids(runner.job_id):
        assert time.monotonic() < deadline, "Flower processes outlived the job"
        time.sleep(0.5)
