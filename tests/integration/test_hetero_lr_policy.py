"""The operator's side of logistic regression refuses every call outside the protocol:
repeated or too few rows, evaluation rows of the bank's choosing, calls out of order,
a second setup, a second scoring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bank_node.hetero_lr import BankLrDriver, LrSettings
from bank_node.jobs import validation_mask
from bank_node.jobspec import SplitSection
from bank_node.psi import run_psi
from protocol.domain import JobBinding, JobProposal
from protocol.errors import PeerCallError
from protocol.hetero_lr import messages as m
from protocol.hetero_lr.party import LrHyper
from protocol.hetero_lr.service import HeteroLrClient
from protocol.jobs import JobsClient
from protocol.psi.messages import PsiMode
from tests.joint import joint_setup
from tests.nodes import Pki

JOB = "c0ffee00c0ffee00"


@pytest.fixture(scope="module")
def trainer(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[BankLrDriver, HeteroLrClient]]:
    root = Path(tmp_path_factory.mktemp("lr-policy"))
    with joint_setup(root, pki, policy={"min_batch_size": 64}) as setup:
        ctx = setup.bank
        dataset = ctx.dataset("customers")
        with ctx.channel("operator") as channel:
            jobs = JobsClient(channel, 10)
            jobs.propose(
                JobProposal(JOB, "credit_risk", ("o_*",), "hetero_lr", 569, 128)
            )
            psi = run_psi(ctx, "operator", dataset, PsiMode.BOTH, channel=channel)
            assert psi.alignment is not None
            rows = psi.alignment.local_rows
            labels = dataset.label[rows]  # type: ignore[index]
            validation = validation_mask(labels, SplitSection(0.3, 42), rows)
            bitmap = np.packbits(validation, bitorder="little").tobytes()
            jobs.bind(JobBinding(JOB, psi.alignment.alignment_id, len(rows), bitmap))
            x = dataset.features.iloc[rows].to_numpy()
            positions = {
                "train": np.flatnonzero(~validation),
                "validation": np.flatnonzero(validation),
            }
            client = HeteroLrClient(channel, 30)
            driver = BankLrDriver(
                client, JOB, np.c_[x, np.ones(len(x))], labels, positions, [0, 1, 2],
                LrSettings(epochs=1, batch_size=128, hyper=LrHyper(), min_batch=64),
            )  # fmt: skip
            yield driver, client


def _forward(driver: BankLrDriver, rows: list[int], **kw) -> m.LrForward:  # type: ignore[no-untyped-def]
    party = driver.party
    party.start(np.asarray(sorted(set(rows))))
    return m.LrForward(
        JOB,
        0,
        kw.pop("split", m.TRAIN),
        tuple(rows),
        party.masked_logits(),
        (),
        0,
        **kw,
    )


def refused(call) -> PeerCallError:  # type: ignore[no-untyped-def]
    with pytest.raises(PeerCallError) as info:
        call()
    return info.value


def test_forward_refuses_repeated_rows_if_a_batch_names_a_row_twice(trainer) -> None:  # type: ignore[no-untyped-def]
    # Prepare
    driver, client = trainer
    # Execute
    error = refused(lambda: client.forward(_forward(driver, [3] * 100)))
    # Assert
    assert error.code == "INVALID_ARGUMENT"
    assert error.details == "LrForwardRequest.rows: positions must be distinct"


def test_forward_refuses_batch_below_policy_minimum(trainer) -> None:  # type: ignore[no-untyped-def]
    # Prepare
    driver, client = trainer
    # Execute
    error = refused(lambda: client.forward(_forward(driver, list(range(10)))))
    # Assert
    assert error.code == "PERMISSION_DENIED"
    assert error.details == (
        "batch of 10 rows is below the minimum of 64 (policy.min_batch_size)"
    )


def test_evaluation_refuses_rows_of_the_banks_choosing(trainer) -> None:  # type: ignore[no-untyped-def]
    # Prepare: a loss over one chosen row would reveal that row's logit.
    driver, client = trainer
    request = _forward(driver, list(range(70)), split=m.VALIDATION, evaluation=True)
    # Execute
    error = refused(lambda: client.forward(request))
    # Assert
    assert error.code == "PERMISSION_DENIED"
    assert "fixed evaluation chunks" in error.details


def test_calls_out_of_order_are_refused_if_no_evaluation_is_pending(trainer) -> None:  # type: ignore[no-untyped-def]
    # Prepare
    driver, client = trainer
    # Execute
    loss = refused(lambda: client.loss(m.LrLoss(JOB, (b"x",))))
    scores = refused(lambda: client.partial_scores(JOB, m.TRAIN, 10))
    # Assert
    assert (loss.code, loss.details) == (
        "FAILED_PRECONDITION", "HeteroLr: loss is not allowed after ready",
    )  # fmt: skip
    assert scores.details == f"job {JOB}: weights not revealed yet"


def test_setup_is_refused_if_the_job_is_already_set_up(trainer) -> None:  # type: ignore[no-untyped-def]
    # Prepare
    driver, client = trainer
    # Execute / Assert
    error = refused(
        lambda: BankLrDriver(
            client, JOB, driver.party.features, driver.party.labels,
            {"train": np.arange(10), "validation": np.arange(10)}, [0, 1],
            LrSettings(epochs=1, batch_size=128, hyper=LrHyper()),
        )
    )  # fmt: skip
    assert error.details == f"job {JOB}: already set up"


def test_training_scores_each_split_once_if_run_to_the_end(trainer) -> None:  # type: ignore[no-untyped-def]
    # Prepare
    driver, client = trainer
    # Execute
    result = driver.train()
    first = client.partial_scores(
        JOB, m.TRAIN, len(driver.party.features[~0:]) * 0 + 398
    )
    again = refused(lambda: client.partial_scores(JOB, m.TRAIN, 398))
    # Assert
    assert np.isfinite(result.weights).all() and len(first) == 398
    assert again.code == "PERMISSION_DENIED"
    assert again.details == f"job {JOB}: the train split was already scored once"
