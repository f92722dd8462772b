"""Interrupted jobs with an agreed epoch checkpoint are kept for a resume instead of
failed: by the operator when it restarts and when their bank goes quiet (until
`jobs.resume_window_s`, then failed with their checkpoints deleted), and by the bank's
reconciler; jobs without one still fail."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bank_node.job_command import resumable_runner
from bank_node.job_reconcile import RUNNER_GONE, reconcile_bank_jobs, runner_identity
from node_core.checkpoint import JobCheckpoints, blob_array
from node_core.config import ConfigError
from node_core.node import NodeContext
from node_core.reconcile import Interrupted
from operator_node.cli import operator_services
from protocol.domain import JobStatus
from tests.integration.test_job_lifecycle import (
    _bank,
    _operator_config,
    _propose,
    _running_job,
    _status,
    _wait_for,
)
from tests.nodes import Pki, running_node

JOB = "feed0000feed0000"
OTHER = "feed3333feed3333"


def _agreed_checkpoint(ctx: NodeContext, job_id: str) -> JobCheckpoints:
    store = JobCheckpoints(ctx.config.state_dir, job_id)
    own = store.write(1, {}, {"state": blob_array(b"state")})
    store.agree(1, bank="ab" * 32, operator=own, own="operator")
    return store


def _actions(ctx: NodeContext, job_id: str) -> list[str]:
    return [e.action for e in ctx.store.audit_entries() if e.subject == job_id]


def test_operator_keeps_a_checkpointed_job_if_it_restarts_and_fails_one_without(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: two jobs the previous operator process left running
    config = _operator_config(tmp_path, pki, idle_s=30)
    left = NodeContext.open(config)
    _running_job(left, JOB, {"proposal": {}})
    _running_job(left, OTHER, {"proposal": {}})
    kept = _agreed_checkpoint(left, JOB)
    left.store.close()
    # Execute
    with running_node(config, operator_services) as operator:
        resumable = operator.ctx.store.get_job(JOB)
        failed = operator.ctx.store.get_job(OTHER)
        actions = _actions(operator.ctx, JOB)
    # Assert
    assert resumable.status is JobStatus.RUNNING
    assert "job.interrupted" in actions
    assert kept.latest() is not None
    assert failed.status is JobStatus.FAILED


def test_operator_keeps_a_quiet_checkpointed_job_for_the_resume_window_only(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: the bank proposes, the job runs and is checkpointed, the bank goes
    # quiet; the resume window is short
    config = _operator_config(tmp_path, pki, idle_s=1)
    config = replace(config, jobs=replace(config.jobs, resume_window_s=3))
    with running_node(config, operator_services) as operator:
        with _bank(tmp_path, pki, operator.address) as bank:
            assert _propose(bank) is JobStatus.APPROVED
        operator.ctx.store.set_job_status(JOB, JobStatus.RUNNING)
        store = _agreed_checkpoint(operator.ctx, JOB)
        # Execute
        _wait_for(lambda: "job.interrupted" in _actions(operator.ctx, JOB), 10)
        while_kept = _status(operator)
        _wait_for(lambda: _status(operator) is JobStatus.FAILED, 15)
        error = operator.ctx.store.get_job(JOB).error
    # Assert
    assert while_kept is JobStatus.RUNNING
    assert error == "not resumed within 3 s (jobs.resume_window_s)"
    assert not store.folder.exists()


def test_bank_keeps_a_dead_runners_checkpointed_job_if_reconciled(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: two jobs of a runner that exited, one with an agreed checkpoint
    dead = subprocess.run(
        [sys.executable, "-c", "import os, psutil; p = psutil.Process();"
         " print(os.getpid(), p.create_time())"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    gone = {"runner": {"pid": int(dead[0]), "started": float(dead[1])}}
    config = _operator_config(tmp_path, pki, idle_s=30)
    with running_node(config, operator_services) as operator:
        with _bank(tmp_path, pki, operator.address) as bank:
            _running_job(bank, JOB, gone)
            _running_job(bank, OTHER, gone)
            kept = _agreed_checkpoint(bank, JOB)
            unagreed = JobCheckpoints(bank.config.state_dir, OTHER)
            unagreed.write(1, {}, {})
            # Execute
            done = reconcile_bank_jobs(bank)
            resumable = bank.store.get_job(JOB)
            failed = bank.store.get_job(OTHER)
    # Assert
    assert {(r.job.id, r.outcome) for r in done} == {
        (JOB, Interrupted.RESUMABLE),
        (OTHER, Interrupted.FAIL),
    }
    assert resumable.status is JobStatus.RUNNING
    assert kept.latest() is not None
    assert (failed.status, failed.error) == (JobStatus.FAILED, RUNNER_GONE)
    assert not unagreed.folder.exists()


def test_job_resume_is_refused_by_the_cli_if_the_job_cannot_resume(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: an ended job, one whose runner is alive, one without a checkpoint
    with _bank(tmp_path, pki, "127.0.0.1:9") as bank:
        _running_job(bank, JOB, {"runner": runner_identity()})
        _agreed_checkpoint(bank, JOB)
        _running_job(bank, OTHER, {})
        bank.store.create_job("hetero_lr", "operator", {}, "feed4444feed4444")
        bank.store.set_job_status("feed4444feed4444", JobStatus.FAILED, error="x")
        # Execute
        errors = {}
        for job_id in ("feed9999feed9999", "feed4444feed4444", JOB, OTHER):
            with pytest.raises(ConfigError) as info:
                resumable_runner(bank, job_id)
            errors[job_id] = str(info.value)
    # Assert
    assert errors == {
        "feed9999feed9999": "job resume: no job feed9999feed9999",
        "feed4444feed4444": "job resume: job feed4444feed4444 is failed; only an"
        " interrupted running job can resume",
        JOB: f"job resume: job {JOB} is still running",
        OTHER: f"job resume: job {OTHER} has no checkpoint both parties agreed on;"
        " it cannot resume",
    }
