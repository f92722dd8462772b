"""`bank-node psi`: a PSI job with the operator (bank_node/psi_job.py), one session.

    bank-node psi --config bank.toml --input customers.csv --mode cardinality \
        --purpose marketing

The operator runs PSI only inside a job it approved for that purpose, mode and size
(its policy's `purposes` and `psi_modes`; PSI outside a job is refused by default).
The input (CSV or Parquet, id column `phone` unless --id-column says otherwise, or a
declared `--source`) goes through node_core.ingest: malformed numbers are rejected and
reported by reason, formatting variants of one number count once. The output folder
(default `<state_dir>/psi/<job id>/`) gets the summary and the rejections; the matched
rows only with --write-rows, as the bank's own row references, and phone numbers only
with --with-numbers (bank_node/psi_outputs.py; deleted after `psi.retention_days`).
Progress goes to stderr while the session runs; the summary is printed as JSON.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from bank_node.psi_job import run_psi_job
from bank_node.psi_outputs import purge_psi_outputs, write_outputs
from node_core.cli import NodeCli, open_node, print_json
from node_core.config import DataSourceConfig
from node_core.ingest import load_dataset
from protocol.domain import JobStatus
from protocol.jobs.messages import PSI_JOB
from protocol.psi.messages import PsiMode


class _ProgressPrinter:
    """One stderr line per stage each time it passes another 10%."""

    def __init__(self, quiet: bool) -> None:
        self._quiet = quiet
        self._shown: dict[str, int] = {}
        self._start = time.perf_counter()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._quiet:
            return
        decile = 10 if total == 0 else (10 * done) // total
        if decile <= self._shown.get(stage, -1):
            return
        self._shown[stage] = decile
        elapsed = time.perf_counter() - self._start
        print(
            f"psi: {stage:<9} {10 * decile:3d}% ({done}/{total}) {elapsed:7.1f}s",
            file=sys.stderr,
            flush=True,
        )


def add_psi_command(cli: NodeCli) -> None:
    p = cli.with_config(
        cli.command("psi", _psi, "private set intersection with the operator")
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--input", type=Path, help="CSV or Parquet file of numbers")
    what.add_argument("--source", help="a declared data source instead of --input")
    p.add_argument("--id-column", default="phone", help="column of --input (phone)")
    p.add_argument("--mode", required=True, choices=[m.value for m in PsiMode])
    p.add_argument("--purpose", required=True, help="the job's purpose, e.g. marketing")
    p.add_argument("--description", default="", help="for the operator's reviewer")
    p.add_argument("--counterpart", help="party id (default: the first)")
    p.add_argument("--output", type=Path, help="output folder")
    p.add_argument(
        "--write-rows",
        action="store_true",
        help="also write the matched rows (the input's row numbers)",
    )
    p.add_argument(
        "--with-numbers",
        action="store_true",
        help="add the phone numbers to the row files (implies --write-rows)",
    )
    p.add_argument(
        "--unbalanced",
        action="store_true",
        help="reuse the operator's per-epoch blinded set (price: README, PSI)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def _input_source(args: argparse.Namespace, ctx_data: Any) -> tuple[str, Any]:
    if args.source:
        return args.source, ctx_data(args.source)
    # Formatting variants of a number are one person: keep the first, report the rest
    # (the report, printed first, lists every rejected row of an ad-hoc list).
    return args.input.stem, DataSourceConfig(
        path=args.input.resolve(),
        id=args.id_column,
        on_duplicate="keep_first",
        max_rejected_share=1.0,
    )


def _psi(args: argparse.Namespace) -> int:
    ctx = open_node(args)
    purge_psi_outputs(ctx, time.time())
    counterpart = args.counterpart or ctx.config.counterparts[0].party_id
    name, src = _input_source(args, ctx.config.data_source)
    mode = PsiMode(args.mode)
    spec = {
        "input": str(src.path),
        "mode": mode.value,
        "unbalanced": args.unbalanced,
        "purpose": args.purpose,
    }
    job = ctx.store.create_job(PSI_JOB, counterpart, spec)
    out_dir = args.output or ctx.config.state_dir / "psi" / job.id
    try:
        started = time.perf_counter()
        dataset = load_dataset(name, src)
        load_s = time.perf_counter() - started
        if not args.quiet:
            print(dataset.report.to_text(max_lines=5), file=sys.stderr)
        printer = _ProgressPrinter(args.quiet)

        def say(message: str) -> None:
            if not args.quiet:
                print(f"psi: {message}", file=sys.stderr, flush=True)

        result = run_psi_job(
            ctx,
            counterpart,
            dataset,
            mode,
            job_id=job.id,
            purpose=args.purpose,
            description=args.description,
            unbalanced=args.unbalanced,
            progress=printer,
            say=say,
            on_approved=lambda: ctx.store.set_job_status(job.id, JobStatus.RUNNING),
        )
        summary = {
            "job_id": job.id,
            **result.summary(),
            "load_s": round(load_s, 3),
            "wall_s": round(time.perf_counter() - started, 3),
            "output": str(out_dir),
            "input": dataset.report.to_dict(max_rejections=20),
        }
        summary["files"] = write_outputs(
            out_dir,
            dataset,
            result,
            summary,
            rows=args.write_rows,
            numbers=args.with_numbers,
        )
    except BaseException as exc:
        ctx.store.set_job_status(
            job.id, JobStatus.FAILED, error=str(exc) or type(exc).__name__
        )
        raise
    ctx.store.set_job_status(
        job.id,
        JobStatus.SUCCEEDED,
        result={k: v for k, v in summary.items() if k != "input"},
    )
    print_json(summary)
    return 0
