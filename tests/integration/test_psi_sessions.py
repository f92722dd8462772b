"""PSI sessions never lock a bank out: abandoned sessions are dropped by a timer after
psi.session_idle_s, a disconnect ends its session at once, and ended epochs' keys are
deleted by the same timer (a real operator server on port 0, mutual TLS)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from node_core.node import NodeContext
from operator_node.cli import operator_services
from operator_node.psi.sessions import OperatorPsi
from protocol.domain import JobStatus, Peer
from protocol.errors import PeerCallError
from protocol.jobs.messages import PSI_JOB
from protocol.psi.group import SUITE
from protocol.psi.messages import PsiMode, PsiOpen
from protocol.psi.pool import shared_pool
from protocol.psi.service import download_reblinded, open_session
from tests.integration.psi_support import make_sets
from tests.nodes import Pki, RunningNode, running_node, write_config

# Cardinality without a job, which these operators' policy allows (a count only).
REQUEST = PsiOpen(PsiMode.CARDINALITY, 100, SUITE)


def _operator_config(pki: Pki, root: Path, **psi: Any):
    sets = make_sets(seed=3, operator_size=300, bank_size=100, overlap=50)
    data = root / "subscribers.parquet"
    pd.DataFrame({"phone": sets.operator_rows}).to_parquet(data)
    return write_config(
        root / "operator.toml", pki, "operator", "operator",
        [{"party_id": "bank-a", "identity": "bank-a",
          "limits": {"psi_min_set_size": 20, "psi_allow_unbalanced": True},
          "policy": {"psi_without_job": ["cardinality"]}}],
        data={"subscribers": {"path": str(data), "on_duplicate": "keep_first"}},
        psi={"source": "subscribers", "workers": 1, "batch_items": 64, **psi},
    )  # fmt: skip


@contextmanager
def _pair(
    pki: Pki, root: Path, **psi: Any
) -> Iterator[tuple[RunningNode, NodeContext]]:
    config = _operator_config(pki, root, **psi)
    with running_node(config, operator_services) as node:
        bank = write_config(
            root / "bank.toml", pki, "bank-a", "bank",
            [{"party_id": "operator", "identity": "operator", "address": node.address}],
        )  # fmt: skip
        ctx = NodeContext.open(bank)
        try:
            yield node, ctx
        finally:
            ctx.store.close()


def _failures(node: RunningNode) -> list[str]:
    return [
        e.detail["reason"]
        for e in node.ctx.store.audit_entries()
        if e.action == "psi.session.failed"
    ]


def _wait_for(condition: Callable[[], bool], timeout: float = 20) -> float:
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)
    return time.perf_counter() - started


def test_abandoned_psi_sessions_expire_on_a_timer_if_idle(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: two sessions opened and abandoned fill bank-a's two slots.
    with _pair(pki, tmp_path, session_idle_s=1.0, max_sessions=2) as (node, bank):
        with bank.channel("operator") as channel:
            for _ in range(2):
                open_session(channel, REQUEST, 10)
            with pytest.raises(PeerCallError) as locked:
                open_session(channel, REQUEST, 10)
            # Execute: no call at all while the timer runs.
            waited = _wait_for(lambda: len(_failures(node)) == 2)
            failures = _failures(node)
            reopened = open_session(channel, REQUEST, 10)
    # Assert
    assert locked.value.code == "RESOURCE_EXHAUSTED"
    assert failures == ["idle for more than 1 s"] * 2
    assert waited < 10
    assert reopened.session_id


def test_psi_session_ends_at_once_if_the_bank_disconnects_mid_stream(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: one slot; the idle timer far away, so only the disconnect can free it.
    with _pair(pki, tmp_path, session_idle_s=600.0, max_sessions=1) as (node, bank):
        channel = bank.channel("operator")
        opened = open_session(channel, REQUEST, 10)
        errors: list[BaseException] = []

        def download() -> None:
            try:  # waits for an upload that never comes
                list(download_reblinded(channel, opened.session_id, 100, 64, 60))
            except BaseException as exc:
                errors.append(exc)

        reader = threading.Thread(target=download)
        reader.start()
        time.sleep(0.5)
        # Execute
        channel.close()
        reader.join(10)
        waited = _wait_for(lambda: _failures(node) == ["abandoned by the bank"])
        with bank.channel("operator") as again:
            reopened = open_session(again, REQUEST, 10)
    # Assert
    assert errors  # the bank's own call was cancelled
    assert waited < 5
    assert reopened.session_id != opened.session_id


def test_epoch_keys_deleted_by_the_timer_if_the_epoch_ends(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: an unbalanced session of an approved job builds bank-a's epoch set.
    config = _operator_config(pki, tmp_path, epoch_days=1)
    ctx = NodeContext.open(config)
    job = ctx.store.create_job(
        PSI_JOB, "bank-a", {"proposal": {"psi_mode": "intersection", "max_rows": 100}}
    )
    ctx.store.set_job_status(job.id, JobStatus.APPROVED)
    clock = [1_790_000_000.0]
    handler = OperatorPsi(ctx, shared_pool(1), clock=lambda: clock[0])
    peer = Peer("bank-a", "bank-a")
    request = PsiOpen(PsiMode.INTERSECTION, 100, SUITE, unbalanced=True, job_id=job.id)
    handler.open(peer, request)
    epochs = config.state_dir / "psi" / "epochs" / "bank-a"
    _wait_for(lambda: any(epochs.glob("*/meta.json")))
    stop = threading.Event()
    handler.run_housekeeping(stop)
    # Execute: the next day (epoch) begins; nobody calls.
    clock[0] += 86_400
    try:
        _wait_for(lambda: not any(epochs.glob("*/key")))
    finally:
        stop.set()
    # Assert
    deleted = [e for e in ctx.store.audit_entries() if e.action == "psi.epoch.deleted"]
    assert [(e.counterpart, e.detail["reason"]) for e in deleted] == [
        ("bank-a", "epoch ended")
    ]
    ctx.store.close()
