"""--dirty worlds: exactly the listed rows are bad, the listed variants are fine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from protocol.identifiers import normalize_phone, normalize_phones, resident_id_reasons
from scripts.world.dirty import REASONS

DIRTY_FILES = (
    "operator/subscribers.parquet",
    "banks/bank-a/customers.parquet",
    "banks/bank-a/applicants.parquet",
    "banks/bank-b/customers.parquet",
    "banks/bank-b/applicants.parquet",
)
REQUIRED = ("phone", "name", "resident_id")


@pytest.fixture(scope="module")
def manifest(dirty_world_dir: Path) -> dict:
    return json.loads((dirty_world_dir / "dirty_manifest.json").read_text())


def _invalid_rows(frame: pd.DataFrame) -> dict[int, str]:
    """Rows an ingestion with the shared identifier rules must reject, and why."""
    reasons: dict[int, str] = {}
    canonical, phone_reason = normalize_phones(frame["phone"])
    text_columns = [
        c for c in frame.columns if c.startswith(("acct_", "usage_", "bank_"))
    ]
    for column in text_columns:
        if not pd.api.types.is_string_dtype(frame[column]):
            continue
        parsed = pd.to_numeric(frame[column], errors="coerce")
        if parsed.notna().mean() > 0.5:  # a numeric column that became text
            for row in np.flatnonzero(parsed.isna() & frame[column].notna()):
                reasons[int(row)] = "bad_type"
    for row in np.flatnonzero(canonical.duplicated() & canonical.notna()):
        reasons[int(row)] = "duplicate_id"
    for row in np.flatnonzero(resident_id_reasons(frame["resident_id"]).notna()):
        reasons[int(row)] = "bad_resident_id"
    for row in np.flatnonzero(phone_reason.notna()):
        reasons[int(row)] = "bad_phone"
    for column in REQUIRED:
        empty = frame[column].isna() | (
            frame[column].astype("string").str.strip() == ""
        )
        for row in np.flatnonzero(empty):
            reasons[int(row)] = "missing_value_in_required_column"
    return reasons


@pytest.mark.parametrize("name", DIRTY_FILES)
def test_dirty_manifest_lists_exactly_the_invalid_rows_if_checked_by_protocol(
    dirty_world_dir: Path, manifest: dict, name: str
) -> None:
    # Prepare
    frame = pd.read_parquet(dirty_world_dir / name)
    listed = {e["row"]: e["reason"] for e in manifest["rejected"] if e["file"] == name}

    # Execute
    found = _invalid_rows(frame)

    # Assert
    assert listed and set(found) == set(listed)
    assert {r: found[r] for r in listed} == listed


def test_dirty_manifest_covers_every_reason_class_if_dirty(manifest: dict) -> None:
    # Prepare, Execute
    reasons = {e["reason"] for e in manifest["rejected"]}

    # Assert
    assert reasons == set(REASONS)


def test_dirty_duplicates_point_to_an_earlier_row_if_planted(
    dirty_world_dir: Path, manifest: dict
) -> None:
    # Prepare
    frame = pd.read_parquet(dirty_world_dir / "operator" / "subscribers.parquet")

    # Execute
    dups = [
        e for e in manifest["rejected"]
        if e["reason"] == "duplicate_id" and e["file"] == "operator/subscribers.parquet"
    ]  # fmt: skip

    # Assert
    assert dups
    for entry in dups:
        assert entry["duplicate_of_row"] < entry["row"]
        assert frame["phone"][entry["duplicate_of_row"]] == frame["phone"][entry["row"]]


def test_dirty_valid_variants_normalise_to_their_canonical_phone_if_accepted(
    dirty_world_dir: Path, manifest: dict
) -> None:
    # Prepare
    variants = manifest["valid_variants"]
    rejected = {(e["file"], e["row"]) for e in manifest["rejected"]}

    # Execute
    frames = {name: pd.read_parquet(dirty_world_dir / name) for name in DIRTY_FILES}

    # Assert
    assert {e["file"] for e in variants} == set(DIRTY_FILES)
    for entry in variants:
        value = frames[entry["file"]]["phone"][entry["row"]]
        assert value == entry["value"] and value != entry["canonical"]
        assert normalize_phone(value) == entry["canonical"]
        assert (entry["file"], entry["row"]) not in rejected
