"""`bank-node psi`: one PSI session with the operator, recorded as a job.

    bank-node psi --config bank.toml --input customers.csv --mode intersection

The input (CSV or Parquet, id column `phone` unless --id-column says otherwise, or a
declared `--source`) goes through node_core.ingest: malformed numbers are rejected and
reported by reason, formatting variants of one number count once. Writes into the
output folder (default `<state_dir>/psi/<job id>/`):
  summary.json      sizes, intersection size, timings, the input's validation report
  rejections.csv    every rejected input row: row, column, reason (never the value)
  intersection.csv  modes intersection and both: source_row, phone of matched rows
  alignment.csv     mode both: position, row_key (hex), source_row, phone, in the
                    shared order (the alignment itself is in <state_dir>/alignments/)
Progress goes to stderr while the session runs; the summary is printed as JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

from bank_node.psi import PsiResult, run_psi
from node_core.cli import NodeCli, open_node, print_json
from node_core.config import DataSourceConfig
from node_core.ingest import Dataset, load_dataset
from protocol.domain import JobStatus
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
    p.add_argument("--counterpart", help="party id (default: the first)")
    p.add_argument("--output", type=Path, help="output folder")
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
    counterpart = args.counterpart or ctx.config.counterparts[0].party_id
    name, src = _input_source(args, ctx.config.data_source)
    mode = PsiMode(args.mode)
    spec = {"input": str(src.path), "mode": mode.value, "unbalanced": args.unbalanced}
    job = ctx.store.create_job("psi", counterpart, spec)
    ctx.store.set_job_status(job.id, JobStatus.RUNNING)
    out_dir = args.output or ctx.config.state_dir / "psi" / job.id
    try:
        started = time.perf_counter()
        dataset = load_dataset(name, src)
        load_s = time.perf_counter() - started
        if not args.quiet:
            print(dataset.report.to_text(max_lines=5), file=sys.stderr)
        result = run_psi(
            ctx,
            counterpart,
            dataset,
            mode,
            unbalanced=args.unbalanced,
            progress=_ProgressPrinter(args.quiet),
        )
        summary = {
            "job_id": job.id,
            **result.summary(),
            "load_s": round(load_s, 3),
            "wall_s": round(time.perf_counter() - started, 3),
            "output": str(out_dir),
            "input": dataset.report.to_dict(max_rejections=20),
        }
        write_outputs(out_dir, dataset, result, summary)
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


def write_outputs(
    out_dir: Path, dataset: Dataset, result: PsiResult, summary: dict[str, Any]
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    with (out_dir / "rejections.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["row", "column", "reason", "detail", "value_class"])
        for r in dataset.report.rejections:
            writer.writerow([r.row, r.column, r.reason, r.detail, r.value_class])
    if result.matched_rows is not None:
        with (out_dir / "intersection.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["source_row", "phone"])
            for row in result.matched_rows:
                writer.writerow([int(dataset.source_rows[row]), dataset.ids[row]])
    if result.alignment is not None:
        alignment = result.alignment
        with (out_dir / "alignment.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["position", "row_key", "source_row", "phone"])
            for position, (key, row) in enumerate(
                zip(alignment.row_keys, alignment.local_rows, strict=True)
            ):
                writer.writerow(
                    [
                        position,
                        key.tobytes().hex(),
                        int(dataset.source_rows[row]),
                        dataset.ids[row],
                    ]
                )
