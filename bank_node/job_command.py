"""`bank-node job run JOB.toml`: run a joint modelling job end to end;
`bank-node job resume ID`: continue one interrupted in training from its last
checkpoint both parties hold (bank_node/job_runner.py, "Resume").

SIGTERM or SIGINT stops the job: its call in progress ends (the job's watch closes its
channel), the job is marked failed in the bank's store and at the operator (Jobs.Finish
under a short deadline), and the command exits 2 with one line saying so. Before a new
job starts, jobs of earlier runners that were killed outright are failed on both sides
(bank_node/job_reconcile.py).
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from bank_node.job_reconcile import reconcile_bank_jobs, runner_alive
from bank_node.job_runner import JobRunner
from bank_node.job_watch import JobInterrupted
from bank_node.jobspec import load_job_spec
from bank_node.psi_outputs import purge_psi_outputs
from node_core.checkpoint import JobCheckpoints
from node_core.cli import NodeCli, open_node
from node_core.config import ConfigError
from node_core.node import NodeContext
from node_core.store import StoreError
from protocol.domain import JobStatus

# Sent by the job's watch thread to the runner's thread when it trips.
TRIP_SIGNAL = signal.SIGUSR1


@contextmanager
def stopped_by_signals(runner: JobRunner) -> Iterator[None]:
    """Turn the first SIGTERM/SIGINT into JobInterrupted in the job's thread (and a
    tripped watch, which ends a call in progress); later ones are ignored so the
    failure is recorded on both sides. A watch that trips while the runner computes
    locally interrupts it too (TRIP_SIGNAL), so the job fails within its deadlines."""
    stops = (signal.SIGTERM, signal.SIGINT)
    previous = {s: signal.getsignal(s) for s in (*stops, TRIP_SIGNAL)}
    main = threading.main_thread().ident
    assert main is not None

    def on_signal(signum: int, frame: FrameType | None) -> None:
        for s in stops:
            signal.signal(s, signal.SIG_IGN)
        name = signal.Signals(signum).name
        reason = f"stopped by {name}"
        runner.stop(reason)
        raise JobInterrupted(f"job {runner.job_id} {reason}")

    def on_trip(signum: int, frame: FrameType | None) -> None:
        if runner.interruptible:  # not while it records the failure
            raise runner.aborted()

    for s in stops:
        signal.signal(s, on_signal)
    signal.signal(TRIP_SIGNAL, on_trip)
    runner.interrupt = lambda: signal.pthread_kill(main, TRIP_SIGNAL)
    try:
        yield
    finally:
        runner.interrupt = None
        for s, handler in previous.items():
            signal.signal(s, handler)


def _run(args: argparse.Namespace) -> int:
    spec = load_job_spec(args.spec)
    ctx = open_node(args)
    purge_psi_outputs(ctx, time.time())  # psi.retention_days
    reconcile_bank_jobs(ctx)
    runner = JobRunner(ctx, spec)
    with stopped_by_signals(runner):
        result = runner.run()
    print(json.dumps(result.summary, indent=2, default=str))
    return 0


def _resume(args: argparse.Namespace) -> int:
    ctx = open_node(args)
    purge_psi_outputs(ctx, time.time())
    reconcile_bank_jobs(ctx)  # a killed runner's job becomes resumable here
    runner = resumable_runner(ctx, args.job_id)
    with stopped_by_signals(runner):
        result = runner.resume()
    print(json.dumps(result.summary, indent=2, default=str))
    return 0


def resumable_runner(ctx: NodeContext, job_id: str) -> JobRunner:
    """The runner that resumes `job_id`, or ConfigError saying why it cannot."""
    try:
        job = ctx.store.get_job(job_id)
    except StoreError:
        raise ConfigError(f"job resume: no job {job_id}") from None
    if job.status is not JobStatus.RUNNING:
        raise ConfigError(
            f"job resume: job {job_id} is {job.status.value}; only an interrupted"
            " running job can resume"
        )
    if runner_alive(job, ctx.config.state_dir):
        raise ConfigError(f"job resume: job {job_id} is still running")
    latest = JobCheckpoints(ctx.config.state_dir, job_id).latest()
    if latest is None:
        raise ConfigError(
            f"job resume: job {job_id} has no checkpoint both parties agreed on; it"
            " cannot resume"
        )
    spec = load_job_spec(Path(str(job.spec.get("spec", ""))))
    return JobRunner(ctx, spec, resume_job=job_id)


def add_job_command(cli: NodeCli) -> None:
    p = cli.with_config(
        cli.command("run", _run, "run a joint modelling job (JOB.toml)", group="job")
    )
    p.add_argument("spec", type=Path, help="job specification (TOML)")
    p = cli.with_config(
        cli.command(
            "resume",
            _resume,
            "continue an interrupted job from its last checkpoint",
            group="job",
        )
    )
    p.add_argument("job_id", help="the job's id (as `job run` printed it)")
