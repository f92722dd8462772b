"""The operator's job desk on a real server: oversized proposals are refused naming the
field and the limit (short enough for the bank to receive), one bank's proposal under
policy checks holds up no other bank, and jobs whose bank went quiet end."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import pytest

from operator_node.cli import operator_services
from operator_node.job_desk import JobDesk
from protocol.domain import JobStatus
from protocol.errors import PeerCallError
from protocol.jobs.messages import JobProposal
from protocol.jobs.service import JobsClient
from protocol.transport import TlsMaterial, TransportLimits, connect
from scripts.fate_data import write_party_files
from tests.nodes import Pki, RunningNode, running_node, write_config

LIMITS = TransportLimits(max_message_bytes=64 << 20, deadline_s=20)
BANKS = ("bank-a", "bank-b")


@pytest.fixture
def operator(pki: Pki, tmp_path: Path) -> Iterator[RunningNode]:
    files = write_party_files("breast", tmp_path / "data")
    policy = {
        "purposes": ["credit_risk"],
        "features": ["o_*"],
        "approval": "auto",
        "min_batch_size": 64,
    }
    config = write_config(
        tmp_path / "operator.toml",
        pki,
        "operator",
        "operator",
        [
            {"party_id": "bank-a", "identity": "bank-a", "policy": policy},
            # bank-b may also run marketing jobs (lookalike models)
            {
                "party_id": "bank-b",
                "identity": "bank-b",
                "policy": {**policy, "purposes": ["credit_risk", "marketing"]},
            },
        ],
        data={"subscribers": {"path": str(files.operator), "numeric": ["o_*"]}},
        transport={"max_message_mb": 64},
        jobs={"session_idle_s": 60},
    )
    with running_node(config, operator_services) as node:
        yield node


def _jobs(pki: Pki, node: RunningNode, party: str) -> JobsClient:
    cert = pki.certs[party]
    tls = TlsMaterial.from_files(pki.ca.cert, cert.cert, cert.key)
    return JobsClient(connect(node.address, "operator", tls, LIMITS), 20)


def _proposal(job_id: str, **fields: object) -> JobProposal:
    base: dict[str, object] = {
        "job_id": job_id, "purpose": "credit_risk", "features": ("o_*",),
        "model": "hetero_lr", "max_rows": 569, "batch_size": 128,
    }  # fmt: skip
    return JobProposal(**{**base, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"description": "d" * (20 << 20)},
         "JobProposal.description: 20971520 characters, over the limit of 4096"
         " characters"),
        ({"purpose": "p" * (1 << 20)},
         "JobProposal.purpose: 1048576 characters, over the limit of 64 characters"),
        ({"features": ("*",) * 60_000},
         "JobProposal.features: 60000 items, over the limit of 256 items"),
    ],
)  # fmt: skip
def test_propose_refuses_naming_field_and_limit_if_a_field_is_oversized(
    pki: Pki, operator: RunningNode, fields: dict, error: str
) -> None:
    # Prepare
    jobs = _jobs(pki, operator, "bank-a")
    # Execute
    with pytest.raises(PeerCallError) as info:
        jobs.propose(_proposal("aaaa0000aaaa0000", **fields))
    # Assert
    assert (info.value.code, info.value.details) == ("INVALID_ARGUMENT", error)
    with pytest.raises(Exception, match="no job"):
        operator.ctx.store.get_job("aaaa0000aaaa0000")  # no state was created


@pytest.mark.parametrize(
    ("purpose", "error"),
    [
        ("credit_risk", "task 'lookalike' is a marketing use: its purpose must be"
         " 'marketing', not 'credit_risk'"),
        ("marketing", "purpose 'marketing' is not allowed for bank-a"
         " (policy.purposes: credit_risk)"),
    ],
)  # fmt: skip
def test_propose_refuses_a_lookalike_job_if_not_a_marketing_job_the_policy_allows(
    pki: Pki, operator: RunningNode, purpose: str, error: str
) -> None:
    # Prepare: bank-a's policy allows credit_risk only
    jobs = _jobs(pki, operator, "bank-a")
    proposal = _proposal(
        "bbbb0000bbbb0000", purpose=purpose, model="split_nn", task="lookalike"
    )
    # Execute
    with pytest.raises(PeerCallError) as info:
        jobs.propose(proposal)
    # Assert: refused naming the rule, and recorded as refused
    assert (info.value.code, info.value.details) == ("PERMISSION_DENIED", error)
    job = operator.ctx.store.get_job("bbbb0000bbbb0000")
    assert job.status is JobStatus.REFUSED
    assert job.spec["proposal"]["task"] == "lookalike"


def test_propose_approves_a_lookalike_job_if_marketing_is_allowed(
    pki: Pki, operator: RunningNode
) -> None:
    # Prepare: bank-b's policy allows marketing
    jobs = _jobs(pki, operator, "bank-b")
    proposal = _proposal(
        "cccc0000cccc0000", purpose="marketing", model="split_nn", task="lookalike"
    )
    # Execute
    decision = jobs.propose(proposal)
    # Assert: the operator keeps the task with the job (jobs list, reviewers)
    assert decision.status is JobStatus.APPROVED
    stored = operator.ctx.store.get_job("cccc0000cccc0000").spec["proposal"]
    assert (stored["purpose"], stored["task"]) == ("marketing", "lookalike")


def test_propose_serves_another_bank_if_one_banks_proposal_is_being_checked(
    pki: Pki, operator: RunningNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: bank-a's policy check is held until released.
    checking, release = threading.Event(), threading.Event()
    check = JobDesk._check

    def held_check(self: JobDesk, peer, proposal):
        if peer.party_id == "bank-a":
            checking.set()
            release.wait(30)
        return check(self, peer, proposal)

    monkeypatch.setattr(JobDesk, "_check", held_check)
    with futures.ThreadPoolExecutor(1) as pool:
        held = pool.submit(
            _jobs(pki, operator, "bank-a").propose, _proposal("aaaa1111aaaa1111")
        )
        assert checking.wait(20)
        # Execute
        other = _jobs(pki, operator, "bank-b").propose(_proposal("bbbb1111bbbb1111"))
        pending = not held.done()
        release.set()
        first = held.result(30)
    # Assert
    assert other.status is JobStatus.APPROVED
    assert pending
    assert first.status is JobStatus.APPROVED
