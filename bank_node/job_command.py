"""`bank-node job run JOB.toml`: run a joint modelling job end to end."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bank_node.job_runner import JobRunner
from bank_node.jobspec import load_job_spec
from bank_node.psi_outputs import purge_psi_outputs
from node_core.cli import NodeCli, open_node


def _run(args: argparse.Namespace) -> int:
    spec = load_job_spec(args.spec)
    ctx = open_node(args)
    purge_psi_outputs(ctx, time.time())  # psi.retention_days
    result = JobRunner(ctx, spec).run()
    print(json.dumps(result.summary, indent=2, default=str))
    return 0


def add_job_command(cli: NodeCli) -> None:
    p = cli.with_config(
        cli.command("run", _run, "run a joint modelling job (JOB.toml)", group="job")
    )
    p.add_argument("spec", type=Path, help="job specification (TOML)")
