"""The lookalike task's labels: membership of the aligned rows in the seed audience,
both lists read by the same ingestion (canonical phone numbers), duplicates once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bank_node.lookalike import (
    MIN_ALIGNED_MEMBERS,
    SeedAudience,
    SeedCounts,
    check_aligned_members,
    check_members_in_source,
    lookalike_summary,
    seed_labels,
)
from models.metrics import evaluate
from node_core.config import ConfigError, DataSourceConfig
from node_core.ingest import IngestionError, load_dataset
from protocol.domain import Split

CUSTOMERS = ["13800138000", "13900139001", "15012345678", "18612345670", "13711112222"]


def _customers(tmp_path: Path) -> np.ndarray:
    path = tmp_path / "customers.csv"
    path.write_text(
        "phone,bank_x\n" + "".join(f"{p},{i}\n" for i, p in enumerate(CUSTOMERS))
    )
    source = DataSourceConfig(path=path, numeric=("bank_x",))
    return load_dataset("customers", source).ids


def _seed(tmp_path: Path, rows: list[str], **options: object) -> SeedAudience:
    path = tmp_path / "seed.csv"
    path.write_text("phone,seed_event\n" + "".join(f"{r},x\n" for r in rows))
    source = DataSourceConfig(path=path, max_rejected_share=0.5, **options)  # type: ignore[arg-type]
    return SeedAudience.from_dataset(load_dataset("seed_audience", source))


def test_seed_labels_mark_customers_in_the_seed_if_written_in_other_formats(
    tmp_path: Path,
) -> None:
    # Prepare: the seed writes numbers as ingestion accepts them, not as the customer
    # file does; one number is no customer
    seed = _seed(
        tmp_path,
        ["+86 138-0013-8000", "8615012345678", "(+86) 137 1111 2222", "13600000001"],
    )
    # Execute
    labels = seed_labels(_customers(tmp_path), seed)
    # Assert
    assert labels.tolist() == [1, 0, 1, 0, 1]
    assert labels.dtype == np.int64
    assert (seed.rows_read, seed.rows_accepted, len(seed.numbers)) == (4, 4, 4)


def test_seed_labels_count_a_number_once_if_listed_twice(tmp_path: Path) -> None:
    # Prepare: the same person twice, once in another format
    seed = _seed(
        tmp_path,
        ["13900139001", "+86 139 0013 9001", "18612345670"],
        on_duplicate="keep_first",
    )
    # Execute
    labels = seed_labels(_customers(tmp_path), seed)
    # Assert
    assert labels.tolist() == [0, 1, 0, 1, 0]
    assert (seed.rows_read, seed.rows_accepted, len(seed.numbers)) == (3, 2, 2)


def test_seed_source_is_refused_by_name_if_it_repeats_a_number_and_duplicates_error(
    tmp_path: Path,
) -> None:
    # Execute
    with pytest.raises(IngestionError) as info:
        _seed(tmp_path, ["13900139001", "13900139001"])
    # Assert
    assert "seed.csv: column 'phone' has 1 duplicate id(s)" in str(info.value)


def test_seed_labels_skip_rejected_seed_rows_if_a_number_is_bad(
    tmp_path: Path,
) -> None:
    # Prepare: a landline is rejected by ingestion
    seed = _seed(tmp_path, ["010-12345678", "13800138000", "15012345678"])
    # Execute
    labels = seed_labels(_customers(tmp_path), seed)
    # Assert
    assert labels.tolist() == [1, 0, 1, 0, 0]
    assert (seed.rows_read, seed.rows_accepted) == (3, 2)


def test_seed_labels_follow_the_aligned_rows_if_taken_by_row(tmp_path: Path) -> None:
    # Prepare: the labels are per source row; the alignment picks rows in its order
    labels = seed_labels(_customers(tmp_path), _seed(tmp_path, ["15012345678"]))
    aligned_rows = np.array([4, 2, 0])
    # Execute
    aligned = labels[aligned_rows]
    # Assert
    assert aligned.tolist() == [0, 1, 0]


def test_check_members_in_source_refuses_naming_the_key_if_no_customer_is_in_the_seed(
    tmp_path: Path,
) -> None:
    # Prepare
    seed = _seed(tmp_path, ["13600000001", "13600000002"])
    labels = seed_labels(_customers(tmp_path), seed)
    # Execute
    with pytest.raises(ConfigError) as info:
        check_members_in_source(labels, seed, "job.toml: data.seed_source", "customers")
    # Assert
    assert str(info.value) == (
        "job.toml: data.seed_source: none of the 2 numbers of seed source"
        " 'seed_audience' is a customer in data source 'customers'; nothing to learn"
    )


def test_check_members_in_source_refuses_if_every_customer_is_in_the_seed(
    tmp_path: Path,
) -> None:
    # Prepare
    seed = _seed(tmp_path, CUSTOMERS)
    labels = seed_labels(_customers(tmp_path), seed)
    # Execute
    with pytest.raises(ConfigError) as info:
        check_members_in_source(labels, seed, "k", "customers")
    # Assert
    assert "every customer of data source 'customers' is in seed source" in str(
        info.value
    )


@pytest.mark.parametrize(
    ("members", "rows", "message"),
    [
        (0, 500, f"k: 0 of the 500 aligned customers are in the seed audience, fewer"
         f" than the {MIN_ALIGNED_MEMBERS} a lookalike model needs to train and"
         " validate"),
        (MIN_ALIGNED_MEMBERS - 1, 500, f"k: {MIN_ALIGNED_MEMBERS - 1} of the 500"),
        (500, 500, "k: every aligned customer is in the seed audience"),
    ],
)  # fmt: skip
def test_check_aligned_members_refuses_if_too_few_or_all_are_members(
    members: int, rows: int, message: str
) -> None:
    # Prepare
    labels = np.zeros(rows, dtype=np.int64)
    labels[:members] = 1
    # Execute
    with pytest.raises(ConfigError) as info:
        check_aligned_members(labels, "k")
    # Assert
    assert str(info.value).startswith(message)


def test_check_aligned_members_passes_if_enough_members_and_non_members() -> None:
    # Prepare
    labels = np.zeros(500, dtype=np.int64)
    labels[:MIN_ALIGNED_MEMBERS] = 1
    # Execute / Assert: no error
    check_aligned_members(labels, "k")


def test_lookalike_summary_gives_seed_counts_auc_and_top_decile_capture() -> None:
    # Prepare: 1000 validation rows, 50 members; the score puts 30 of them in the top
    # decile (100 rows)
    labels = np.zeros(1000, dtype=np.int64)
    labels[:50] = 1
    score = np.linspace(0.01, 0.5, 1000)[::-1].copy()  # row 0 highest
    score[30:50], score[100:120] = score[100:120].copy(), score[30:50].copy()
    counts = SeedCounts(
        seed_rows_read=120,
        seed_numbers=110,
        in_source=100,
        source_rows=5000,
        aligned=3300,
        aligned_members=70,
        members={Split.TRAIN: 20, Split.VALIDATION: 50},
    )
    # Execute
    summary = lookalike_summary(counts, evaluate(labels, score))
    # Assert
    assert summary["seed_not_in_source"] == 10
    assert (summary["train_members"], summary["validation_members"]) == (20, 50)
    assert summary["top_decile_capture"] == pytest.approx(30 / 50)
    assert summary["top_decile_lift"] == pytest.approx((30 / 100) / (50 / 1000))
    assert summary["top_decile_rows"] == 100
    assert 0.5 < summary["validation_auc"] < 1.0
