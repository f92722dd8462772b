"""Data ingestion shared by both nodes: declared schema, explicit types, full account.

A data source (CSV or Parquet) is read against its declared schema: the id column
(phone number, normalised with protocol.identifiers), an optional 0/1 label, numeric and
categorical feature columns (names or glob patterns), and identity columns (names,
resident IDs, contact numbers) that are never features and never leave the node.

The values of the identity columns (and of the id column, raw and canonical) are
registered with node_core.logs, which masks them wherever they would reach a log.

Every row is either accepted or rejected with a reason (bad phone, bad resident id, bad
type, bad label, missing required value, duplicate id); the ValidationReport counts rows
read / accepted / rejected by reason and lists each rejection by row, column and value
*class* (never the value). File-level problems (unreadable file, missing column,
duplicates when they are an error) raise IngestionError naming the file and column, and
so does a source rejecting more than its `max_rejected_share` of rows (a float-typed
phone column once rejected every row and left a node serving an empty set). Phone
numbers stored as decimals (13800138000.0) are read as the whole numbers they are, and
the report says so.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from node_core import logs
from node_core.config import DataSourceConfig
from protocol.identifiers import (
    PHONE_EMPTY,
    normalize_phones,
    resident_id_reasons,
    written_as_decimals,
)

BAD_PHONE = "bad phone"
BAD_RESIDENT_ID = "bad resident id"
BAD_TYPE = "bad type"
BAD_LABEL = "bad label"
MISSING_REQUIRED = "missing required value"
DUPLICATE_ID = "duplicate id"


class IngestionError(ValueError):
    """The whole source is unusable; the message names the file and the problem."""


@dataclass(frozen=True)
class Rejection:
    row: int  # 0-based data row in the file
    column: str
    reason: str
    detail: str  # e.g. the phone rejection reason
    value_class: str  # e.g. "text(3 chars)", never the value itself


@dataclass
class ValidationReport:
    source: str
    rows_read: int = 0
    rows_accepted: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    missing_by_column: dict[str, int] = field(default_factory=dict)
    label_missing: int = 0
    # What was done to values on the way in (e.g. decimal phone numbers converted).
    notes: list[str] = field(default_factory=list)

    @property
    def rows_rejected(self) -> int:
        return self.rows_read - self.rows_accepted

    def rejected_rows(self) -> set[int]:
        return {r.row for r in self.rejections}

    @property
    def rejected_share(self) -> float:
        return self.rows_rejected / self.rows_read if self.rows_read else 0.0

    def check_rejected_share(self, limit: float, key: str) -> None:
        """IngestionError, one line, if more than `limit` of the rows were rejected
        (`key` names the setting in the message)."""
        if self.rows_read == 0:
            raise IngestionError(f"{self.source}: no data rows")
        if self.rejected_share <= limit:
            return
        reason, count = max(self.rejected_by_reason.items(), key=lambda kv: kv[1])
        example = next(r for r in self.rejections if r.reason == reason)
        raise IngestionError(
            f"{self.source}: {self.rows_rejected} of {self.rows_read} rows rejected"
            f" ({self.rejected_share:.1%}), over {key} = {limit:.1%}; most: {reason}"
            f" ({count} rows, e.g. row {example.row} column {example.column!r}:"
            f" {example.detail})"
        )

    def counts(self) -> dict[str, Any]:
        """The counts an audit entry records for a load (no values, no row numbers)."""
        return {
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rejected_by_reason": self.rejected_by_reason,
        }

    def to_dict(self, max_rejections: int | None = 1000) -> dict[str, Any]:
        listed = self.rejections[:max_rejections] if max_rejections else self.rejections
        return {
            "source": self.source,
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected,
            "rejected_by_reason": dict(self.rejected_by_reason),
            "rejections": [vars(r) for r in listed],
            "rejections_listed": len(listed),
            "ignored_columns": list(self.ignored_columns),
            "missing_by_column": dict(self.missing_by_column),
            "label_missing": self.label_missing,
            "notes": list(self.notes),
        }

    def to_text(self, max_lines: int = 10) -> str:
        lines = [
            f"{self.source}: read {self.rows_read} rows, accepted {self.rows_accepted},"
            f" rejected {self.rows_rejected}"
        ]
        for reason, count in sorted(self.rejected_by_reason.items()):
            lines.append(f"  rejected ({reason}): {count} rows")
        for r in self.rejections[:max_lines]:
            lines.append(
                f"  row {r.row}, column {r.column!r}: {r.reason} ({r.detail};"
                f" value {r.value_class})"
            )
        if len(self.rejections) > max_lines:
            lines.append(f"  ... {len(self.rejections) - max_lines} more rejections")
        if self.ignored_columns:
            lines.append(
                f"  columns not declared, ignored: {len(self.ignored_columns)}"
            )
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


@dataclass
class Dataset:
    """Accepted rows of a source, typed; identity columns kept apart."""

    name: str
    ids: np.ndarray  # canonical 11-digit phone strings, unique
    features: pd.DataFrame  # numeric float64 / categorical string columns
    feature_types: dict[str, str]  # column -> "numeric" | "categorical"
    label: np.ndarray | None  # float64 0/1, NaN where missing
    identity: pd.DataFrame  # never a feature, never leaves the node
    source_rows: np.ndarray  # 0-based file rows of the accepted rows
    report: ValidationReport


def value_class(value: Any) -> str:
    """Describe a rejected value without revealing it."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "empty"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, np.integer)):
        return f"integer({len(str(abs(int(value))))} digits)"
    if isinstance(value, (float, np.floating)):
        return "decimal number"
    text = str(value)
    if not text.strip():
        return "blank text"
    if text.isdigit():
        return f"digits({len(text)})"
    return f"text({len(text)} chars)"


