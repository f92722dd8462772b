"""Model evaluation report: one self-contained HTML file plus the same facts as JSON.

The HTML has no external resources (charts are inline base64 PNGs) so it can be mailed
or archived as is. Every string that comes from the caller (title, metadata, feature
display names, privacy lines) is HTML-escaped. Feature names are whatever each party
chose to disclose: the report never assumes or looks up real operator feature names.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.jsonable import to_jsonable
from models.metrics import EvaluationReport
from models.scorecard import Scorecard
from models.woe import iv_strength


@dataclass(frozen=True)
class EpochMetrics:
    """Training-curve point; any value may be None when not measured that epoch."""

    epoch: int
    train_loss: float | None = None
    validation_loss: float | None = None
    train_auc: float | None = None
    validation_auc: float | None = None


@dataclass(frozen=True)
class ReportTable:
    """A model's own table (feature importance, trees, ...): a section of the HTML
    report and an entry of the JSON's "tables", keyed by `key`."""

    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class ReportInput:
    """Everything a report shows. Only ``title`` and ``validation`` are required.

    ``metadata`` is free-form (job id, purpose, parties, PSI alignment mode, rows,
    split...). ``operator_iv`` / ``bank_iv`` map display name → IV. ``coefficients``
    are the bank side's (display name → β). ``validation.psi``, when present, is shown
    as the train-vs-validation stability. ``privacy`` lines say what each party learned.
    What the job did to the data: ``data`` (rows read / accepted / rejected by reason
    / without a label), ``notes`` (lines not to miss), ``missing`` (party → feature →
    missing share, "merged" or None), ``preparation`` (one record per model input
    column: missing share, indicators, categories folded into "other") and ``bins``
    (party → feature → its IV bins: label, rows, positives, negatives, WOE).
    """

    title: str
    validation: EvaluationReport
    train: EvaluationReport | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    operator_iv: Mapping[str, float] = field(default_factory=dict)
    bank_iv: Mapping[str, float] = field(default_factory=dict)
    coefficients: Mapping[str, float] = field(default_factory=dict)
    intercept: float | None = None
    history: Sequence[EpochMetrics] = ()
    scorecard: Scorecard | None = None
    privacy: Sequence[str] = ()
    tables: Sequence[ReportTable] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    notes: Sequence[str] = ()
    missing: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    preparation: Sequence[Mapping[str, Any]] = ()
    bins: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]] = field(
        default_factory=dict
    )


# --- JSON ----------------------------------------------------------------------------


def _iv_rows(ivs: Mapping[str, float]) -> list[dict[str, Any]]:
    ranked = sorted(ivs.items(), key=lambda item: (-item[1], item[0]))
    return [
        {"feature": name, "iv": iv, "strength": iv_strength(iv)} for name, iv in ranked
    ]


def report_to_dict(report: ReportInput) -> dict[str, Any]:
    """The JSON document of a report (strict JSON: non-finite numbers are null)."""
    return to_jsonable(
        {
            "title": report.title,
            "metadata": report.metadata,
            "validation": report.validation,
            "train": report.train,
            "operator_iv": _iv_rows(report.operator_iv),
            "bank_iv": _iv_rows(report.bank_iv),
            "coefficients": {
                "intercept": report.intercept,
                "features": [
                    {"feature": name, "coefficient": value}
                    for name, value in report.coefficients.items()
                ],
            },
            "history": list(report.history),
            "scorecard": report.scorecard,
            "privacy": list(report.privacy),
            "tables": {
                t.key: {
                    "title": t.title,
                    "note": t.note,
                    "rows": [dict(zip(t.columns, row, strict=True)) for row in t.rows],
                }
                for t in report.tables
            },
            "data": report.data,
            "notes": list(report.notes),
            "missing": report.missing,
            "preparation": list(report.preparation),
            "bins": report.bins,
        }
    )


# --- HTML building blocks ------------------------------------------------------------


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return "—" if value != value else f"{value:.{digits}f}"  # NaN != NaN
    if isinstance(value, Mapping | list | tuple):
        return _esc(json.dumps(to_jsonable(value), ensure_ascii=False))
    return _esc(value)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_esc(name)}</th>" for name in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{_fmt(cell)}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(png_base64: str, alt: str) -> str:
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{png_base64}">'


def _section(section_id: str, heading: str, *parts: str) -> str:
    return (
        f'<section id="{section_id}"><h2>{_esc(heading)}</h2>{"".join(parts)}</section>'
    )


