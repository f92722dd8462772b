"""PSI is not a membership oracle on demand: outside an approved job it is refused by
default; a job runs one session, in the mode and size it was approved for; modes and
unbalanced mode are the operator's policy; a model job binds only its own alignment;
and refused proposals do not count toward the daily job limit, which the operator can
reset (a real operator server on port 0, mutual TLS)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bank_node.psi import run_psi
from node_core.config import CounterpartLimits, CounterpartPolicy, DataSourceConfig
from node_core.ingest import Dataset, load_dataset
from node_core.node import NodeContext
from operator_node import cli as operator_cli
from operator_node.cli import operator_services
from protocol.domain import JobStatus
from protocol.errors import PeerCallError
from protocol.ids import new_hex_id
from protocol.jobs.messages import PSI_JOB, JobBinding, JobProposal
from protocol.jobs.service import JobsClient
from protocol.psi.group import SUITE
from protocol.psi.messages import PsiMode, PsiOpen
from protocol.psi.service import open_session
from tests.integration.psi_support import make_sets, psi_job
from tests.joint import joint_setup
from tests.nodes import Pki, RunningNode, running_node, write_config

SETS = make_sets(seed=17, operator_size=400, bank_size=200, overlap=80)


@contextmanager
def _nodes(
    pki: Pki, root: Path, policy: dict[str, Any], limits: dict[str, Any] | None = None
) -> Iterator[tuple[RunningNode, NodeContext, Dataset]]:
    data = root / "subscribers.parquet"
    pd.DataFrame({"phone": SETS.operator_rows}).to_parquet(data)
    config = write_config(
        root / "operator.toml", pki, "operator", "operator",
        [{"party_id": "bank-a", "identity": "bank-a",
          "limits": {"psi_min_set_size": 20, **(limits or {})},
          "policy": {"purposes": ["marketing"], "approval": "auto", **policy}}],
        data={"subscribers": {"path": str(data), "on_duplicate": "keep_first"}},
        psi={"source": "subscribers", "workers": 1, "batch_items": 64},
    )  # fmt: skip
    with running_node(config, operator_services) as node:
        bank = NodeContext.open(
            write_config(
                root / "bank.toml",
                pki,
                "bank-a",
                "bank",
                [
                    {
                        "party_id": "operator",
                        "identity": "operator",
                        "address": node.address,
                    }
                ],
            )  # fmt: skip
        )
        customers = root / "customers.csv"
        pd.DataFrame({"phone": SETS.bank_rows}).to_csv(customers, index=False)
        dataset = load_dataset(
            "customers", DataSourceConfig(customers, on_duplicate="keep_first")
        )
        try:
            yield node, bank, dataset
        finally:
            bank.store.close()


@pytest.fixture(scope="module")
def default_policy(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningNode, NodeContext, Dataset]]:
    """An operator whose policy for bank-a sets only purposes and auto-approval."""
    with _nodes(pki, Path(tmp_path_factory.mktemp("psi-policy")), {}) as nodes:
        yield nodes


def _refusal(call) -> PeerCallError:
    with pytest.raises(PeerCallError) as info:
        call()
    return info.value


def _reasons(node: RunningNode) -> list[str]:
    return [
        e.detail["reason"]
        for e in node.ctx.store.audit_entries()
        if e.action == "psi.refused"
    ]


def _propose_psi(
    channel: Any, mode: PsiMode, rows: int, job_id: str | None = None
) -> tuple[str, JobStatus]:
    job_id = job_id or new_hex_id()
    decision = JobsClient(channel, 10).propose(
        JobProposal(job_id, "marketing", (), PSI_JOB, rows, 0, "sizing", mode)
    )
    return job_id, decision.status


@pytest.mark.parametrize("mode", list(PsiMode))
def test_psi_outside_a_job_is_refused_if_policy_is_default(
    mode: PsiMode, default_policy: tuple[RunningNode, NodeContext, Dataset]
) -> None:
    # Prepare
    node, bank, dataset = default_policy
    # Execute
    error = _refusal(lambda: run_psi(bank, "operator", dataset, mode))
    # Assert
    assert error.code == "PERMISSION_DENIED"
    assert error.details == (
        f"PSI in mode {mode.value} outside an approved job is refused by operator's"
        " policy for bank-a: propose a job with a purpose (bank-node psi --purpose"
        " ...)"
    )
    assert _reasons(node)[-1] == "outside a job"


def test_psi_policy_defaults_are_sized_for_a_purpose_if_nothing_is_configured() -> None:
    # Execute
    limits, policy = CounterpartLimits(), CounterpartPolicy()
    # Assert
    assert limits.psi_max_daily_numbers == 500_000
    assert limits.psi_max_set_size == 500_000
    assert limits.psi_allow_unbalanced is False
    assert policy.psi_modes == ("cardinality",)
    assert policy.psi_without_job == ()


def test_psi_job_is_refused_if_its_mode_is_not_in_the_policy(
    default_policy: tuple[RunningNode, NodeContext, Dataset],
) -> None:
    # Prepare
    _, bank, _ = default_policy
    with bank.channel("operator") as channel:
        # Execute
        error = _refusal(lambda: _propose_psi(channel, PsiMode.INTERSECTION, 200))
    # Assert
    assert error.code == "PERMISSION_DENIED"
    assert error.details == (
        "PSI mode 'intersection' is not allowed for bank-a (policy.psi_modes:"
        " cardinality)"
    )


def test_psi_job_runs_exactly_one_session_if_approved(
    default_policy: tuple[RunningNode, NodeContext, Dataset],
) -> None:
    # Prepare
    node, bank, dataset = default_policy
    with bank.channel("operator") as channel:
        job_id, status = _propose_psi(channel, PsiMode.CARDINALITY, 200)
        request = PsiOpen(PsiMode.CARDINALITY, 200, SUITE, job_id=job_id)
        # Execute
        first = open_session(channel, request, 10)
        again = _refusal(lambda: open_session(channel, request, 10))
    whole = psi_job(bank, dataset, PsiMode.CARDINALITY)
    # Assert
    assert status is JobStatus.APPROVED and first.session_id
    assert (again.code, again.details) == (
        "FAILED_PRECONDITION",
        f"job {job_id} already ran its PSI session; propose a new job",
    )
    assert node.ctx.store.get_job(job_id).status is JobStatus.RUNNING
    assert whole.intersection_size == len(SETS.expected_bank_rows())
    latest = [j for j in node.ctx.store.list_jobs() if j.kind == PSI_JOB][-1]
    assert latest.status is JobStatus.SUCCEEDED


def test_psi_open_is_refused_if_mode_or_size_differ_from_the_approved_job(
    default_policy: tuple[RunningNode, NodeContext, Dataset],
) -> None:
    # Prepare
    node, bank, _ = default_policy
    with bank.channel("operator") as channel:
        job_id, status = _propose_psi(channel, PsiMode.CARDINALITY, 150)
        # Execute
        other_mode = _refusal(
            lambda: open_session(
                channel, PsiOpen(PsiMode.INTERSECTION, 150, SUITE, job_id=job_id), 10
            )
        )
        bigger = _refusal(
            lambda: open_session(
                channel, PsiOpen(PsiMode.CARDINALITY, 151, SUITE, job_id=job_id), 10
            )
        )
        unknown = _refusal(
            lambda: open_session(
                channel,
                PsiOpen(PsiMode.CARDINALITY, 150, SUITE, job_id=new_hex_id()),
                10,
            )
        )
    # Assert
    assert status is JobStatus.APPROVED
    assert (other_mode.code, other_mode.details) == (
        "PERMISSION_DENIED",
        f"job {job_id} was approved for PSI mode cardinality, not intersection",
    )
    assert (bigger.code, bigger.details) == (
        "PERMISSION_DENIED",
        f"PSI set of 151 numbers is over the 150 rows job {job_id} was approved for",
    )
    assert unknown.code == "NOT_FOUND"
    assert _reasons(node)[-3:] == [
        "mode not approved for the job",
        "over the job's rows",
        "unknown job",
    ]


def test_psi_open_is_refused_if_the_job_waits_for_manual_approval(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare
    with _nodes(pki, tmp_path, {"approval": "manual"}) as (node, bank, dataset):
        with bank.channel("operator") as channel:
            job_id, status = _propose_psi(channel, PsiMode.CARDINALITY, 200)
            request = PsiOpen(PsiMode.CARDINALITY, 200, SUITE, job_id=job_id)
            # Execute
            error = _refusal(lambda: open_session(channel, request, 10))
    # Assert
    assert status is JobStatus.PENDING_APPROVAL
    assert (error.code, error.details) == (
        "FAILED_PRECONDITION",
        f"job {job_id} is pending approval, not approved",
    )


def test_psi_runs_cardinality_without_a_job_only_if_the_policy_allows_it(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare
    policy = {"psi_without_job": ["cardinality"]}
    with _nodes(pki, tmp_path, policy) as (_, bank, dataset):
        # Execute
        counted = run_psi(bank, "operator", dataset, PsiMode.CARDINALITY)
        membership = _refusal(
            lambda: run_psi(bank, "operator", dataset, PsiMode.INTERSECTION)
        )
    # Assert
    assert counted.intersection_size == len(SETS.expected_bank_rows())
    assert counted.matched_rows is None
    assert membership.code == "PERMISSION_DENIED"


def test_psi_unbalanced_is_refused_if_the_policy_keeps_its_default(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare
    policy = {"psi_modes": ["intersection"]}
    with _nodes(pki, tmp_path, policy) as (_, bank, dataset):
        # Execute
        error = _refusal(
            lambda: psi_job(bank, dataset, PsiMode.INTERSECTION, unbalanced=True)
        )
    # Assert
    assert (error.code, error.details) == (
        "PERMISSION_DENIED",
        "unbalanced PSI is not enabled for bank-a",
    )


def test_bind_is_refused_if_the_alignment_comes_from_another_jobs_psi(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: a PSI job in mode both makes an alignment; a model job tries to use it.
    policy = {"psi_modes": ["both"], "purposes": ["credit_risk", "marketing"]}
    with joint_setup(tmp_path, pki, policy=policy) as setup:
        ctx = setup.bank
        dataset = ctx.dataset("customers")
        with ctx.channel("operator") as channel:
            jobs = JobsClient(channel, 10)
            model_job = new_hex_id()
            jobs.propose(
                JobProposal(model_job, "credit_risk", ("o_*",), "hetero_lr", 569, 128)
            )
            psi = psi_job(ctx, dataset, PsiMode.BOTH, channel=channel)
            assert psi.alignment is not None
            validation = np.zeros(psi.alignment.size, dtype=bool)
            validation[:50] = True
            # Execute
            error = _refusal(
                lambda: jobs.bind(
                    JobBinding(model_job, psi.alignment.alignment_id, validation)
                )
            )
    # Assert
    assert (error.code, error.details) == (
        "PERMISSION_DENIED",
        f"alignment {psi.alignment.alignment_id} was not made by job {model_job}'s"
        " own PSI session",
    )


def test_propose_counts_only_accepted_jobs_if_others_were_refused(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: two accepted jobs a day; three refused proposals first.
    policy = {"max_jobs_per_day": 2, "psi_modes": ["cardinality"]}
    with _nodes(pki, tmp_path, policy) as (_, bank, _):
        with bank.channel("operator") as channel:
            for _ in range(3):
                _refusal(lambda: _propose_psi(channel, PsiMode.INTERSECTION, 200))
            # Execute
            accepted = [
                _propose_psi(channel, PsiMode.CARDINALITY, 200)[1] for _ in range(2)
            ]
            over = _refusal(lambda: _propose_psi(channel, PsiMode.CARDINALITY, 200))
    # Assert
    assert accepted == [JobStatus.APPROVED, JobStatus.APPROVED]
    assert over.details == (
        "bank-a has 2 accepted jobs in the last 24 hours, the limit"
        " (policy.max_jobs_per_day)"
    )


def test_reset_quota_lets_the_counterpart_propose_again_if_run_by_the_operator(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Prepare: the one job of the day ran its PSI (200 numbers charged).
    policy = {"max_jobs_per_day": 1}
    with _nodes(pki, tmp_path, policy) as (node, bank, dataset):
        psi_job(bank, dataset, PsiMode.CARDINALITY)
        with bank.channel("operator") as channel:
            spent = _refusal(lambda: _propose_psi(channel, PsiMode.CARDINALITY, 200))
            argv = ["counterparts", "reset-quota", "bank-a"]
            argv += ["--config", str(node.ctx.config.source)]
            # Execute
            code = operator_cli.main(argv)
            _, status = _propose_psi(channel, PsiMode.CARDINALITY, 200)
        reset = [e for e in node.ctx.store.audit_entries() if e.action == "quota.reset"]
    # Assert
    assert spent.code == "PERMISSION_DENIED" and code == 0
    n = len(dataset.ids)
    assert capsys.readouterr().out.strip() == (
        f"bank-a: quota reset (1 jobs counted toward max_jobs_per_day and {n} PSI"
        " numbers charged today are no longer counted)"
    )
    assert status is JobStatus.APPROVED
    assert [(e.counterpart, e.detail) for e in reset] == [
        ("bank-a", {"jobs_counted": 1, "psi_numbers_today": n})
    ]