def _read(src: DataSourceConfig) -> pd.DataFrame:
    fmt = src.format
    if fmt == "auto":
        name = src.path.name.lower()
        fmt = "parquet" if name.endswith((".parquet", ".pq")) else "csv"
    try:
        if fmt == "parquet":
            return pq.read_table(src.path).to_pandas()
        # Read everything as text: types come from the declared schema, not guessing.
        return pd.read_csv(src.path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise IngestionError(f"{src.path}: file not found") from None
    except Exception as exc:
        raise IngestionError(f"{src.path}: cannot read as {fmt}: {exc}") from None


def _resolve(
    patterns: tuple[str, ...], columns: list[str], src: DataSourceConfig, what: str
) -> list[str]:
    chosen: list[str] = []
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            hits = fnmatch.filter(columns, pattern)
            if not hits:
                raise IngestionError(
                    f"{src.path}: {what} pattern {pattern!r} matches no column"
                )
        elif pattern in columns:
            hits = [pattern]
        else:
            raise IngestionError(f"{src.path}: missing required column {pattern!r}")
        chosen += [h for h in hits if h not in chosen]
    return chosen


def _as_missing(column: pd.Series, tokens: set[str]) -> pd.Series:
    """Turn declared missing-value tokens into NA (text columns only)."""
    if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
        text = column.astype("string").str.strip()
        return column.where(~text.isin(tokens).fillna(False), None)
    return column


def load_dataset(
    name: str, src: DataSourceConfig, *, check_share: bool = True
) -> Dataset:
    """Read, type and validate a declared data source; IngestionError if it is
    unusable, including (unless `check_share` is False, for a caller that shows the
    report first) more rejected rows than `src.max_rejected_share`."""
    frame = _read(src)
    columns = list(frame.columns)
    if len(set(columns)) != len(columns):
        dup = sorted({c for c in columns if columns.count(c) > 1})
        raise IngestionError(f"{src.path}: duplicate column names: {', '.join(dup)}")
    if src.id not in columns:
        raise IngestionError(f"{src.path}: missing required column {src.id!r} (id)")
    if src.label and src.label not in columns:
        raise IngestionError(
            f"{src.path}: missing required column {src.label!r} (label)"
        )
    identity = _resolve(src.identity, columns, src, "identity")
    # Before anything can fail on a value: every identity value, accepted or not.
    for col in dict.fromkeys([src.id, *identity, *src.resident_id_columns]):
        if col in frame:
            logs.IDENTITIES.register(frame[col].to_numpy())
    # A column named as categorical stays categorical even if a numeric glob (e.g.
    # "acct_*") also matches it.
    categorical = _resolve(src.categorical, columns, src, "categorical")
    numeric = [
        c
        for c in _resolve(src.numeric, columns, src, "numeric")
        if c not in categorical
    ]
    reserved = {src.id, src.label, *identity}
    numeric = [c for c in numeric if c not in reserved]
    categorical = [c for c in categorical if c not in reserved]
    for col in src.required:
        if col not in columns:
            raise IngestionError(f"{src.path}: missing required column {col!r}")
    used = reserved | set(numeric) | set(categorical)
    report = ValidationReport(
        source=str(src.path),
        rows_read=len(frame),
        ignored_columns=[c for c in columns if c not in used],
    )
    tokens = set(src.missing_values)
    problems: list[
        tuple[pd.Series, str, str, pd.Series]
    ] = []  # mask, col, reason, detail

    raw_ids = _as_missing(frame[src.id], tokens)
    phones, phone_reason = normalize_phones(raw_ids)
    logs.IDENTITIES.register(phones.dropna().to_numpy())
    decimals = written_as_decimals(raw_ids)
    if decimals:
        report.notes.append(
            f"column {src.id!r}: {decimals} phone numbers stored as decimal numbers"
            " (e.g. 13800138000.0) were read as whole numbers; store them as text"
        )
    # The id is required: an empty one is a missing value, anything else a bad phone.
    empty_id = (phone_reason == PHONE_EMPTY).fillna(False)
    problems.append((empty_id, src.id, MISSING_REQUIRED, phone_reason))
    problems.append((phone_reason.notna() & ~empty_id, src.id, BAD_PHONE, phone_reason))

    for col in src.resident_id_columns:
        values = _as_missing(frame[col], tokens)
        reason = resident_id_reasons(values)
        present = values.notna()
        problems.append((reason.notna() & present, col, BAD_RESIDENT_ID, reason))

    typed: dict[str, pd.Series] = {}
    for col in numeric:
        values = _as_missing(frame[col], tokens)
        parsed = pd.to_numeric(values, errors="coerce").astype("float64")
        bad = parsed.isna() & values.notna()
        if len(frame) and bad.all():
            # Every row failing means a schema mistake, not bad rows: say so instead
            # of rejecting the whole file row by row.
            raise IngestionError(
                f"{src.path}: column {col!r} is declared numeric but holds no number"
                " in any row; declare it categorical"
            )
        problems.append(
            (bad, col, BAD_TYPE, pd.Series("not a number", index=frame.index))
        )
        typed[col] = parsed
        report.missing_by_column[col] = int(values.isna().sum())
    for col in categorical:
        values = _as_missing(frame[col], tokens)
        typed[col] = values.astype("string")
        report.missing_by_column[col] = int(values.isna().sum())

    label = None
    if src.label:
        values = _as_missing(frame[src.label], tokens)
        text = values.astype("string").str.strip().str.lower()
        mapping = {
            "0": 0.0,
            "1": 1.0,
            "0.0": 0.0,
            "1.0": 1.0,
            "false": 0.0,
            "true": 1.0,
        }
        label_values = text.map(mapping)
        bad = label_values.isna() & values.notna()
        detail = pd.Series("label must be 0 or 1", index=frame.index)
        problems.append((bad, src.label, BAD_LABEL, detail))
        label = label_values.astype("float64").to_numpy()

    for col in src.required:
        values = _as_missing(frame[col], tokens)
        detail = pd.Series("required column is empty", index=frame.index)
        problems.append((values.isna(), col, MISSING_REQUIRED, detail))

    valid_phone = phones.notna()
    duplicate = valid_phone & phones.duplicated(keep="first")
    if duplicate.any() and src.on_duplicate == "error":
        rows = np.flatnonzero(duplicate.to_numpy())
        shown = ", ".join(str(r) for r in rows[:5])
        raise IngestionError(
            f"{src.path}: column {src.id!r} has {len(rows)} duplicate id(s) (data rows"
            f" {shown}{', ...' if len(rows) > 5 else ''}); fix the file or set"
            " on_duplicate = 'keep_first'"
        )
    problems.append(
        (
            duplicate,
            src.id,
            DUPLICATE_ID,
            pd.Series("id seen in an earlier row", index=frame.index),
        )
    )

    rejected = np.zeros(len(frame), dtype=bool)
    for mask, col, reason, detail in problems:
        hits = np.flatnonzero(mask.to_numpy(dtype=bool))
        if not len(hits):
            continue
        rejected[hits] = True
        report.rejected_by_reason[reason] = report.rejected_by_reason.get(
            reason, 0
        ) + len(hits)
        raw = frame[col].to_numpy()
        details = detail.to_numpy()
        for row in hits:
            report.rejections.append(
                Rejection(
                    int(row), col, reason, str(details[row]), value_class(raw[row])
                )
            )
    report.rejections.sort(key=lambda r: (r.row, r.column))
    keep = ~rejected
    report.rows_accepted = int(keep.sum())

    features = pd.DataFrame({c: typed[c][keep] for c in (*numeric, *categorical)})
    features.index = pd.RangeIndex(len(features))
    identity_frame = frame.loc[keep, identity].reset_index(drop=True)
    if label is not None:
        label = label[keep]
        report.label_missing = int(np.isnan(label).sum())
    if check_share:
        report.check_rejected_share(
            src.max_rejected_share, f"data.{name}.max_rejected_share"
        )
    return Dataset(
        name=name,
        ids=phones[keep].to_numpy(dtype=str),
        features=features,
        feature_types={
            **{c: "numeric" for c in numeric},
            **{c: "categorical" for c in categorical},
        },
        label=label,
        identity=identity_frame,
        source_rows=np.flatnonzero(keep),
        report=report,
    )
