"""A joint job through the CLIs of two node processes ends on both sides whatever
happens to a party mid-training: kill -9 or SIGSTOP of the operator, SIGTERM or
kill -9 of `bank-node job run`. The bank exits 2 with one clear line within the
deadlines, and both stores show the job failed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import tomli_w

from node_core.config import load_config
from node_core.store import SqliteStateStore
from scripts.fate_data import write_party_files
from scripts.local_nodes import BIN, LocalPair

HEARTBEAT_TIMEOUT_S = 4.0
FINISH_DEADLINE_S = 2.0
SESSION_IDLE_S = 4.0
# A job's failure is known to the bank within this (heartbeat timeout, the Finish
# call's deadline, a margin for a loaded machine).
BANK_KNOWS_S = HEARTBEAT_TIMEOUT_S + FINISH_DEADLINE_S + 20


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
                    "max_epochs": 1000,
                },
            }
        ],
        "data": {"subscribers": {"path": str(files.operator), "numeric": ["o_*"]}},
        "jobs": {"session_idle_s": SESSION_IDLE_S},
    }
    bank = {
        "counterparts": [{"party_id": "operator", "identity": "operator"}],
        "data": {
            "customers": {"path": str(files.bank), "label": "y", "numeric": ["b_*"]}
        },
        "jobs": {
            "heartbeat_s": 0.5,
            "heartbeat_timeout_s": HEARTBEAT_TIMEOUT_S,
            "finish_deadline_s": FINISH_DEADLINE_S,
        },
    }
    return operator, bank


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[LocalPair]:
    operator, bank = _bodies(tmp_path / "data")
    job = {
        "job": {"name": "long-model", "purpose": "credit_risk"},
        "data": {"source": "customers"},
        "operator": {"features": ["o_*"]},
        "model": {"epochs": 1000, "batch_size": 128, "learning_rate": 0.1},
        "report": {"output": str(tmp_path / "reports")},
    }
    (tmp_path / "job.toml").write_text(tomli_w.dumps(job))
    with LocalPair(tmp_path / "run", operator, bank) as started:
        yield started


class JobProcess:
    """`bank-node job run` in the background, its stderr collected line by line."""

    def __init__(self, pair: LocalPair) -> None:
        config = pair.nodes["bank"].config
        self.process = subprocess.Popen(
            [str(BIN / "bank-node"), "job", "run", "--config", str(config),
             str(pair.work.parent / "job.toml")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._seen = threading.Condition()
        stream: IO[str] = self.process.stderr  # type: ignore[assignment]
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._seen:
                self.lines.append(line.rstrip("\n"))
                self._seen.notify_all()

    def wait_for(self, pattern: str, seconds: float = 180) -> str:
        end = time.monotonic() + seconds
        with self._seen:
            while True:
                found = [line for line in self.lines if re.search(pattern, line)]
                if found:
                    return found[0]
                left = end - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise AssertionError(
                        f"no line matching {pattern!r}:\n" + "\n".join(self.lines)
                    )
                self._seen.wait(min(left, 0.5))

    def job_id(self) -> str:
        line = self.wait_for(r"job [0-9a-f]+ \(long-model\) created")
        return line.split()[2]

    def finished(self, seconds: float) -> tuple[int, float, str]:
        """Exit status, seconds it took from now, and the last stderr line."""
        started = time.monotonic()
        code = self.process.wait(seconds)
        took = time.monotonic() - started
        time.sleep(0.2)  # the reader thread drains the pipe
        return code, took, self.lines[-1] if self.lines else ""


def _mid_stage(job: JobProcess, stage: str) -> None:
    """Wait until the job is some way into `stage` (train, or select_features: the
    federated IV's long stream)."""
    before = {"select_features": r"psi: \d+ of \d+ bank rows", "train": r"selected \d+"}
    job.wait_for(before[stage])
    time.sleep(1.5)


def _job(pair: LocalPair, node: str, job_id: str) -> tuple[str, str]:
    """A job's status and error in a node's store (read while the node runs)."""
    config = load_config(pair.nodes[node].config)
    store = SqliteStateStore(config.state_dir, config.party_id)
    try:
        job = store.get_job(job_id)
    finally:
        store.close()
    return job.status.value, job.error


def _wait_status(pair: LocalPair, node: str, job_id: str, seconds: float) -> str:
    end = time.monotonic() + seconds
    while (status := _job(pair, node, job_id)[0]) != "failed":
        if time.monotonic() > end:
            return status
        time.sleep(0.2)
    return status


def test_bank_exits_with_a_clear_line_and_both_fail_if_operator_is_killed(
    pair: LocalPair,
) -> None:
    # Prepare
    job = JobProcess(pair)
    job_id = job.job_id()
    _mid_stage(job, "select_features")
    # Execute
    pair.nodes["operator"].process.kill()
    code, took, line = job.finished(BANK_KNOWS_S)
    operator = pair.nodes["operator"]
    pair.nodes["operator"] = pair._start("operator-node", "operator", operator.config)
    # Assert
    assert code == 2
    assert took < BANK_KNOWS_S
    assert re.fullmatch(
        rf"bank-node: error: job {job_id} failed in stage select_features: (the"
        r" operator is unreachable \(Binning/BinSums failed: UNAVAILABLE: .*\)|the"
        r" operator has not answered .*)",
        line,
    ), line
    assert _job(pair, "bank", job_id)[0] == "failed"
    assert _job(pair, "operator", job_id) == (
        "failed",
        "the operator restarted while the job was running; its protocol state was lost",
    )


def test_job_fails_on_both_sides_if_job_run_gets_sigterm(pair: LocalPair) -> None:
    # Prepare
    job = JobProcess(pair)
    job_id = job.job_id()
    _mid_stage(job, "train")
    # Execute
    job.process.send_signal(signal.SIGTERM)
    code, took, line = job.finished(BANK_KNOWS_S)
    # Assert
    assert code == 2
    assert line == (
        f"bank-node: error: job {job_id} failed in stage train: stopped by SIGTERM"
    )
    assert _job(pair, "bank", job_id)[0] == "failed"
    assert _job(pair, "operator", job_id) == (
        "failed",
        f"job {job_id} failed in stage train: stopped by SIGTERM",
    )


def test_bank_exits_with_a_clear_line_if_the_operator_hangs(pair: LocalPair) -> None:
    # Prepare
    job = JobProcess(pair)
    job_id = job.job_id()
    _mid_stage(job, "select_features")
    operator = pair.nodes["operator"].process
    # Execute
    os.kill(operator.pid, signal.SIGSTOP)
    try:
        code, took, line = job.finished(BANK_KNOWS_S)
    finally:
        os.kill(operator.pid, signal.SIGCONT)
    # Assert
    assert code == 2
    assert took < BANK_KNOWS_S
    assert re.fullmatch(
        rf"bank-node: error: job {job_id} failed in stage select_features: the"
        r" operator has not answered for \d+ s \(jobs.heartbeat_timeout_s = 4\);"
        r" last heartbeat: DEADLINE_EXCEEDED",
        line,
    ), line
    assert _job(pair, "bank", job_id)[0] == "failed"
    assert _wait_status(pair, "operator", job_id, SESSION_IDLE_S + 20) == "failed"


def test_job_fails_on_both_sides_if_job_run_is_killed(pair: LocalPair) -> None:
    # Prepare
    job = JobProcess(pair)
    job_id = job.job_id()
    _mid_stage(job, "select_features")
    # Execute: kill -9, then the bank node restarts (its reconciler runs)
    job.process.kill()
    job.process.wait(30)
    operator_status = _wait_status(pair, "operator", job_id, SESSION_IDLE_S + 20)
    bank = pair.nodes["bank"]
    bank.process.send_signal(signal.SIGTERM)
    bank.process.wait(30)
    pair.nodes["bank"] = pair._start("bank-node", "bank-a", bank.config)
    bank_status = _wait_status(pair, "bank", job_id, 30)
    # Assert
    assert operator_status == "failed"
    assert _job(pair, "operator", job_id)[1] == (
        "no call from bank-a for 4 s (jobs.session_idle_s)"
    )
    assert bank_status == "failed"
    assert _job(pair, "bank", job_id)[1] == (
        "the bank's job runner ended without finishing the job"
    )
