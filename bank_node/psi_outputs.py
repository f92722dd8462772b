"""The files `bank-node psi` writes, and how long the per-row ones stay.

Always, into `<state_dir>/psi/<job id>/` (or --output), 0600 in a 0700 folder:
  summary.json      sizes, intersection size, timings, the input's validation report
  rejections.csv    every rejected input row: row, column, reason (never the value)
Only when asked (--write-rows), the per-row results, by the bank's own row references:
  intersection.csv  modes intersection and both: source_row of each matched record
  alignment.csv     mode both: position, row_key (hex), source_row, in the shared order
and the phone numbers as an extra column only with --with-numbers. The per-row files
of a PSI job are deleted once older than `psi.retention_days` (`purge_psi_outputs`:
each `bank-node psi` and `bank-node job run`, and `bank-node serve` on a timer), as
are cached unbalanced epoch sets whose epoch has ended.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bank_node.psi import PsiResult
from bank_node.psi_cache import OperatorSetCache
from node_core.checkpoint import purge_checkpoints
from node_core.ingest import Dataset
from node_core.node import NodeContext
from node_core.retention import expired, purge_alignments, write_private
from protocol.jobs.messages import PSI_JOB

ROW_FILES = ("intersection.csv", "alignment.csv")


def _csv(header: list[str], rows: Iterable[list[Any]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode()


def write_outputs(
    out_dir: Path,
    dataset: Dataset,
    result: PsiResult,
    summary: dict[str, Any],
    *,
    rows: bool = False,
    numbers: bool = False,
) -> list[str]:
    """Write the job's files (see module docstring); the names written."""
    written = ["summary.json", "rejections.csv"]
    write_private(out_dir / "summary.json", json.dumps(summary, indent=2).encode())
    write_private(
        out_dir / "rejections.csv",
        _csv(
            ["row", "column", "reason", "detail", "value_class"],
            (
                [r.row, r.column, r.reason, r.detail, r.value_class]
                for r in dataset.report.rejections
            ),
        ),
    )
    if not (rows or numbers):
        return written
    phone = ["phone"] if numbers else []

    def number(row: int) -> list[str]:
        return [str(dataset.ids[row])] if numbers else []

    if result.matched_rows is not None:
        write_private(
            out_dir / "intersection.csv",
            _csv(
                ["source_row", *phone],
                (
                    [int(dataset.source_rows[row]), *number(row)]
                    for row in result.matched_rows
                ),
            ),
        )
        written.append("intersection.csv")
    if result.alignment is not None:
        alignment = result.alignment
        write_private(
            out_dir / "alignment.csv",
            _csv(
                ["position", "row_key", "source_row", *phone],
                (
                    [
                        position,
                        key.tobytes().hex(),
                        int(dataset.source_rows[row]),
                        *number(row),
                    ]
                    for position, (key, row) in enumerate(
                        zip(alignment.row_keys, alignment.local_rows, strict=True)
                    )
                ),  # fmt: skip
            ),
        )
        written.append("alignment.csv")
    return written


def purge_psi_outputs(ctx: NodeContext, now: float) -> dict[str, int]:
    """Delete per-row PSI files and alignments past `psi.retention_days` (audited)."""
    days = ctx.config.psi.retention_days
    folders = {
        Path(str(job.result["output"]))
        for job in ctx.store.list_jobs()
        if job.kind == PSI_JOB and job.result.get("output")
    }
    old = expired(
        (folder / name for folder in sorted(folders) for name in ROW_FILES), days, now
    )
    for path in old:
        path.unlink(missing_ok=True)
    removed = {
        "row_files": len(old),
        "alignments": purge_alignments(ctx.config.state_dir, days, now),
    }
    checkpoints = purge_checkpoints(ctx.config.state_dir, days, now)
    if checkpoints:  # job checkpoints hold aligned rows too
        removed["checkpoints"] = checkpoints
    for cp in ctx.config.counterparts:  # unbalanced epoch sets whose epoch ended
        OperatorSetCache(ctx.config.state_dir, cp.party_id).purge_expired(now)
    if any(removed.values()):
        ctx.store.append_audit(
            "retention.deleted", detail={**removed, "retention_days": days}
        )
    return removed
