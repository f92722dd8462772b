"""Jobs end on both sides when a party goes away: the operator ends jobs whose bank
went quiet and reconciles the jobs its previous process left running; the bank's
watch trips when the operator stops answering, ends the job, or a stage runs late; the
bank fails jobs whose runner is gone, here and at the operator."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bank_node.job_reconcile import RUNNER_GONE, reconcile_bank_jobs, runner_identity
from bank_node.job_watch import JobWatch
from node_core.node import NodeContext
from operator_node.cli import operator_services
from protocol.domain import JobStatus
from protocol.jobs.messages import JobOutcome, JobProposal
from protocol.jobs.service import JobsClient
from scripts.fate_data import write_party_files
from tests.nodes import Pki, RunningNode, running_node, write_config

JOB = "feed0000feed0000"


def _operator_config(root: Path, pki: Pki, idle_s: float, approval: str = "auto"):
    files = write_party_files("breast", root / "data")
    return write_config(
        root / "operator.toml",
        pki,
        "operator",
        "operator",
        [
            {
                "party_id": "bank-a",
                "identity": "bank-a",
                "policy": {
                    "purposes": ["credit_risk"],
                    "features": ["o_*"],
                    "approval": approval,
                    "min_batch_size": 64,
                },
            }
        ],
        data={"subscribers": {"path": str(files.operator), "numeric": ["o_*"]}},
        jobs={"session_idle_s": idle_s},
    )


@contextmanager
def _bank(root: Path, pki: Pki, address: str, **jobs: float) -> Iterator[NodeContext]:
    config = write_config(
        root / "bank.toml",
        pki,
        "bank-a",
        "bank",
        [{"party_id": "operator", "identity": "operator", "address": address}],
        jobs={"heartbeat_s": 0.2, "heartbeat_timeout_s": 1.5, **jobs},
    )
    ctx = NodeContext.open(config)
    try:
        yield ctx
    finally:
        ctx.store.close()


def _propose(ctx: NodeContext, job_id: str = JOB) -> JobStatus:
    with ctx.channel("operator") as channel:
        decision = JobsClient(channel, 10).propose(
            JobProposal(job_id, "credit_risk", ("o_*",), "hetero_lr", 569, 128)
        )
    return decision.status


def _wait_for(check: Callable[[], Any], seconds: float) -> Any:
    end = time.monotonic() + seconds
    while not (value := check()):
        if time.monotonic() > end:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.1)
    return value


def _status(node: RunningNode, job_id: str = JOB) -> JobStatus:
    return node.ctx.store.get_job(job_id).status


def test_job_fails_and_frees_its_session_if_its_bank_stops_calling(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare
    config = _operator_config(tmp_path, pki, idle_s=1)
    with running_node(config, operator_services) as operator:
        with _bank(tmp_path, pki, operator.address) as bank:
            assert _propose(bank) is JobStatus.APPROVED
            # Execute: the bank says nothing more
            _wait_for(lambda: _status(operator) is JobStatus.FAILED, 10)
            with bank.channel("operator") as channel:
                decision = JobsClient(channel, 10).status(JOB)
    # Assert
    assert decision.status is JobStatus.FAILED
    assert decision.message == "no call from bank-a for 1 s (jobs.session_idle_s)"


def test_pending_job_is_cancelled_if_its_bank_stops_waiting_for_approval(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare
    config = _operator_config(tmp_path, pki, idle_s=1, approval="manual")
    with running_node(config, operator_services) as operator:
        with _bank(tmp_path, pki, operator.address) as bank:
            assert _propose(bank) is JobStatus.PENDING_APPROVAL
            # Execute
            _wait_for(lambda: _status(operator) is JobStatus.CANCELLED, 10)
            job = operator.ctx.store.get_job(JOB)
    # Assert
    assert job.error == (
        "no call from bank-a for 1 s (jobs.session_idle_s) while waiting for approval"
    )


def test_heartbeats_keep_a_job_alive_if_the_runner_makes_no_other_call(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare
    config = _operator_config(tmp_path, pki, idle_s=1)
    with running_node(config, operator_services) as operator:
        with _bank(tmp_path, pki, operator.address) as bank:
            _propose(bank)
            channel = bank.channel("operator")
            with JobWatch(channel, JOB, bank.config.jobs, 10) as watch:
                watch.heartbeat()
                # Execute: three idle periods of heartbeats only
                time.sleep(3)
                status = _status(operator)
            channel.close()
    # Assert
    assert status is JobStatus.APPROVED
    assert watch.reason == ""


def test_watch_trips_if_the_operator_stops_answering(pki: Pki, tmp_path: Path) -> None:
    # Prepare
    config = _operator_config(tmp_path, pki, idle_s=30)
    with running_node(config, operator_services) as operator:
        address = operator.address
        with _bank(tmp_path, pki, address) as bank:
            _propose(bank)
    with _bank(tmp_path, pki, address) as bank:
        channel = bank.channel("operator")
        with JobWatch(channel, JOB, bank.config.jobs, 10) as watch:
            watch.heartbeat()
            # Execute: the operator is gone
            reason = _wait_for(lambda: watch.reason, 10)
    # Assert
    assert re.fullmatch(
        r"the operator has not answered for \d+ s \(jobs.heartbeat_timeout_s = 1.5\);"
        r" last heartbeat: (UNAVAILABLE|DEADLINE_EXCEEDED)",
        reason,
    )


def test_watch_trips_if_the_operator_ended_the_job(pki: Pki, tmp_path: Path) -> None:
    # Prepare
    config = _operator_config(tmp_path, pki, idle_s=30)
    with running_node(config, operator_services) as operator:
        with _bank(tmp_path, pki, operator.address) as bank:
            _propose(bank)
            channel = bank.channel("operator")
            with JobWatch(channel, JOB, bank.config.jobs, 10) as watch:
                watch.heartbeat()
                # Execute: another runner of this bank reports the job failed
                with bank.channel("operator") as other:
                    JobsClient(other, 10).finish(JobOutcome(JOB, False, "disk full"))
                reason = _wait_for(lambda: watch.reason, 10)
    # Assert
    assert reason == "the operator reports the job failed: disk full"


def test_watch_trips_if_a_stage_runs_past_its_deadline(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare
    config = _operator_config(tmp_path, pki, idle_s=30)
    with running_node(config, operator_services) as operator:
        with _bank(tmp_path, pki, operator.address) as bank:
            _propose(bank)
            channel = bank.channel("operator")
            with JobWatch(channel, JOB, bank.config.jobs, 10) as watch:
                # Execute
                with watch.stage("train", 0.5):
                    reason = _wait_for(lambda: watch.reason, 10)
    # Assert
    assert reason == "stage train ran past its deadline of 0.5 s (deadlines.train_s)"


def _running_job(ctx: NodeContext, job_id: str, spec: dict[str, Any]) -> None:
    counterpart = ctx.config.counterparts[0].party_id
    ctx.store.create_job("hetero_lr", counterpart, spec, job_id)
    ctx.store.set_job_status(job_id, JobStatus.APPROVED)
    ctx.store.set_job_status(job_id, JobStatus.RUNNING)


def test_operator_fails_jobs_left_running_if_it_restarts_or_stops(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: a job the previous operator process left running.
    config = _operator_config(tmp_path, pki, idle_s=30)
    with running_node(config, operator_services) as operator:
        pass
    left = NodeContext.open(config)
    _running_job(left, JOB, {"proposal": {}})
    left.store.close()
    # Execute: a restart; then a job running when it stops
    with running_node(config, operator_services) as operator:
        after_start = operator.ctx.store.get_job(JOB)
        _running_job(operator.ctx, "feed1111feed1111", {"proposal": {}})
    stopped = NodeContext.open(config)
    after_stop = stopped.store.get_job("feed1111feed1111")
    stopped.store.close()
    # Assert
    assert after_start.status is JobStatus.FAILED
    assert after_start.error == (
        "the operator restarted while the job was running; its protocol state was lost"
    )
    assert after_stop.status is JobStatus.FAILED
    assert after_stop.error == "the operator stopped while the job was running"


def test_bank_fails_jobs_of_dead_runners_on_both_sides_if_reconciled(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: one job of a runner that exited, one of this (live) process.
    dead = subprocess.run(
        [sys.executable, "-c", "import os, psutil; p = psutil.Process();"
         " print(os.getpid(), p.create_time())"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    config = _operator_config(tmp_path, pki, idle_s=30)
    with running_node(config, operator_services) as operator:
        with _bank(tmp_path, pki, operator.address) as bank:
            _propose(bank)
            gone = {"runner": {"pid": int(dead[0]), "started": float(dead[1])}}
            _running_job(bank, JOB, gone)
            _running_job(bank, "feed2222feed2222", {"runner": runner_identity()})
            # Execute
            done = reconcile_bank_jobs(bank)
            bank_job = bank.store.get_job(JOB)
            live_job = bank.store.get_job("feed2222feed2222")
        operator_job = operator.ctx.store.get_job(JOB)
    # Assert
    assert [r.job.id for r in done] == [JOB]
    assert (bank_job.status, bank_job.error) == (JobStatus.FAILED, RUNNER_GONE)
    assert live_job.status is JobStatus.RUNNING
    assert (operator_job.status, operator_job.error) == (JobStatus.FAILED, RUNNER_GONE)
