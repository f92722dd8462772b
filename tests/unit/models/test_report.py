"""Tests of models.report: files written, JSON content, HTML sections and escaping."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models.metrics import evaluate
from models.report import EpochMetrics, ReportInput, write_report
from models.scorecard import scorecard_points

SECTIONS = [
    "job",
    "summary",
    "roc",
    "ks",
    "lift",
    "calibration",
    "stability",
    "confusion",
    "operator-iv",
    "bank-iv",
    "coefficients",
    "training",
    "scorecard",
    "privacy",
]


def _strict_json(path: Path) -> dict:
    def reject(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=reject)


@pytest.fixture(scope="module")
def full_input(breast_scores) -> ReportInput:
    y_train, p_train, y_valid, p_valid = breast_scores
    card = scorecard_points(
        {"tenure band": 0.7}, -0.4, {"tenure band": np.array([0.3, -0.2, 0.0])}
    )
    return ReportInput(
        title="Breast demo",
        validation=evaluate(y_valid, p_valid, reference_score=p_train),
        train=evaluate(y_train, p_train),
        metadata={"job_id": "job-7", "rows": {"train": 379, "validation": 190}},
        operator_iv={"operator feature 1": 0.31, "operator feature 2": 0.04},
        bank_iv={"x0": 1.2},
        coefficients={"x0": -0.8},
        intercept=0.1,
        history=[EpochMetrics(1, 0.6, 0.62, 0.9, 0.88), EpochMetrics(2, 0.4, 0.45)],
        scorecard=card,
        privacy=["The operator learned the intersection size only."],
    )


def test_write_report_writes_html_and_json_if_full_input(
    tmp_path: Path, full_input: ReportInput
) -> None:
    # Prepare
    folder = tmp_path / "reports" / "job-7"

    # Execute
    html_path, json_path = write_report(folder, full_input)

    # Assert
    assert full_input.validation.psi is not None and full_input.train is not None
    assert (html_path, json_path) == (folder / "report.html", folder / "report.json")
    document = _strict_json(json_path)
    assert document["validation"]["auc"] == pytest.approx(full_input.validation.auc)
    assert document["validation"]["ks"]["statistic"] == pytest.approx(
        full_input.validation.ks.statistic
    )
    assert document["validation"]["psi"]["psi"] == pytest.approx(
        full_input.validation.psi.psi
    )
    assert document["train"]["n_rows"] == full_input.train.n_rows
    assert [row["feature"] for row in document["operator_iv"]] == [
        "operator feature 1",
        "operator feature 2",
    ]
    assert document["history"][1]["train_auc"] is None
    assert len(document["scorecard"]["table"]) == 3


def test_write_report_html_has_every_section_if_full_input(
    tmp_path: Path, full_input: ReportInput
) -> None:
    # Prepare / Execute
    html_path, _ = write_report(tmp_path, full_input)
    page = html_path.read_text(encoding="utf-8")

    # Assert
    for section in SECTIONS:
        assert f'<section id="{section}">' in page, section
    assert page.count('src="data:image/png;base64,') == 7
    assert not re.search(r'(src|href)="https?:', page)  # self-contained


def test_write_report_escapes_markup_if_caller_strings_contain_html(
    tmp_path: Path, full_input: ReportInput
) -> None:
    # Prepare
    attack = "<script>alert(1)</script>"
    hostile = ReportInput(
        title=attack,
        validation=full_input.validation,
        metadata={attack: attack},
        operator_iv={attack: 0.2},
        bank_iv={attack: 0.1},
        coefficients={attack: 1.0},
        privacy=[attack],
    )

    # Execute
    html_path, json_path = write_report(tmp_path, hostile)
    page = html_path.read_text(encoding="utf-8")

    # Assert
    assert "<script" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 8
    assert _strict_json(json_path)["title"] == attack


def test_write_report_marks_missing_parts_if_only_validation_given(
    tmp_path: Path, breast_scores
) -> None:
    # Prepare: logits, so there is no calibration; no reference, so no PSI.
    _, _, y_valid, p_valid = breast_scores
    logits = np.log(p_valid + 1e-9) - np.log1p(-p_valid + 1e-9)
    minimal = ReportInput(title="t", validation=evaluate(y_valid, logits, threshold=0))

    # Execute
    html_path, json_path = write_report(tmp_path, minimal, stem="minimal")
    page = html_path.read_text(encoding="utf-8")

    # Assert
    assert html_path.name == "minimal.html"
    for absent in ("calibration", "stability", "scorecard"):
        assert f'<section id="{absent}">' not in page
    assert page.count("Not provided.") == 4
    document = _strict_json(json_path)
    assert document["train"] is None and document["validation"]["calibration"] is None


def test_write_report_raises_value_error_if_stem_is_a_path(
    tmp_path: Path, full_input: ReportInput
) -> None:
    # Prepare
    stem = "../escape"

    # Execute / Assert
    with pytest.raises(
        ValueError, match=re.escape("stem must be a plain file name, got '../escape'")
    ):
        write_report(tmp_path, full_input, stem=stem)


def test_models_import_leaves_matplotlib_unloaded_if_report_not_written() -> None:
    # Prepare
    code = (
        "import sys, models, models.metrics, models.woe, models.scorecard, "
        "models.report; print('matplotlib' in sys.modules)"
    )

    # Execute
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    # Assert
    assert result.stdout.strip() == "False"


def test_write_report_shows_what_the_job_did_to_the_data_if_given(
    tmp_path: Path, full_input: ReportInput
) -> None:
    # Prepare
    attack = "<b>x</b>"
    bins = [
        {"bin": "(-inf, 3]", "rows": 120, "positives": 9, "negatives": 111, "woe": 0.2},
        {"bin": "(3, inf) + missing", "rows": 80, "positives": 4, "negatives": 76,
         "woe": -0.1},
        {"bin": "missing (merged)", "rows": 0, "positives": 0, "negatives": 0,
         "woe": 0.0},
    ]  # fmt: skip
    report = ReportInput(
        title="data",
        validation=full_input.validation,
        data={"rows_read": 569, "rejected_by_reason": {"bad label": 5}},
        notes=["5 of 569 rows were rejected", attack],
        missing={"operator": {"usage": "merged", "age": None}, "bank": {"x0": 0.03}},
        preparation=[
            {
                "column": "x0",
                "kind": "numeric",
                "missing_share": 0.03,
                "missing_indicator": False,
            }
        ],  # fmt: skip
        bins={"operator": {attack: bins}},
    )
    # Execute
    html_path, json_path = write_report(tmp_path, report)
    page = html_path.read_text(encoding="utf-8")
    document = _strict_json(json_path)
    # Assert
    for section in ("data", "preparation", "bins"):
        assert f'<section id="{section}">' in page, section
    assert "<td>rejected: bad label</td><td>5</td>" in page
    assert "<td>usage</td><td>operator</td><td>merged</td>" in page
    assert "<td>age</td>" not in page  # unknown shares are not listed
    assert "<b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert document["bins"]["operator"][attack][1]["bin"] == "(3, inf) + missing"
    assert document["notes"] == ["5 of 569 rows were rejected", attack]
    assert document["preparation"][0]["missing_share"] == 0.03
