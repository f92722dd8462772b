"""The lookalike task's labels: "this aligned customer is in the bank's seed audience".

A lookalike job (`[model] task = "lookalike"`) trains on the same population as any
job, the accepted rows of `[data] source` (all of them: a lookalike needs no credit
label), aligned with the operator by the usual PSI. Its label is built here, on the
bank only: 1 when the row's phone number is in the seed audience (`[data]
seed_source`, a data source declared in bank.toml whose id column lists the seed's
phone numbers), 0 for every other aligned row, which is unlabelled rather than
negative (positive-unlabelled learning: the model ranks customers by how much they
look like the seed).

Both lists are read by node_core.ingest, so their phone numbers are compared in the
same canonical 11-digit form ("+86 138-0013-8000" in one matches 13800138000 in the
other); a number listed twice in the seed counts once (with the source's
`on_duplicate = "keep_first"`; with "error" ingestion refuses the file by name).
Nothing of the seed crosses to the operator: the PSI set is the whole source, chosen
before the seed is read, and the labels go where a credit job's labels go
(bank_node/trainers/; for split_nn, only the label-protected gradients).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from models.metrics import EvaluationReport
from node_core.config import ConfigError
from node_core.ingest import Dataset
from protocol.domain import Split

# Fewest aligned seed members a lookalike job trains on: fewer cannot be split
# into training and validation rows and still give a validation AUC worth reading.
MIN_ALIGNED_MEMBERS = 20


@dataclass(frozen=True)
class SeedAudience:
    """The seed audience as loaded: its distinct canonical numbers."""

    source: str  # the data source's name
    rows_read: int
    rows_accepted: int
    numbers: np.ndarray  # distinct canonical phone numbers, sorted

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> SeedAudience:
        return cls(
            source=dataset.name,
            rows_read=dataset.report.rows_read,
            rows_accepted=dataset.report.rows_accepted,
            numbers=np.unique(dataset.ids.astype(str)),
        )


def seed_labels(customer_ids: np.ndarray, seed: SeedAudience) -> np.ndarray:
    """1 where a customer's canonical phone number is in the seed, else 0 (int64)."""
    ids = np.asarray(customer_ids).astype(str)
    return np.isin(ids, seed.numbers).astype(np.int64)


def check_members_in_source(
    labels: np.ndarray, seed: SeedAudience, key: str, source: str
) -> None:
    """Before any data moves: the seed must name some of the source's customers."""
    members = int(labels.sum())
    if members == 0:
        raise ConfigError(
            f"{key}: none of the {len(seed.numbers)} numbers of seed source"
            f" {seed.source!r} is a customer in data source {source!r}; nothing to"
            " learn"
        )
    if members == len(labels):
        raise ConfigError(
            f"{key}: every customer of data source {source!r} is in seed source"
            f" {seed.source!r}; a lookalike needs customers outside the seed"
        )


def check_aligned_members(labels: np.ndarray, key: str) -> None:
    """After alignment: enough seed members, and non-members, among the aligned."""
    members = int(labels.sum())
    if members < MIN_ALIGNED_MEMBERS:
        raise ConfigError(
            f"{key}: {members} of the {len(labels)} aligned customers are in the"
            f" seed audience, fewer than the {MIN_ALIGNED_MEMBERS} a lookalike model"
            " needs to train and validate"
        )
    if members == len(labels):
        raise ConfigError(
            f"{key}: every aligned customer is in the seed audience; a lookalike"
            " needs aligned customers outside it"
        )


@dataclass(frozen=True)
class SeedCounts:
    """The seed's numbers from its file to the job's splits (the report's counts)."""

    seed_rows_read: int
    seed_numbers: int  # distinct accepted numbers
    in_source: int  # of them, customers in data.source
    source_rows: int
    aligned: int  # aligned customers
    aligned_members: int  # aligned customers in the seed
    members: dict[Split, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed_rows_read": self.seed_rows_read,
            "seed_numbers": self.seed_numbers,
            "seed_in_source": self.in_source,
            "seed_not_in_source": self.seed_numbers - self.in_source,
            "source_rows": self.source_rows,
            "aligned": self.aligned,
            "aligned_members": self.aligned_members,
            "aligned_members_share": round(self.aligned_members / self.aligned, 6)
            if self.aligned
            else 0.0,
            "train_members": self.members.get(Split.TRAIN, 0),
            "validation_members": self.members.get(Split.VALIDATION, 0),
        }


def lookalike_summary(
    counts: SeedCounts, validation: EvaluationReport
) -> dict[str, Any]:
    """The counts, and how well the model finds seed members among the validation
    rows: AUC (members vs non-members) and the top decile's capture and lift."""
    top = validation.lift.iloc[0]
    return {
        **counts.to_dict(),
        "validation_auc": round(validation.auc, 6),
        "top_decile_capture": round(float(top["cumulative_gain"]), 6),
        "top_decile_lift": round(float(top["lift"]), 6),
        "top_decile_rows": int(top["count"]),
    }


def lookalike_rows(summary: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The report table's rows."""
    return (
        ("seed numbers (distinct, accepted)", summary["seed_numbers"]),
        ("seed rows read", summary["seed_rows_read"]),
        ("seed numbers among the source's customers", summary["seed_in_source"]),
        ("seed numbers not among them", summary["seed_not_in_source"]),
        ("aligned customers", summary["aligned"]),
        ("aligned seed members", summary["aligned_members"]),
        ("aligned seed members, train / validation",
         f"{summary['train_members']} / {summary['validation_members']}"),
        ("validation AUC, members vs non-members", summary["validation_auc"]),
        ("top decile: share of validation members captured",
         summary["top_decile_capture"]),
        ("top decile: lift", summary["top_decile_lift"]),
    )  # fmt: skip
