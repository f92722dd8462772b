"""What a job did to the data is in its report: rejected and unlabelled rows, merged
bins (none returned with fewer rows than the minimum), the inputs' preparation; and a
job fails when its data rejected more rows than it allows."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bank_node.job_runner import JobRunner
from node_core.ingest import IngestionError
from tests.joint import job_spec, joint_setup
from tests.nodes import Pki

QUICK = {"epochs": 1, "batch_size": 128}


def _spoil_labels(path: Path, rows: int) -> None:
    """Give `rows` rows a label that is neither 0 nor 1, and 4 more no label."""
    bank = pd.read_csv(path, dtype=str)
    bank.loc[: rows - 1, "y"] = "2"
    bank.loc[rows : rows + 3, "y"] = ""
    bank.to_csv(path, index=False)


def test_report_accounts_for_rejected_and_unlabelled_rows_if_labels_are_bad(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: 5 bad labels (0.9% of 569 rows) and 4 empty ones.
    with joint_setup(tmp_path, pki) as setup:
        _spoil_labels(setup.files.bank, 5)
        spec = job_spec(tmp_path, model=QUICK)
        # Execute
        run = JobRunner(setup.bank, spec, progress=lambda _: None).run()
    report = json.loads((run.report_dir / "report.json").read_text())
    html = (run.report_dir / "report.html").read_text()
    # Assert
    data = run.summary["data"]
    assert (data["rows_read"], data["rows_rejected"]) == (569, 5)
    assert data["rejected_by_reason"] == {"bad label": 5}
    assert (data["without_label"], data["labelled"]) == (4, 560)
    assert report["data"]["rejected_by_reason"] == {"bad label": 5}
    assert report["notes"][0] == (
        "5 of 569 rows of the bank's data were rejected (0.88%; bad label: 5) and are"
        " not in the job"
    )
    assert report["notes"][1] == "4 accepted rows have no label and are not in the job"
    assert "rejected: bad label" in html and "5 of 569 rows" in html


def test_job_fails_if_more_rows_rejected_than_the_spec_allows(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare
    with joint_setup(tmp_path, pki) as setup:
        _spoil_labels(setup.files.bank, 5)
        spec = job_spec(tmp_path, data={"max_rejected_share": 0.005}, model=QUICK)
        # Execute
        with pytest.raises(IngestionError) as info:
            JobRunner(setup.bank, spec, progress=lambda _: None).run()
        jobs = setup.bank.store.list_jobs()
    # Assert
    assert str(info.value) == (
        f"{setup.files.bank}: 5 of 569 rows rejected (0.9%), over"
        " data.max_rejected_share of job.toml = 0.5%; most: bad label (5 rows, e.g."
        " row 0 column 'y': label must be 0 or 1)"
    )
    assert [j.status.value for j in jobs] == ["failed"]


def test_no_returned_bin_has_fewer_rows_than_the_minimum_if_width_binning_asks(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: 64 equal-width bins over ~400 training rows would leave many bins
    # with a handful of rows; the operator's policy minimum is 64 rows.
    with joint_setup(tmp_path, pki) as setup:
        spec = job_spec(tmp_path, binning={"method": "width", "bins": 64}, model=QUICK)
        # Execute
        run = JobRunner(setup.bank, spec, progress=lambda _: None).run()
    report = json.loads((run.report_dir / "report.json").read_text())
    # Assert: every occupied bin of either party holds >= 64 rows, and merging
    # happened (the labels say which bins absorbed which).
    sizes = [
        b["rows"]
        for party in ("operator", "bank")
        for bins in report["bins"][party].values()
        for b in bins
    ]
    assert min(n for n in sizes if n > 0) >= 64
    assert len(report["bins"]["operator"]) == 20
    note = next(n for n in report["notes"] if n.startswith("binning, operator"))
    assert "occupied bins (of 64 asked, plus missing/other)" in note
    assert (
        max(
            len([b for b in bins if b["rows"]])
            for bins in report["bins"]["operator"].values()
        )
        <= 7
    )  # ~400 rows / 64
    totals = {
        sum(b["rows"] for b in bins) for bins in report["bins"]["operator"].values()
    }
    assert totals == {run.summary["rows"]["train"]}  # no row dropped
