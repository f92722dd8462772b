"""Regenerate the measured part of docs/world_data_dictionary.md from a world.

    python -m scripts.world.dictionary --world var/world

rewrites the block between the GENERATED markers: one table per file with every
column's type, unit, measured range and missing rate, and how it was generated (from
column_docs.py), plus the hidden outcome model and the world's AUC report.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from scripts.world.column_docs import FILES, ColumnDoc, file_pattern
from scripts.world.ground_truth import describe

DICTIONARY_PATH = Path("docs/world_data_dictionary.md")
BEGIN = "<!-- BEGIN GENERATED: python -m scripts.world.dictionary -->"
END = "<!-- END GENERATED -->"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if abs(value) >= 1000 or value == int(value):
            return f"{value:,.0f}"
        return f"{value:.3g}"
    return str(value)


class _Stats:
    """Running range and missing count of all columns matching one ColumnDoc."""

    def __init__(self) -> None:
        self.rows = 0
        self.missing = 0
        self.types: set[str] = set()
        self.low: Any = None
        self.high: Any = None
        self.values: set[str] = set()
        self.many_values = False

    def add(self, column: pa.ChunkedArray) -> None:
        self.rows += len(column)
        missing = column.null_count
        if pa.types.is_floating(column.type):
            missing += pc.sum(pc.is_nan(column)).as_py() or 0
        self.missing += missing
        self.types.add(str(column.type))
        if pa.types.is_string(column.type) or pa.types.is_boolean(column.type):
            distinct = pc.unique(column.drop_null())
            if len(distinct) > 25 or self.many_values:
                self.many_values = True
                lengths = pc.utf8_length(column.drop_null()) if len(distinct) else None
                if lengths is not None and len(lengths):
                    self._extend(pc.min(lengths).as_py(), pc.max(lengths).as_py())
            else:
                self.values.update(str(v) for v in distinct.to_pylist())
            return
        values = column.drop_null()
        if pa.types.is_floating(column.type):
            values = values.filter(pc.invert(pc.is_nan(values)))
        if len(values):
            self._extend(pc.min(values).as_py(), pc.max(values).as_py())

    def _extend(self, low: Any, high: Any) -> None:
        self.low = low if self.low is None else min(self.low, low)
        self.high = high if self.high is None else max(self.high, high)

    def range_text(self, is_text: bool) -> str:
        if self.values and not self.many_values:
            return ", ".join(sorted(self.values))
        if self.low is None:
            return "(all missing)"
        if is_text:
            return f"{self.low}-{self.high} characters"
        return f"{_fmt(self.low)} – {_fmt(self.high)}"


def _measure(world: Path) -> tuple[dict[tuple[str, str], _Stats], dict[str, int]]:
    stats: dict[tuple[str, str], _Stats] = {}
    rows: dict[str, int] = {}
    docs = dict(FILES)
    for path in sorted(world.rglob("*.parquet")):
        relative = str(path.relative_to(world))
        pattern = file_pattern(relative)
        if pattern is None:
            continue
        table = pq.read_table(path)
        rows[relative] = table.num_rows
        for name in table.column_names:
            doc = next((d for d in docs[pattern] if d.matches(name)), None)
            if doc is None:
                raise ValueError(f"{relative}: column {name} is not documented")
            stats.setdefault((pattern, doc.name), _Stats()).add(table.column(name))
    return stats, rows


def _file_table(pattern: str, docs: tuple[ColumnDoc, ...], stats: dict) -> list[str]:
    lines = [
        f"### `{pattern}`",
        "",
        "| column | type | unit | range (measured) | missing | how it was generated |",
        "|---|---|---|---|---|---|",
    ]
    for doc in docs:
        s = stats.get((pattern, doc.name))
        if s is None:
            continue
        is_text = any(t in ("string", "bool") for t in s.types)
        missing = f"{s.missing / s.rows:.1%}" if s.rows else "-"
        how = doc.how.replace("|", "/")
        types = "/".join(sorted(s.types))
        lines.append(
            f"| `{doc.name}` | {types} | {doc.unit} | {s.range_text(is_text)} | "
            f"{missing} | {how} |"
        )
    return lines + [""]


def render(world: Path) -> str:
    """The generated block for the world at `world`."""
    stats, rows = _measure(world)
    manifest = json.loads((world / "manifest.json").read_text(encoding="utf-8"))
    args = manifest["args"]
    lines = [
        BEGIN,
        "",
        f"Measured on `python -m scripts.generate_world --subscribers "
        f"{args['subscribers']} --seed {args['seed']} --banks {args['banks']}` "
        f"({manifest['generator']}).",
        "",
        "### Row counts",
        "",
        "| file | rows |",
        "|---|---|",
        *(f"| `{name}` | {count:,} |" for name, count in sorted(rows.items())),
        "",
    ]
    for pattern, docs in FILES:
        lines.extend(_file_table(pattern, docs, stats))
    lines += ["### Hidden outcome model (`ground_truth/hidden_model.json`)", ""]
    for model in describe()["outcomes"]:
        lines += [
            f"**{model['name']}** — {model['population']}; intercept "
            f"{model['intercept']}.",
            "",
            "| feature | side | coefficient |",
            "|---|---|---|",
            *(
                f"| {t['feature']} | {t['side']} | {t['coefficient']} |"
                for t in model["terms"]
            ),
            "",
        ]
    report_path = world / "world_report.json"
    if report_path.exists():
        report = json.loads(report_path.read_text(encoding="utf-8"))
        lines += [
            "### AUC report of this world (`world_report.json`)",
            "",
            "| party | outcome | rows | positives | bank only | joined | truth |",
            "|---|---|---|---|---|---|---|",
        ]
        for party, entry in report["parties"].items():
            for label in ("default_12m", "response"):
                e = entry[label]
                lines.append(
                    f"| {party} | {label} | {e['rows']:,} | {e['positives']:,} | "
                    f"{e.get('auc_bank_only', '-')} | {e.get('auc_joined', '-')} | "
                    f"{e.get('auc_ground_truth', '-')} |"
                )
        lines += ["", next(iter(report["parties"].values()))["method"] + ".", ""]
    lines.append(END)
    return "\n".join(lines)


def update(document: Path, world: Path) -> None:
    text = document.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise ValueError(f"{document} lacks the GENERATED markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    document.write_text(head + render(world) + tail, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.world.dictionary")
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--document", type=Path, default=DICTIONARY_PATH)
    ns = parser.parse_args(argv)
    update(ns.document, ns.world)
    return 0


if __name__ == "__main__":
    sys.exit(main())