def _frame_table(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    # .item() turns numpy scalars into Python ones so _fmt formats them (±inf stays
    # visible as "inf", unlike in JSON).
    rows = [
        [value.item() if isinstance(value, np.generic) else value for value in row]
        for row in frame[list(columns)].itertuples(index=False)
    ]
    return _table(columns, rows)


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
img{max-width:48%;margin:.3em}section{margin-bottom:2em}
"""


# --- HTML sections -------------------------------------------------------------------


def _summary(sets: Mapping[str, EvaluationReport]) -> str:
    def row(label: str, get: Any) -> list[Any]:
        return [label, *(get(report) for report in sets.values())]

    rows = [
        row("rows", lambda r: r.n_rows),
        row("positives", lambda r: r.n_positive),
        row("positive rate", lambda r: r.positive_rate),
        row("AUC", lambda r: r.auc),
        row("Gini", lambda r: r.gini),
        row("KS", lambda r: r.ks.statistic),
        row("KS threshold", lambda r: r.ks.threshold),
        row("Brier score", lambda r: r.calibration and r.calibration.brier_score),
        row(
            "expected calibration error",
            lambda r: r.calibration and r.calibration.expected_calibration_error,
        ),
        row("PSI against train", lambda r: r.psi and r.psi.psi),
    ]
    return _section("summary", "Summary", _table(["metric", *sets], rows))


def _evaluation_sections(sets: Mapping[str, EvaluationReport]) -> list[str]:
    from models import report_charts as charts  # matplotlib only when writing

    validation = sets["validation"]
    ks = validation.ks
    lift_columns = [
        "bin",
        "count",
        "positives",
        "positive_rate",
        "lift",
        "cumulative_gain",
        "cumulative_lift",
        "score_min",
        "score_max",
    ]
    sections = [
        _section("roc", "ROC curve", _image(charts.roc_chart(sets), "ROC curve")),
        _section(
            "ks",
            "KS",
            _image(charts.ks_chart(validation), "KS curve (validation)"),
            _table(
                ["KS", "threshold", "TPR", "FPR"],
                [[ks.statistic, ks.threshold, ks.tpr, ks.fpr]],
            ),
        ),
        _section(
            "lift",
            "Lift and gains (table: validation)",
            _image(charts.lift_chart(sets), "lift chart"),
            _image(charts.gains_chart(sets), "gains chart"),
            _frame_table(validation.lift, lift_columns),
        ),
    ]
    if validation.calibration is not None:
        sections.append(
            _section(
                "calibration",
                "Calibration (validation)",
                _image(charts.calibration_chart(sets), "calibration chart"),
                _frame_table(
                    validation.calibration.table,
                    [
                        "bin",
                        "lower",
                        "upper",
                        "count",
                        "mean_predicted",
                        "observed_rate",
                    ],
                ),
            )
        )
    if validation.psi is not None:
        psi = validation.psi
        sections.append(
            _section(
                "stability",
                "Stability: PSI train → validation",
                f"<p>PSI {_fmt(psi.psi)} ({_esc(psi.stability)})</p>",
                _image(charts.psi_chart(psi), "PSI chart"),
                _frame_table(
                    psi.table,
                    [
                        "bin",
                        "lower",
                        "upper",
                        "expected_share",
                        "actual_share",
                        "psi_contribution",
                    ],
                ),
            )
        )
    confusion = validation.confusion
    sections.append(
        _section(
            "confusion",
            f"Confusion matrix (validation, score ≥ {confusion.threshold:.4g})",
            _table(
                ["", "predicted 0", "predicted 1"],
                [
                    ["actual 0", confusion.tn, confusion.fp],
                    ["actual 1", confusion.fn, confusion.tp],
                ],
            ),
            _table(
                ["precision", "recall", "F1", "accuracy"],
                [
                    [
                        confusion.precision,
                        confusion.recall,
                        confusion.f1,
                        confusion.accuracy,
                    ]
                ],
            ),
        )
    )
    return sections


def _iv_section(section_id: str, heading: str, ivs: Mapping[str, float]) -> str:
    if not ivs:
        return _section(section_id, heading, "<p>Not provided.</p>")
    rows = [[row["feature"], row["iv"], row["strength"]] for row in _iv_rows(ivs)]
    return _section(section_id, heading, _table(["feature", "IV", "strength"], rows))


def _history_section(history: Sequence[EpochMetrics]) -> str:
    from models import report_charts as charts

    if not history:
        return _section("training", "Training curves", "<p>Not provided.</p>")
    names = ["train_loss", "validation_loss", "train_auc", "validation_auc"]
    titles = [name.replace("_", " ").replace("auc", "AUC") for name in names]
    series = {
        title: [getattr(point, name) for point in history]
        for title, name in zip(titles, names, strict=True)
    }
    rows = [
        [point.epoch, *(getattr(point, name) for name in names)] for point in history
    ]
    return _section(
        "training",
        "Training curves",
        _image(charts.training_chart([p.epoch for p in history], series), "training"),
        _table(["epoch", *titles], rows),
    )


def _data_section(report: ReportInput) -> str:
    if not (report.data or report.notes or report.missing):
        return ""
    parts = []
    if report.notes:
        parts.append("<ul>" + "".join(f"<li>{_esc(n)}</li>" for n in report.notes))
        parts[-1] += "</ul>"
    data = dict(report.data)
    reasons = data.pop("rejected_by_reason", {}) or {}
    data.pop("notes", None)
    rows = [[key.replace("_", " "), value] for key, value in data.items()]
    rows += [[f"rejected: {reason}", count] for reason, count in reasons.items()]
    if rows:
        parts.append(_table(["bank data", "value"], rows))
    missing = [
        [name, party, share]
        for party, features in report.missing.items()
        for name, share in features.items()
        if share
    ]
    if missing:
        parts.append(
            "<p>Features with missing values (training rows):</p>"
            + _table(["feature", "party", "missing share"], missing)
        )
    return _section("data", "Data: what the job did to it", *parts)


def _preparation_section(report: ReportInput) -> str:
    if not report.preparation:
        return ""
    columns = [
        "column", "kind", "missing_share", "missing_indicator", "categories_kept",
        "categories_to_other", "rows_to_other", "other_indicator",
    ]  # fmt: skip
    rows = [[record.get(c) for c in columns] for record in report.preparation]
    return _section(
        "preparation",
        "Bank inputs: preparation on the training rows",
        _table([c.replace("_", " ") for c in columns], rows),
    )


def _bins_section(report: ReportInput) -> str:
    if not report.bins:
        return ""
    parts = []
    for party, features in report.bins.items():
        for name, bins in features.items():
            rows = [
                [b["bin"], b["rows"], b["positives"], b["negatives"], b["woe"]]
                for b in bins
            ]
            table = _table(["bin", "rows", "positives", "negatives", "WOE"], rows)
            parts.append(
                f"<details><summary>{_esc(party)}: {_esc(name)}</summary>"
                f"{table}</details>"
            )
    return _section("bins", "Bins of the information values", *parts)


def report_to_html(report: ReportInput) -> str:
    """The whole report as one HTML document."""
    sets = {"validation": report.validation}
    if report.train is not None:
        sets["train"] = report.train
    metadata = _table(
        ["field", "value"], [[key, value] for key, value in report.metadata.items()]
    )
    coefficient_rows = [[name, value] for name, value in report.coefficients.items()]
    if report.intercept is not None:
        coefficient_rows.insert(0, ["(intercept)", report.intercept])
    parts = [
        _section("job", "Job", metadata),
        _data_section(report),
        _summary(sets),
        *_evaluation_sections(sets),
        _iv_section(
            "operator-iv", "Operator features: information value", report.operator_iv
        ),
        _iv_section("bank-iv", "Bank features: information value", report.bank_iv),
        _section(
            "coefficients",
            "Bank-side coefficients",
            _table(["feature", "coefficient"], coefficient_rows)
            if coefficient_rows
            else "<p>Not provided.</p>",
        ),
        _preparation_section(report),
        _history_section(report.history),
        _bins_section(report),
    ]
    for table in report.tables:
        note = f"<p>{_esc(table.note)}</p>" if table.note else ""
        parts.append(
            _section(
                f"table-{table.key}",
                table.title,
                note,
                _table(table.columns, table.rows),
            )
        )
    if report.scorecard is not None:
        parts.append(
            _section(
                "scorecard",
                "Scorecard points",
                _frame_table(
                    report.scorecard.table,
                    ["feature", "label", "woe", "coefficient", "points"],
                ),
            )
        )
    privacy = "".join(f"<li>{_esc(line)}</li>" for line in report.privacy)
    parts.append(
        _section("privacy", "Privacy: what each party learned", f"<ul>{privacy}</ul>")
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_esc(report.title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{_esc(report.title)}</h1>{''.join(parts)}</body></html>"
    )


def _write_atomically(path: Path, text: str) -> None:
    # A reader (or a crash) never sees half a report: write aside, then rename.
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def write_report(
    folder: str | os.PathLike[str], report: ReportInput, *, stem: str = "report"
) -> tuple[Path, Path]:
    """Write ``<stem>.html`` and ``<stem>.json`` into ``folder`` (created if needed)."""
    if not stem or Path(stem).name != stem:
        raise ValueError(f"stem must be a plain file name, got {stem!r}")
    directory = Path(folder)
    directory.mkdir(parents=True, exist_ok=True)
    html_path = directory / f"{stem}.html"
    json_path = directory / f"{stem}.json"
    document = json.dumps(report_to_dict(report), indent=2, allow_nan=False)
    _write_atomically(json_path, document + "\n")
    _write_atomically(html_path, report_to_html(report))
    return html_path, json_path
