"""The operator's side of logistic regression refuses every call outside the protocol:
repeated or too few rows, evaluation rows of the bank's choosing, calls out of order,
a second setup, a second scoring."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from bank_node.job_runner import validation_mask
from bank_node.jobspec import SplitSection
from bank_node.psi import run_psi
from bank_node.trainers.hetero_lr_driver import BankLrDriver, LrSettings
from operator_node.job_desk import JobDesk
from operator_node.roles.registry import served_model_types
from protocol.domain import JobStatus, Peer, Split
from protocol.errors import FailedPrecondition, PeerCallError
from protocol.hetero_lr import messages as m
from protocol.hetero_lr.party import LrHyper
from protocol.hetero_lr.service import HeteroLrClient
from protocol.jobs.messages import JobBinding, JobProposal, split_positions
from protocol.jobs.service import JobsClient
from protocol.psi.messages import PsiMode
from tests.joint import JointSetup, joint_setup
from tests.nodes import Pki

JOB = "c0ffee00c0ffee00"


@contextmanager
def bound_job(
    root: Path, pki: Pki, policy: dict | None = None
) -> Iterator[tuple[BankLrDriver, HeteroLrClient, JointSetup]]:
    """An approved job bound to a fresh alignment, with LR set up (breast data)."""
    with joint_setup(
        root, pki, policy={"min_batch_size": 64, **(policy or {})}
    ) as setup:
        ctx = setup.bank
        dataset = ctx.dataset("customers")
        with ctx.channel("operator") as channel:
            jobs = JobsClient(channel, 10)
            jobs.propose(
                JobProposal(JOB, "credit_risk", ("o_*",), "hetero_lr", 569, 128)
            )
            psi = run_psi(
                ctx, "operator", dataset, PsiMode.BOTH, channel=channel, job_id=JOB
            )
            assert psi.alignment is not None
            rows = psi.alignment.local_rows
            labels = dataset.label[rows]
            validation = validation_mask(labels, SplitSection(0.3, 42), rows)
            jobs.bind(JobBinding(JOB, psi.alignment.alignment_id, validation))
            x = dataset.features.iloc[rows].to_numpy()
            positions = split_positions(validation)
            client = HeteroLrClient(channel, 30)
            driver = BankLrDriver(
                client, JOB, np.c_[x, np.ones(len(x))], labels, positions, [0, 1, 2],
                LrSettings(epochs=1, batch_size=128, hyper=LrHyper(), min_batch=64),
            )  # fmt: skip
            yield driver, client, setup


@pytest.fixture(scope="module")
def trainer(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[BankLrDriver, HeteroLrClient]]:
    with bound_job(Path(tmp_path_factory.mktemp("lr-policy")), pki) as (d, c, _):
        yield d, c


def _forward(driver: BankLrDriver, rows: list[int], **kw) -> m.LrForward:
    party = driver.party
    party.start(np.asarray(sorted(set(rows))))
    return m.LrForward(
        JOB,
        0,
        kw.pop("split", Split.TRAIN),
        tuple(rows),
        party.masked_logits(),
        (),
        0,
        **kw,
    )


def refused(call) -> PeerCallError:
    with pytest.raises(PeerCallError) as info:
        call()
    return info.value


def test_forward_refuses_repeated_rows_if_a_batch_names_a_row_twice(trainer) -> None:
    # Prepare
    driver, client = trainer
    # Execute
    error = refused(lambda: client.forward(_forward(driver, [3] * 100)))
    # Assert
    assert error.code == "INVALID_ARGUMENT"
    assert error.details == "LrForwardRequest.rows: positions must be distinct"


def test_forward_refuses_batch_below_policy_minimum(trainer) -> None:
    # Prepare
    driver, client = trainer
    # Execute
    error = refused(lambda: client.forward(_forward(driver, list(range(10)))))
    # Assert
    assert error.code == "PERMISSION_DENIED"
    assert error.details == (
        "batch of 10 rows is below the minimum of 64 (policy.min_batch_size)"
    )


def test_evaluation_refuses_rows_of_the_banks_choosing(trainer) -> None:
    # Prepare: a loss over one chosen row would reveal that row's logit.
    driver, client = trainer
    request = _forward(driver, list(range(70)), split=Split.VALIDATION, evaluation=True)
    # Execute
    error = refused(lambda: client.forward(request))
    # Assert
    assert error.code == "PERMISSION_DENIED"
    assert "fixed evaluation chunks" in error.details


def test_calls_out_of_order_are_refused_if_no_evaluation_is_pending(trainer) -> None:
    # Prepare
    driver, client = trainer
    # Execute
    loss = refused(lambda: client.loss(m.LrLoss(JOB, (b"x",))))
    # Assert
    assert (loss.code, loss.details) == (
        "FAILED_PRECONDITION", "HeteroLr: loss is not allowed after ready",
    )  # fmt: skip


def test_setup_is_refused_if_the_job_is_already_set_up(trainer) -> None:
    # Prepare
    driver, client = trainer
    # Execute / Assert
    error = refused(
        lambda: BankLrDriver(
            client, JOB, driver.party.features, driver.party.labels,
            {Split.TRAIN: np.arange(10), Split.VALIDATION: np.arange(10)}, [0, 1],
            LrSettings(epochs=1, batch_size=128, hyper=LrHyper()),
        )
    )  # fmt: skip
    assert error.details == f"job {JOB}: already set up"


def test_evaluation_is_refused_if_no_full_training_pass_since_the_last(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: evaluate chunk 0, then try again with a bumped epoch number.
    with bound_job(tmp_path, pki) as (driver, client, _):
        party = driver.party
        chunk = driver._chunks[Split.VALIDATION][0]
        request = _forward(
            driver, chunk.tolist(), split=Split.VALIDATION, evaluation=True
        )
        terms = party.loss_terms(client.forward(request).operator_logits)
        client.loss(m.LrLoss(JOB, tuple(terms)))
        again = _forward(
            driver, chunk.tolist(), split=Split.VALIDATION, evaluation=True
        )
        again = m.LrForward(**{**vars(again), "epoch": 5})
        # Execute
        error = refused(lambda: client.forward(again))
    # Assert
    assert error.code == "PERMISSION_DENIED"
    assert error.details == (
        "the validation chunk 0 was already evaluated at this range level since the"
        " last full training pass"
    )


def test_forward_is_refused_if_the_operators_step_is_withheld(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: one honest batch leaves a step the bank owes the operator.
    with bound_job(tmp_path, pki) as (driver, client, _):
        driver._batch(np.arange(128), 0)
        # Execute: the next batch without it
        error = refused(lambda: client.forward(_forward(driver, list(range(128, 256)))))
    # Assert
    assert error.code == "FAILED_PRECONDITION"
    assert "must carry the operator's step" in error.details


def test_bind_is_refused_if_training_rows_nearly_equal_an_earlier_jobs(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: a second job (with its own alignment of the same people) whose
    # training set differs by one person would single that person out.
    with joint_setup(tmp_path, pki, policy={"min_batch_size": 64}) as setup:
        ctx = setup.bank
        dataset = ctx.dataset("customers")
        with ctx.channel("operator") as channel:
            jobs = JobsClient(channel, 10)
            aligned = {}
            for job in ("aaaa0000aaaa0000", "bbbb0000bbbb0000"):
                jobs.propose(
                    JobProposal(job, "credit_risk", ("o_*",), "hetero_lr", 569, 128)
                )
                psi = run_psi(
                    ctx, "operator", dataset, PsiMode.BOTH, channel=channel,
                    job_id=job,
                )  # fmt: skip
                assert psi.alignment is not None
                aligned[job] = psi.alignment
            first, second = aligned["aaaa0000aaaa0000"], aligned["bbbb0000bbbb0000"]
            people = np.sort(first.local_rows)  # the bank's rows of the aligned people
            held_out = people[: len(people) // 3]
            jobs.bind(
                JobBinding(
                    "aaaa0000aaaa0000",
                    first.alignment_id,
                    np.isin(first.local_rows, held_out),
                )
            )
            held_out = people[: len(people) // 3 + 1]  # one more validation person
            # Execute
            error = refused(
                lambda: jobs.bind(
                    JobBinding(
                        "bbbb0000bbbb0000",
                        second.alignment_id,
                        np.isin(second.local_rows, held_out),
                    )
                )
            )
    # Assert
    assert error.code == "PERMISSION_DENIED"
    assert error.details == (
        "the training rows differ from job aaaa0000aaaa0000's in only 1 rows; at"
        " least 64 must differ (policy.min_batch_size)"
    )


def test_propose_is_refused_if_the_daily_job_budget_is_spent(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare
    with joint_setup(tmp_path, pki, policy={"max_jobs_per_day": 1}) as setup:
        with setup.bank.channel("operator") as channel:
            jobs = JobsClient(channel, 10)
            jobs.propose(
                JobProposal(
                    "aaaa1111aaaa1111", "credit_risk", ("o_*",), "hetero_lr", 569, 128
                )
            )
            # Execute
            error = refused(
                lambda: jobs.propose(
                    JobProposal(
                        "bbbb1111bbbb1111",
                        "credit_risk",
                        ("o_*",),
                        "hetero_lr",
                        569,
                        128,
                    )
                )
            )
    # Assert
    assert error.code == "PERMISSION_DENIED"
    assert error.details == (
        "bank-a has 1 accepted jobs in the last 24 hours, the limit"
        " (policy.max_jobs_per_day)"
    )


def test_running_job_fails_if_the_operator_restarted(pki: Pki, tmp_path: Path) -> None:
    # Prepare: a second job desk over the same store is the operator after a restart;
    # the job's once-per-job record died with the first process.
    with bound_job(tmp_path, pki) as (_, _, setup):
        restarted = JobDesk(setup.operator.ctx, served_model_types())
        # Execute
        with pytest.raises(FailedPrecondition) as info:
            restarted.session(Peer("bank-a", "bank-a"), JOB)
        status = setup.operator.ctx.store.get_job(JOB).status
    # Assert
    assert str(info.value) == (
        f"job {JOB} failed: the operator restarted while it was running"
    )
    assert status is JobStatus.FAILED
