"""Ingestion: explicit types, every row accepted or rejected with a reason, nothing
dropped silently, file-level problems named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from node_core.config import DataSourceConfig
from node_core.ingest import (
    BAD_LABEL,
    BAD_PHONE,
    BAD_RESIDENT_ID,
    BAD_TYPE,
    DUPLICATE_ID,
    MISSING_REQUIRED,
    IngestionError,
    load_dataset,
)

CSV = """phone,name,resident_id,age,income_band,default_12m,extra
13800138000,Zhang San,11010519491231002X,45,high,0,a
+86 139-0013-9000,Li Si,110105194912310021,31,low,1,b
8613700137000,Wang Wu,11010519491231002X,abc,mid,0,c
1380013800,Zhao Liu,11010519491231002X,52,mid,,d
13600136000,Qian Qi,11010519491231002X,,mid,2,e
13800138000,Sun Ba,11010519491231002X,33,low,1,f
13500135000,,11010519491231002X,NA,,1,g
"""


def source(tmp_path: Path, text: str = CSV, **overrides) -> DataSourceConfig:
    path = tmp_path / "customers.csv"
    path.write_text(text)
    fields = {
        "path": path,
        "id": "phone",
        "label": "default_12m",
        "identity": ("name", "resident_id"),
        "resident_id_columns": ("resident_id",),
        "numeric": ("age",),
        "categorical": ("income_band",),
        "on_duplicate": "keep_first",
        "max_rejected_share": 1.0,  # the sample rejects most of its rows on purpose
        **overrides,
    }
    return DataSourceConfig(**fields)


def test_load_dataset_rejects_each_bad_row_with_reason_if_keep_first(
    tmp_path: Path,
) -> None:
    # Execute
    ds = load_dataset("customers", source(tmp_path))
    # Assert
    report = ds.report
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (7, 2, 5)
    assert report.rejected_by_reason == {
        BAD_RESIDENT_ID: 1, BAD_TYPE: 1, BAD_PHONE: 1, BAD_LABEL: 1, DUPLICATE_ID: 1,
    }  # fmt: skip
    assert [(r.row, r.column, r.reason) for r in report.rejections] == [
        (1, "resident_id", BAD_RESIDENT_ID),
        (2, "age", BAD_TYPE),
        (3, "phone", BAD_PHONE),
        (4, "default_12m", BAD_LABEL),
        (5, "phone", DUPLICATE_ID),
    ]
    assert report.rejections[1].value_class == "text(3 chars)"
    assert report.rejections[2].detail == "phone has wrong number of digits"
    assert report.ignored_columns == ["extra"]
    assert ds.ids.tolist() == ["13800138000", "13500135000"]
    assert ds.source_rows.tolist() == [0, 6]


def test_load_dataset_types_columns_explicitly_if_values_missing(
    tmp_path: Path,
) -> None:
    # Execute
    ds = load_dataset("customers", source(tmp_path))
    # Assert
    assert ds.feature_types == {"age": "numeric", "income_band": "categorical"}
    assert ds.features["age"].dtype == np.float64
    assert np.isnan(ds.features["age"].iloc[1])
    assert pd.isna(ds.features["income_band"].iloc[1])
    assert ds.label.tolist() == [0.0, 1.0]
    assert list(ds.identity.columns) == ["name", "resident_id"]
    assert "name" not in ds.features.columns


def test_report_never_contains_identifier_values_if_rows_rejected(
    tmp_path: Path,
) -> None:
    # Execute
    report = load_dataset("customers", source(tmp_path)).report
    # Assert
    text = report.to_text(max_lines=100) + str(report.to_dict())
    for value in ("1380013800", "13800138000", "110105194912310021", "Zhao", "abc"):
        assert value not in text.replace(str(tmp_path), "")


def test_load_dataset_raises_if_duplicates_and_policy_is_error(tmp_path: Path) -> None:
    # Prepare
    src = source(tmp_path, on_duplicate="error")
    # Execute
    with pytest.raises(IngestionError) as info:
        load_dataset("customers", src)
    # Assert
    assert str(info.value) == (
        f"{src.path}: column 'phone' has 1 duplicate id(s) (data rows 5); fix the file"
        " or set on_duplicate = 'keep_first'"
    )


def test_load_dataset_raises_if_declared_column_missing(tmp_path: Path) -> None:
    # Prepare
    src = source(tmp_path, numeric=("age", "deposits"))
    # Execute
    with pytest.raises(IngestionError) as info:
        load_dataset("customers", src)
    # Assert
    assert str(info.value) == f"{src.path}: missing required column 'deposits'"


def test_load_dataset_raises_if_id_column_missing(tmp_path: Path) -> None:
    # Prepare
    src = source(tmp_path, id="msisdn")
    # Execute / Assert
    with pytest.raises(
        IngestionError, match="missing required column 'msisdn' \\(id\\)"
    ):
        load_dataset("customers", src)


def test_load_dataset_rejects_missing_required_value_if_declared_required(
    tmp_path: Path,
) -> None:
    # Prepare
    src = source(tmp_path, required=("income_band",))
    # Execute
    report = load_dataset("customers", src).report
    # Assert
    assert report.rejected_by_reason[MISSING_REQUIRED] == 1
    assert (6, "income_band", MISSING_REQUIRED) in [
        (r.row, r.column, r.reason) for r in report.rejections
    ]


def test_load_dataset_reads_parquet_with_glob_patterns_if_declared(
    tmp_path: Path,
) -> None:
    # Prepare
    frame = pd.DataFrame(
        {
            "phone": ["13800138000", "13900139000"],
            "usage_minutes": [10.5, np.nan],
            "usage_calls": ["3", "x"],  # a text column in a numeric group
            "device_brand": ["Apple", None],
        }
    )
    path = tmp_path / "subs.parquet"
    frame.to_parquet(path)
    src = DataSourceConfig(path=path, numeric=("usage_*",), categorical=("device_*",))
    # Execute: one of two rows rejected, so the share is checked separately.
    ds = load_dataset("subscribers", src, check_share=False)
    # Assert
    assert ds.report.rejected_by_reason == {BAD_TYPE: 1}
    assert ds.report.rejections[0].column == "usage_calls"
    assert list(ds.features.columns) == ["usage_minutes", "usage_calls", "device_brand"]
    assert ds.features["usage_calls"].tolist() == [3.0]


def test_load_dataset_raises_if_pattern_matches_nothing(tmp_path: Path) -> None:
    # Prepare
    src = source(tmp_path, numeric=("app_*",))
    # Execute / Assert
    with pytest.raises(
        IngestionError, match="numeric pattern 'app_\\*' matches no column"
    ):
        load_dataset("customers", src)


# ---- the --dirty world of scripts.generate_world --------------------------------
DIRTY_REASONS = {
    "bad_phone": BAD_PHONE,
    "bad_resident_id": BAD_RESIDENT_ID,
    "duplicate_id": DUPLICATE_ID,
    "bad_type": BAD_TYPE,
    "missing_value_in_required_column": MISSING_REQUIRED,
}
SCHEMAS = {
    "operator/subscribers.parquet": dict(
        identity=("name", "resident_id", "contact_1", "contact_2", "contact_3"),
        categorical=("profile_gender", "acct_status", "acct_plan",
                     "sms955_primary_bank", "place_*_district", "place_home_community",
                     "place_home_cell", "place_work_building", "place_work_cell",
                     "device_brand", "device_model", "device_price_tier"),
        numeric=("profile_age", "acct_*", "usage_*", "sms955_*", "app_*",
                 "place_commute_km", "device_price_cny", "device_months_in_use"),
    ),
    "banks/bank-a/customers.parquet": dict(
        label="default_12m",
        identity=("customer_id", "name", "resident_id"),
        categorical=("bank_gender", "bank_occupation", "bank_income_band",
                     "bank_branch_district"),
        numeric=("bank_*",),
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def dirty_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("dirty") / "world"
    subprocess.run(
        [sys.executable, "-m", "scripts.generate_world", "--subscribers", "4000",
         "--seed", "3", "--dirty", "--no-report", "--out", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    return out


@pytest.mark.parametrize("file", sorted(SCHEMAS))
def test_load_dataset_rejects_exactly_the_planted_rows_if_world_is_dirty(
    dirty_world: Path, file: str
) -> None:
    # Prepare
    import json

    manifest = json.loads((dirty_world / "dirty_manifest.json").read_text())
    planted = {
        (r["row"], DIRTY_REASONS[r["reason"]])
        for r in manifest["rejected"]
        if r["file"] == file
    }
    variants = {v["row"] for v in manifest["valid_variants"] if v["file"] == file}
    src = DataSourceConfig(
        path=dirty_world / file,
        resident_id_columns=("resident_id",),
        required=("name", "resident_id"),
        on_duplicate="keep_first",
        **SCHEMAS[file],
    )
    # Execute
    ds = load_dataset(file, src)
    # Assert
    rejected = {(r.row, r.reason) for r in ds.report.rejections}
    assert rejected == planted
    assert ds.report.rows_rejected == len({row for row, _ in planted})
    assert ds.report.rows_accepted + ds.report.rows_rejected == ds.report.rows_read
    assert variants <= set(ds.source_rows.tolist())
    for reason in {reason for _, reason in planted}:
        assert ds.report.rejected_by_reason[reason] > 0


GOOD_ROWS = "".join(f"1380013{i:04d},{20 + i % 50}\n" for i in range(40))


def test_load_dataset_raises_one_line_if_rejected_share_over_limit(
    tmp_path: Path,
) -> None:
    # Prepare: 40 good rows and 3 with a bad phone (7.0% > 5%).
    text = "phone,age\n" + GOOD_ROWS + "123,1\n456,2\n789,3\n"
    src = source(
        tmp_path, text, label=None, identity=(), resident_id_columns=(),
        categorical=(), max_rejected_share=0.05,
    )  # fmt: skip
    # Execute
    with pytest.raises(IngestionError) as info:
        load_dataset("customers", src)
    # Assert
    assert str(info.value) == (
        f"{src.path}: 3 of 43 rows rejected (7.0%), over"
        " data.customers.max_rejected_share = 5.0%; most: bad phone (3 rows, e.g."
        " row 40 column 'phone': phone has wrong number of digits)"
    )
    assert "\n" not in str(info.value)


def test_load_dataset_accepts_rejections_if_share_within_limit(tmp_path: Path) -> None:
    # Prepare: 2 bad rows of 42 (4.8%).
    text = "phone,age\n" + GOOD_ROWS + "123,1\n456,2\n"
    src = source(
        tmp_path, text, label=None, identity=(), resident_id_columns=(),
        categorical=(), max_rejected_share=0.05,
    )  # fmt: skip
    # Execute
    report = load_dataset("customers", src).report
    # Assert
    assert (report.rows_accepted, report.rows_rejected) == (40, 2)


def test_load_dataset_converts_phones_if_parquet_column_is_float(
    tmp_path: Path,
) -> None:
    # Prepare: the phone column written as float64 (13800138000.0).
    path = tmp_path / "subscribers.parquet"
    phones = [13800130000.0 + i for i in range(40)]
    pd.DataFrame({"phone": phones, "age": range(40)}).to_parquet(path)
    src = DataSourceConfig(path=path, numeric=("age",))
    # Execute
    dataset = load_dataset("subscribers", src)
    # Assert
    assert dataset.report.rows_accepted == 40
    assert dataset.ids[0] == "13800130000"
    assert dataset.report.notes == [
        "column 'phone': 40 phone numbers stored as decimal numbers (e.g."
        " 13800138000.0) were read as whole numbers; store them as text"
    ]
    assert "note: column 'phone': 40 phone numbers" in dataset.report.to_text()


def test_load_dataset_refuses_phones_with_fractions_if_column_is_float(
    tmp_path: Path,
) -> None:
    # Prepare: a float column whose values are not whole numbers: every row fails.
    path = tmp_path / "subscribers.parquet"
    pd.DataFrame({"phone": [13800130000.5 + i for i in range(40)]}).to_parquet(path)
    src = DataSourceConfig(path=path)
    # Execute
    with pytest.raises(IngestionError) as info:
        load_dataset("subscribers", src)
    # Assert: the one line says why, and how to fix it.
    assert "40 of 40 rows rejected (100.0%)" in str(info.value)
    assert "phone is a decimal number with a fraction; store phone numbers as text" in (
        str(info.value)
    )
