"""A generated world: identities, phones, overlap, outcomes, files and determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from protocol.identifiers import normalize_phones, resident_id_reasons
from scripts.world.identities import REFERENCE_DATE
from scripts.world.phones import OPERATOR_PREFIXES
from scripts.world.world import WorldArgs, generate_world
from tests.unit.scripts.conftest import REPORT_WORLD


def _ages_from_ids(ids: pd.Series) -> np.ndarray:
    birth = pd.to_datetime(ids.str.slice(6, 14), format="%Y%m%d")
    ref = pd.Timestamp(str(REFERENCE_DATE))
    before_birthday = (birth.dt.month > ref.month) | (
        (birth.dt.month == ref.month) & (birth.dt.day > ref.day)
    )
    return (ref.year - birth.dt.year - before_birthday.astype(int)).to_numpy()


def test_world_phones_are_unique_canonical_on_prefixes_if_generated(
    subscribers: pd.DataFrame,
) -> None:
    # Prepare
    phones = subscribers["phone"]

    # Execute
    canonical, reason = normalize_phones(phones)

    # Assert
    assert len(phones) == REPORT_WORLD.subscribers
    assert reason.isna().all() and (canonical == phones).all()
    assert phones.is_unique
    assert set(phones.str.slice(0, 3).astype(int)) <= set(OPERATOR_PREFIXES)


def test_world_resident_ids_pass_checksum_and_match_profile_if_generated(
    subscribers: pd.DataFrame,
) -> None:
    # Prepare
    ids = subscribers["resident_id"]

    # Execute
    reasons = resident_id_reasons(ids)
    male_by_id = ids.str.slice(16, 17).astype(int) % 2 == 1

    # Assert
    assert reasons.isna().all()
    assert ids.is_unique
    assert ((subscribers["profile_gender"] == "M") == male_by_id).all()
    assert (_ages_from_ids(ids) == subscribers["profile_age"].to_numpy()).all()


def test_world_contacts_are_distinct_valid_numbers_if_generated(
    subscribers: pd.DataFrame,
) -> None:
    # Prepare
    contacts = subscribers[["contact_1", "contact_2", "contact_3"]]

    # Execute
    reasons = [normalize_phones(contacts[c])[1] for c in contacts]

    # Assert
    assert all(r.isna().all() for r in reasons)
    c1, c2, c3 = (contacts[c] for c in contacts)
    assert ((c1 != c2) & (c1 != c3) & (c2 != c3)).all()
    stacked = pd.concat([contacts[c] for c in contacts], ignore_index=True)
    on_network = stacked.isin(subscribers["phone"]).mean()
    assert 0.5 < on_network < 0.7  # the operator's share of Beijing numbers
    for column in contacts:
        assert (contacts[column] != subscribers["phone"]).all()


def test_world_bank_customers_overlap_subscribers_at_requested_rate_if_default(
    world_dir: Path, subscribers: pd.DataFrame
) -> None:
    # Prepare
    phone_set = set(subscribers["phone"])

    for party in ("bank-a", "bank-b"):
        # Execute
        customers = pd.read_parquet(world_dir / "banks" / party / "customers.parquet")
        on_network = customers["phone"].isin(phone_set).mean()

        # Assert
        assert abs(on_network - REPORT_WORLD.overlap) < 0.02, party
        assert customers["phone"].is_unique
        assert normalize_phones(customers["phone"])[1].isna().all()
        assert resident_id_reasons(customers["resident_id"]).isna().all()


def test_world_parties_agree_on_identity_if_customer_is_subscriber(
    customers: pd.DataFrame, subscribers: pd.DataFrame
) -> None:
    # Prepare
    joined = customers.merge(subscribers, on="phone", suffixes=("", "_operator"))

    # Execute
    same_name = joined["name"] == joined["name_operator"]
    same_id = joined["resident_id"] == joined["resident_id_operator"]

    # Assert
    assert len(joined) > 0 and same_name.all() and same_id.all()
    assert (joined["bank_age"] == joined["profile_age"]).all()


def test_world_outcomes_are_realistic_if_default_world(
    customers: pd.DataFrame, subscribers: pd.DataFrame
) -> None:
    # Prepare
    has_loan = (
        customers[
            ["bank_has_credit_card", "bank_has_consumer_loan", "bank_has_mortgage"]
        ]
        .sum(axis=1)
        .gt(0)
    )

    # Execute
    default_rate = customers["default_12m"].mean()

    # Assert
    assert (customers["default_12m"].notna() == has_loan).all()
    assert 0.03 <= default_rate <= 0.08
    assert 0.01 <= customers["response"].mean() <= 0.06
    share = len(customers) * REPORT_WORLD.overlap / len(subscribers)
    assert 0.10 <= share <= 0.16


def test_world_applicants_are_new_and_have_hidden_outcomes_if_generated(
    world_dir: Path, customers: pd.DataFrame
) -> None:
    # Prepare
    applicants = pd.read_parquet(world_dir / "banks" / "bank-a" / "applicants.parquet")
    outcome = pd.read_parquet(
        world_dir / "ground_truth" / "bank-a_applicants_outcome.parquet"
    )

    # Execute
    merged = applicants.merge(outcome, on="application_id", suffixes=("", "_truth"))

    # Assert
    assert len(applicants) > 0 and applicants["consent"].dtype == bool
    assert 0.8 < applicants["consent"].mean() < 1.0
    assert len(merged) == len(applicants) == len(outcome)
    assert (merged["phone"] == merged["phone_truth"]).all()
    assert not applicants["phone"].isin(customers["phone"].tolist()).any()
    assert "default_12m" not in applicants.columns


def test_world_seed_audience_is_responding_customers_if_generated(
    world_dir: Path, customers: pd.DataFrame
) -> None:
    # Prepare
    seed = pd.read_parquet(world_dir / "banks" / "bank-a" / "seed_audience.parquet")

    # Execute
    responders = set(customers.loc[customers["response"] == 1, "phone"])

    # Assert
    assert len(seed) == len(responders) and set(seed["phone"]) == responders


def test_world_report_shows_joint_lift_if_report_enabled(world_dir: Path) -> None:
    # Prepare
    report = json.loads((world_dir / "world_report.json").read_text())

    # Execute
    bank_a = report["parties"]["bank-a"]

    # Assert
    for label in ("default_12m", "response"):
        entry = bank_a[label]
        assert entry["auc_joined"] - entry["auc_bank_only"] > 0.03, label
        assert entry["auc_ground_truth"] > entry["auc_bank_only"], label


def test_world_files_say_synthetic_and_match_manifest_if_generated(
    world_dir: Path,
) -> None:
    # Prepare
    manifest = json.loads((world_dir / "manifest.json").read_text())

    # Execute
    rows = {
        name: pq.ParquetFile(world_dir / name).metadata.num_rows
        for name in manifest["files"]
    }

    # Assert
    assert manifest["synthetic"] is True and manifest["seed"] == REPORT_WORLD.seed
    assert rows == manifest["files"]
    for name in manifest["files"]:
        metadata = pq.read_schema(world_dir / name).metadata
        assert metadata[b"synthetic"] == b"true", name
        assert b"never dial" in metadata[b"notice"], name
    hidden = json.loads((world_dir / "ground_truth" / "hidden_model.json").read_text())
    sides = {t["side"] for m in hidden["outcomes"] for t in m["terms"]}
    assert {"bank", "operator"} <= sides


def _read_all(root: Path) -> dict[str, pd.DataFrame]:
    return {
        str(p.relative_to(root)): pd.read_parquet(p)
        for p in sorted(root.rglob("*.parquet"))
    }


def test_world_is_identical_if_same_seed_and_different_worker_counts(
    tmp_path: Path,
) -> None:
    # Prepare
    args = WorldArgs(subscribers=5_000, seed=3, banks="bank-a,bank-b", report=False)
    one = WorldArgs(**{**args.__dict__, "block_size": 1_500, "workers": 1})
    two = WorldArgs(**{**args.__dict__, "block_size": 1_500, "workers": 2})

    # Execute
    generate_world(one, tmp_path / "one")
    generate_world(two, tmp_path / "two")
    first, second = _read_all(tmp_path / "one"), _read_all(tmp_path / "two")

    # Assert
    assert first.keys() == second.keys()
    for name, frame in first.items():
        pd.testing.assert_frame_equal(frame, second[name], obj=name)


def test_world_differs_if_seed_differs(tmp_path: Path) -> None:
    # Prepare
    generate_world(WorldArgs(subscribers=2_000, seed=1, report=False), tmp_path / "a")
    generate_world(WorldArgs(subscribers=2_000, seed=2, report=False), tmp_path / "b")

    # Execute
    a = pd.read_parquet(tmp_path / "a" / "operator" / "subscribers.parquet")
    b = pd.read_parquet(tmp_path / "b" / "operator" / "subscribers.parquet")

    # Assert
    assert not set(a["phone"]) & set(b["phone"]) == set(a["phone"])
    assert (a["resident_id"] != b["resident_id"]).mean() > 0.99


def test_world_csv_holds_same_tables_if_format_is_csv(tmp_path: Path) -> None:
    # Prepare
    args = WorldArgs(subscribers=1_500, seed=4, report=False)
    generate_world(args, tmp_path / "pq")
    generate_world(WorldArgs(**{**args.__dict__, "fmt": "csv"}), tmp_path / "csv")

    # Execute
    parquet = pd.read_parquet(
        tmp_path / "pq" / "banks" / "bank-a" / "customers.parquet"
    )
    csv = pd.read_csv(
        tmp_path / "csv" / "banks" / "bank-a" / "customers.csv",
        dtype={"phone": str, "resident_id": str},
    )

    # Assert
    manifest = json.loads((tmp_path / "csv" / "manifest.json").read_text())
    assert all(name.endswith(".csv") for name in manifest["files"])
    assert list(csv.columns) == list(parquet.columns)
    assert (csv["phone"] == parquet["phone"]).all()
    assert np.allclose(
        csv["bank_deposit_avg_3m_cny"], parquet["bank_deposit_avg_3m_cny"]
    )


def test_world_refuses_to_overwrite_if_directory_is_not_a_world(tmp_path: Path) -> None:
    # Prepare
    (tmp_path / "precious.txt").write_text("keep me")

    # Execute, Assert
    with pytest.raises(FileExistsError, match="is not a generated world"):
        generate_world(WorldArgs(subscribers=100, report=False), tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"
