"""PSI between a real operator server (port 0, mutual TLS) and the bank's PSI jobs:
results against plain set operations, transcripts, fresh keys, policy refusals."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bank_node import cli as bank_cli
from node_core.config import DataSourceConfig
from node_core.ingest import (
    BAD_PHONE,
    DUPLICATE_ID,
    MISSING_REQUIRED,
    Dataset,
    load_dataset,
)
from node_core.node import NodeContext
from operator_node.cli import operator_services
from protocol.domain import JobStatus
from protocol.errors import PeerCallError
from protocol.psi.alignment import load_alignment
from protocol.psi.group import SUITE, hash_to_group
from protocol.psi.messages import PsiMode, PsiOpen
from protocol.psi.service import download_reblinded, open_session, upload_bank_set
from protocol.transport import TlsMaterial, connect
from tests.integration.psi_support import (
    ALL_MODES_POLICY,
    PsiSets,
    Transcript,
    approved_job,
    make_sets,
    number_patterns,
    psi_job,
    recorded_channel,
)
from tests.nodes import Pki, RunningNode, running_node, write_config

BANK_LIMITS = {"psi_min_set_size": 20, "psi_allow_unbalanced": True}
# The bank file's malformed rows (one of them empty) and later variants of a number.
REJECTED = {BAD_PHONE: 5, MISSING_REQUIRED: 1, DUPLICATE_ID: 3}


@contextmanager
def _operator(
    pki: Pki, root: Path, sets: PsiSets, limits: dict, *others: str
) -> Iterator[RunningNode]:
    data = root / "subscribers.parquet"
    pd.DataFrame({"phone": sets.operator_rows}).to_parquet(data)
    config = write_config(
        root / "operator.toml",
        pki,
        "operator",
        "operator",
        [
            {
                "party_id": party,
                "identity": party,
                "limits": limits,
                "policy": ALL_MODES_POLICY,
            }
            for party in ("bank-a", *others)
        ],
        data={"subscribers": {"path": str(data), "on_duplicate": "keep_first"}},
        psi={"source": "subscribers", "workers": 2, "batch_items": 128},
        transport={"chunk_kb": 4},  # several chunks per stream even for small sets
    )
    with running_node(config, operator_services) as node:
        yield node


def _bank(pki: Pki, root: Path, node: RunningNode) -> NodeContext:
    config = write_config(
        root / "bank.toml",
        pki,
        "bank-a",
        "bank",
        [{"party_id": "operator", "identity": "operator", "address": node.address}],
        psi={"workers": 2, "batch_items": 128},
        transport={"chunk_kb": 4},
    )
    return NodeContext.open(config)


def _bank_dataset(root: Path, rows: list[str]) -> Dataset:
    path = root / "customers.csv"
    pd.DataFrame({"phone": rows, "balance": range(len(rows))}).to_csv(path, index=False)
    return load_dataset("customers", DataSourceConfig(path, on_duplicate="keep_first"))


@pytest.fixture(scope="module")
def sets() -> PsiSets:
    return make_sets(seed=5, operator_size=900, bank_size=400, overlap=170)


@pytest.fixture(scope="module")
def operator(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory, sets: PsiSets
) -> Iterator[RunningNode]:
    with _operator(pki, Path(tmp_path_factory.mktemp("op")), sets, BANK_LIMITS) as node:
        yield node


@pytest.fixture(scope="module")
def bank(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory, operator: RunningNode
) -> Iterator[NodeContext]:
    ctx = _bank(pki, Path(tmp_path_factory.mktemp("bank")), operator)
    yield ctx
    ctx.store.close()


@pytest.fixture(scope="module")
def customers(tmp_path_factory: pytest.TempPathFactory, sets: PsiSets) -> Dataset:
    return _bank_dataset(Path(tmp_path_factory.mktemp("data")), sets.bank_rows)


def _refusal(call) -> PeerCallError:
    with pytest.raises(PeerCallError) as info:
        call()
    return info.value


@pytest.mark.parametrize("mode", list(PsiMode))
def test_run_psi_equals_plain_set_intersection_if_sets_random(
    mode: PsiMode,
    bank: NodeContext,
    customers: Dataset,
    sets: PsiSets,
) -> None:
    # Prepare
    expected = sets.expected_bank_rows()
    # Execute
    result = psi_job(bank, customers, mode)
    # Assert
    assert result.intersection_size == len(expected)
    assert result.bank_set_size == len(customers.ids)
    assert result.operator_set_size == len(sets.operator_rows) - 3
    if mode is PsiMode.CARDINALITY:
        assert result.matched_rows is None
    else:
        assert result.matched_rows is not None
        assert list(customers.source_rows[result.matched_rows]) == expected
    # Malformed numbers and later variants of a number are reported, not dropped.
    assert customers.report.rejected_by_reason == REJECTED


def test_run_psi_both_parties_hold_same_alignment_if_mode_both(
    bank: NodeContext,
    operator: RunningNode,
    customers: Dataset,
) -> None:
    # Prepare
    subscribers = operator.ctx.config.data_source("subscribers")
    operator_ids = load_dataset("subscribers", subscribers).ids
    # Execute
    result = psi_job(bank, customers, PsiMode.BOTH)
    # Assert
    assert result.alignment is not None
    ours = load_alignment(bank.config.state_dir, result.session_id)
    theirs = load_alignment(operator.ctx.config.state_dir, result.session_id)
    assert ours.digest() == theirs.digest() == result.alignment.digest()
    assert np.array_equal(ours.row_keys, theirs.row_keys)
    assert list(customers.ids[ours.local_rows]) == list(operator_ids[theirs.local_rows])
    assert ours.size == result.intersection_size
    assert ours.counterpart == "operator" and theirs.counterpart == "bank-a"
    assert theirs.fingerprint.startswith("sha256:")


def test_psi_transcript_has_no_number_or_hash_of_one_if_all_modes_run(
    bank: NodeContext,
    operator: RunningNode,
    customers: Dataset,
    sets: PsiSets,
) -> None:
    # Prepare
    transcript = Transcript()
    numbers = {c for c in sets.canonical(sets.operator_rows + sets.bank_rows) if c}
    # Execute
    with bank.channel("operator") as channel:
        recorded = recorded_channel(channel, transcript)
        for mode in PsiMode:
            psi_job(bank, customers, mode, channel=recorded)
    # Assert
    planted = hashlib.sha256(("86" + min(numbers)).encode()).digest()
    blob = transcript.blob() + planted  # control: the search must find this one
    assert len(transcript.payload_items()) > 3 * len(customers.ids)
    windows = {
        width: {blob[o : o + width] for o in range(len(blob) - width + 1)}
        for width in {11, 13, 14, 16, 20, 32, 40, 64}
    }
    leaks = [
        number
        for number in numbers
        for pattern in [*number_patterns(number), hash_to_group(number.encode())]
        if pattern in windows[len(pattern)]
    ]
    assert leaks == [min(numbers)]


def test_psi_sessions_share_no_transmitted_value_if_keys_fresh(
    bank: NodeContext, customers: Dataset
) -> None:
    # Prepare
    first, second = Transcript(), Transcript()
    # Execute
    with bank.channel("operator") as channel:
        for transcript in (first, second):
            recorded = recorded_channel(channel, transcript)
            psi_job(bank, customers, PsiMode.BOTH, channel=recorded)
    # Assert
    assert len(first.payload_items()) >= 900 + 2 * 400
    assert first.payload_items().isdisjoint(second.payload_items())


def test_psi_open_refused_if_set_under_minimum(
    bank: NodeContext, operator: RunningNode
) -> None:
    # Prepare
    request = PsiOpen(PsiMode.CARDINALITY, 19, SUITE)
    # Execute
    with bank.channel("operator") as channel:
        error = _refusal(lambda: open_session(channel, request, 10))
    # Assert
    assert error.code == "FAILED_PRECONDITION"
    assert error.details == (
        "PSI set of 19 numbers is under the minimum of 20 per query for bank-a"
    )
    last = operator.ctx.store.audit_entries()[-1]
    assert (last.action, last.counterpart) == ("psi.refused", "bank-a")
    assert last.detail["reason"] == "under minimum set size"


def test_psi_open_refused_if_peer_is_not_a_counterpart(
    pki: Pki, operator: RunningNode
) -> None:
    # Prepare
    cert = pki.certs["bank-b"]
    tls = TlsMaterial.from_files(pki.ca.cert, cert.cert, cert.key)
    request = PsiOpen(PsiMode.INTERSECTION, 500, SUITE)
    # Execute
    with connect(operator.address, "operator", tls) as channel:
        error = _refusal(lambda: open_session(channel, request, 10))
    # Assert
    assert error.code == "UNAUTHENTICATED"
    assert error.details == (
        "certificate identity 'bank-b' is not a configured counterpart of operator"
    )


def test_psi_upload_refused_if_size_differs_from_open(bank: NodeContext) -> None:
    # Execute
    with bank.channel("operator") as channel:
        job_id = approved_job(channel, PsiMode.INTERSECTION, 100)
        request = PsiOpen(PsiMode.INTERSECTION, 100, SUITE, job_id=job_id)
        opened = open_session(channel, request, 10)
        error = _refusal(
            lambda: upload_bank_set(
                channel, opened.session_id, 99, [bytes(32 * 99)], 4096, 10
            )
        )
    # Assert
    assert error.code == "INVALID_ARGUMENT"
    assert error.details == (
        "upload of 3168 bytes does not match the 100 items of 32 bytes announced"
        " at Open"
    )


def test_psi_unbalanced_skips_operator_set_if_bank_holds_epoch_set(
    bank: NodeContext, operator: RunningNode, customers: Dataset, sets: PsiSets
) -> None:
    # Prepare
    first = psi_job(bank, customers, PsiMode.BOTH, unbalanced=True)
    # Execute
    second = psi_job(bank, customers, PsiMode.INTERSECTION, unbalanced=True)
    # Assert
    expected = sets.expected_bank_rows()
    for result in (first, second):
        assert result.matched_rows is not None
        assert list(customers.source_rows[result.matched_rows]) == expected
    assert "operator_set" in first.timings and "operator_set" not in second.timings
    theirs = load_alignment(operator.ctx.config.state_dir, first.session_id)
    assert theirs.digest() == first.alignment.digest()


def test_psi_unbalanced_refused_if_mode_cardinality(
    bank: NodeContext, customers: Dataset
) -> None:
    # Execute
    error = _refusal(
        lambda: psi_job(bank, customers, PsiMode.CARDINALITY, unbalanced=True)
    )
    # Assert
    assert error.code == "FAILED_PRECONDITION"
    assert error.details.startswith("unbalanced PSI is not offered with mode")


def test_psi_open_refused_if_quota_spent(
    pki: Pki, tmp_path: Path, sets: PsiSets
) -> None:
    # Prepare
    limits = {
        "psi_min_set_size": 20,
        "psi_max_set_size": 405,
        "psi_max_daily_numbers": 700,
    }
    with _operator(pki, tmp_path, sets, limits) as node:
        ctx = _bank(pki, tmp_path, node)
        customers = _bank_dataset(tmp_path, sets.bank_rows)
        # Execute
        psi_job(ctx, customers, PsiMode.CARDINALITY)  # 400 of 700
        too_big = _refusal(lambda: psi_job(ctx, _big(customers), PsiMode.CARDINALITY))
        spent = _refusal(lambda: psi_job(ctx, customers, PsiMode.CARDINALITY))
        refusals = [
            e.detail["reason"]
            for e in node.ctx.store.audit_entries()
            if e.action == "psi.refused"
        ]
        ctx.store.close()
    # Assert
    assert too_big.code == spent.code == "RESOURCE_EXHAUSTED"
    assert too_big.details == (
        "PSI set of 409 numbers is over the per-request limit of 405 for bank-a"
    )
    assert spent.details.startswith("PSI daily budget of bank-a exhausted: 400 numbers")
    assert spent.details.endswith("(UTC), 400 more would pass the limit of 700")
    assert refusals == ["over maximum set size", "daily budget exhausted"]


def _big(dataset: Dataset) -> Dataset:
    extra = np.array([f"1990000{i:04d}" for i in range(9)])
    return Dataset(
        name=dataset.name,
        ids=np.concatenate([dataset.ids, extra]),
        features=dataset.features,
        feature_types=dataset.feature_types,
        label=dataset.label,
        identity=dataset.identity,
        source_rows=np.arange(len(dataset.ids) + 9),
        report=dataset.report,
    )


def test_bank_cli_psi_writes_outputs_and_job_if_mode_both(
    bank: NodeContext,
    operator: RunningNode,
    sets: PsiSets,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Prepare
    data = tmp_path / "customers.csv"
    pd.DataFrame({"mobile": sets.bank_rows}).to_csv(data, index=False)
    out = tmp_path / "out"
    argv = ["psi", "--config", str(bank.config.source), "--input", str(data)]
    argv += ["--id-column", "mobile", "--mode", "both", "--output", str(out)]
    argv += ["--purpose", "marketing", "--with-numbers"]
    # Execute
    code = bank_cli.main(argv)
    # Assert
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["intersection_size"] == len(sets.expected_bank_rows())
    assert summary["input"]["rejected_by_reason"] == REJECTED
    matched = pd.read_csv(out / "intersection.csv", dtype=str)
    assert matched["source_row"].astype(int).tolist() == sets.expected_bank_rows()
    aligned = pd.read_csv(out / "alignment.csv", dtype=str)
    assert aligned["position"].astype(int).tolist() == list(range(len(aligned)))
    assert sorted(aligned["phone"]) == sorted(matched["phone"])
    assert len(pd.read_csv(out / "rejections.csv")) == 9
    job = bank.store.get_job(summary["job_id"])
    assert (job.kind, job.status) == ("psi", JobStatus.SUCCEEDED)
    theirs = load_alignment(operator.ctx.config.state_dir, summary["alignment_id"])
    assert theirs.digest() == summary["alignment_digest"]


def test_bank_cli_psi_fails_job_with_clear_error_if_refused(
    bank: NodeContext,
    sets: PsiSets,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Prepare
    data = tmp_path / "few.csv"
    pd.DataFrame({"phone": sets.bank_rows[:12]}).to_csv(data, index=False)
    argv = ["psi", "--config", str(bank.config.source), "--input", str(data)]
    argv += ["--mode", "cardinality", "--quiet", "--purpose", "marketing"]
    # Execute
    code = bank_cli.main(argv)
    # Assert
    assert code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("bank-node: error: Psi/Open failed: FAILED_PRECONDITION:")
    assert error.endswith("is under the minimum of 20 per query for bank-a")
    last = bank.store.list_jobs()[-1]
    assert (last.kind, last.status) == ("psi", JobStatus.FAILED)


@pytest.mark.parametrize("mode", [PsiMode.INTERSECTION, PsiMode.CARDINALITY])
def test_operator_keeps_only_sizes_if_mode_is_not_both(
    mode: PsiMode, bank: NodeContext, operator: RunningNode, customers: Dataset
) -> None:
    # Execute
    result = psi_job(bank, customers, mode)
    # Assert
    state = operator.ctx.config.state_dir
    assert not (state / "alignments" / f"{result.session_id}.npz").exists()
    finished = [
        e
        for e in operator.ctx.store.audit_entries()
        if e.action == "psi.session.finished" and e.subject == result.session_id
    ]
    assert [e.detail for e in finished] == [
        {
            "mode": mode.value,
            "bank_set_size": result.bank_set_size,
            "operator_set_size": result.operator_set_size,
        }
    ]


def test_psi_session_not_found_if_another_counterpart_asks_for_it(
    pki: Pki, tmp_path: Path, sets: PsiSets
) -> None:
    # Prepare
    cert = pki.certs["bank-b"]
    tls_b = TlsMaterial.from_files(pki.ca.cert, cert.cert, cert.key)
    with _operator(pki, tmp_path, sets, BANK_LIMITS, "bank-b") as node:
        ctx = _bank(pki, tmp_path, node)
        with ctx.channel("operator") as channel:
            job_id = approved_job(channel, PsiMode.INTERSECTION, 100)
            request = PsiOpen(PsiMode.INTERSECTION, 100, SUITE, job_id=job_id)
            opened = open_session(channel, request, 10)
        # Execute
        with connect(node.address, "operator", tls_b) as other:
            error = _refusal(
                lambda: next(download_reblinded(other, opened.session_id, 100, 64, 10))
            )
        ctx.store.close()
    # Assert
    assert error.code == "NOT_FOUND"
    assert error.details == f"no open PSI session {opened.session_id}"
