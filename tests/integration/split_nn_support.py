"""Helpers for the split-NN Flower tests: a small aligned job and both nodes' Flower."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.label_protection import DefenceSpec
from models.split_nn import SplitNnSpec, TrainHyper
from node_core.certs import IssuedCert
from protocol.split_nn.bank import BankData
from protocol.split_nn.deployment import BankFlower, OperatorFlower
from protocol.split_nn.fab import PINNED_FAB_SHA256
from protocol.split_nn.messages import SplitNnRun
from protocol.split_nn.party import OPERATOR_FEATURES_FILE
from protocol.split_nn.pki import issue_superlink_cert, public_key_pem
from tests.nodes import Pki


@dataclass(frozen=True)
class Job:
    job_id: str
    bank_dir: Path
    operator_data: Path  # the operator's data-dir (one folder per job)


def make_job(root: Path, rows: int = 1500, seed: int = 0) -> Job:
    """An aligned job: operator features on disk, bank features/labels/split."""
    rng = np.random.default_rng(seed)
    operator_x = rng.standard_normal((rows, 4)).astype(np.float32)
    bank_x = rng.standard_normal((rows, 3)).astype(np.float32)
    logit = 1.5 * operator_x[:, 0] - operator_x[:, 1] + bank_x[:, 0] - 1.0
    labels = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    validation = np.zeros(rows, dtype=bool)
    validation[rng.permutation(rows)[: rows // 4]] = True
    job_id = uuid.uuid4().hex
    operator_data = root / "operator-data"
    (operator_data / job_id).mkdir(parents=True)
    np.save(operator_data / job_id / OPERATOR_FEATURES_FILE, operator_x)
    bank_dir = root / "bank-jobs" / job_id
    BankData(bank_x, labels, validation).save(bank_dir)
    return Job(job_id, bank_dir, operator_data)


def make_run(
    job: Job, node_id: int, rounds: int = 2, round_timeout_s: float = 60.0
) -> SplitNnRun:
    return SplitNnRun(
        job_id=job.job_id,
        spec=SplitNnSpec(bank_features=3, operator_features=4, embedding=2),
        hyper=TrainHyper(rounds=rounds, batch_size=256, learning_rate=0.01),
        defence=DefenceSpec(batch_size=512),
        seed=1,
        operator_node_id=node_id,
        bank_job_dir=str(job.bank_dir),
        round_timeout_s=round_timeout_s,
    )


def superlink_cert(pki: Pki, party: str = "bank-a") -> IssuedCert:
    return issue_superlink_cert(pki.ca, party, ["127.0.0.1"], pki.root / "superlink")


@contextmanager
def bank_flower(pki: Pki, root: Path, party: str = "bank-a") -> Iterator[BankFlower]:
    cert = superlink_cert(pki, party)
    bank = BankFlower(root / "bank-flower", cert.cert, cert.key, pki.ca.cert)
    try:
        bank.start()
        yield bank
    finally:
        bank.stop()


@contextmanager
def operator_flower(
    pki: Pki,
    root: Path,
    bank: BankFlower,
    job: Job,
    *,
    identity: str = "bank-a",
    trusted: tuple[str, ...] = (PINNED_FAB_SHA256,),
) -> Iterator[OperatorFlower]:
    operator = OperatorFlower(
        root / "operator-flower",
        (bank.host, bank.port),
        pki.ca.cert,
        identity,
        pki.certs["operator"].key,
        job.operator_data,
        trusted_fabs=trusted,
    )
    try:
        operator.start()
        yield operator
    finally:
        operator.stop()


def register_operator(pki: Pki, bank: BankFlower) -> int:
    return bank.register_supernode(public_key_pem(pki.certs["operator"].cert), "op")
