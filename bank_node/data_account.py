"""What a job did to the data, for the modeler's report and summary.

The bank's source: rows read, accepted, rejected by reason (a bad label is a rejection,
not a silent drop), rows without a label left out, and what ingestion converted. The
binning: every feature's bins as used for information value (rows, positives,
negatives, WOE), including bins merged to reach the minimum of rows, and the share of
missing values where the bins show it. The model's own preparation (missing
indicators, categories folded into "other") comes from the trainer.
"""

from __future__ import annotations

from typing import Any

from bank_node.feature_selection import FeatureSelection
from models.binning import MISSING_LABEL
from models.woe import WoeIv
from node_core.ingest import ValidationReport


def data_account(
    report: ValidationReport, unlabelled: int, labelled: int
) -> dict[str, Any]:
    """The bank source's rows from file to the job (JSON-ready)."""
    return {
        "source": report.source,
        "rows_read": report.rows_read,
        "rows_accepted": report.rows_accepted,
        "rows_rejected": report.rows_rejected,
        "rejected_share": round(report.rejected_share, 6),
        "rejected_by_reason": dict(report.rejected_by_reason),
        "without_label": unlabelled,
        "labelled": labelled,
        "notes": list(report.notes),
    }


def _bins(labels: list[str] | tuple[str, ...], table: WoeIv) -> list[dict[str, Any]]:
    rows = table.pos_counts + table.neg_counts
    return [
        {
            "bin": label,
            "rows": int(n),
            "positives": int(p),
            "negatives": int(q),
            "woe": float(w),
        }
        for label, n, p, q, w in zip(
            labels, rows, table.pos_counts, table.neg_counts, table.woe, strict=True
        )
    ]


def bin_tables(selection: FeatureSelection) -> dict[str, dict[str, list[dict]]]:
    """Each feature's IV bins, by party and display name."""
    operator = {o.name: _bins(o.labels, o.table) for o in selection.operator_ivs}
    bank = {
        name: _bins(selection.bank_binning.labels(name), table)
        for name, table in selection.bank_ivs.items()
    }
    return {"operator": operator, "bank": bank}


def missing_share(bins: list[dict[str, Any]]) -> float | str | None:
    """Share of rows in the missing bin; "merged" when it had fewer rows than the
    minimum and joined another bin; None when the labels do not say (aliases)."""
    total = sum(b["rows"] for b in bins)
    for b in bins:
        if b["bin"] == MISSING_LABEL:
            return b["rows"] / total if total else 0.0
        if str(b["bin"]).endswith(f"+ {MISSING_LABEL}"):
            return "merged"
    return None


def merged_bins(bins: list[dict[str, Any]]) -> int:
    return sum(1 for b in bins if str(b["bin"]).endswith("(merged)"))


def data_notes(
    account: dict[str, Any], tables: dict[str, dict[str, list[dict]]], bins_asked: int
) -> list[str]:
    """The lines a modeler should not miss."""
    notes = []
    if account["rows_rejected"]:
        reasons = ", ".join(
            f"{reason}: {count}"
            for reason, count in sorted(account["rejected_by_reason"].items())
        )
        notes.append(
            f"{account['rows_rejected']} of {account['rows_read']} rows of the bank's"
            f" data were rejected ({account['rejected_share']:.2%}; {reasons}) and are"
            " not in the job"
        )
    if account["without_label"]:
        notes.append(
            f"{account['without_label']} accepted rows have no label and are not in"
            " the job"
        )
    notes += account["notes"]
    for party, features in tables.items():
        occupied = [sum(1 for b in bins if b["rows"]) for bins in features.values()]
        merged = sum(1 for bins in features.values() if merged_bins(bins))
        if not occupied:
            continue
        notes.append(
            f"binning, {party} features: {min(occupied)} to {max(occupied)} occupied"
            f" bins (of {bins_asked} asked, plus missing/other): tied values and bins"
            " with fewer training rows than the minimum were merged"
            + (f"; a small missing or 'other' bin joined another in {merged}" if merged
               else "")
        )  # fmt: skip
    return notes


def missing_shares(tables: dict[str, dict[str, list[dict]]]) -> dict[str, Any]:
    """Missing share per feature and party, where the bins show it."""
    return {
        party: {name: missing_share(bins) for name, bins in features.items()}
        for party, features in tables.items()
    }
