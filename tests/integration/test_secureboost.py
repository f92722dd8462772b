"""SecureBoost against a real operator server (port 0, mutual TLS, 2048-bit keys):
the job completes with its report and both model parts, the saved parts predict what
the job scored, multi-class over the wire equals the plaintext reference, and the
operator refuses calls out of order, for another bank's job, below its minimum of
rows, malformed, or after its training went idle."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pandas as pd
import pytest
import tomli_w

from bank_node.job_runner import JobRun, JobRunner, validation_mask
from bank_node.jobspec import JobSpec, SplitSection, parse_job_spec
from bank_node.psi import run_psi
from models.metrics import roc_auc
from models.secureboost.encoding import ColumnCodes
from models.secureboost.model import BankModel, OperatorModel
from models.secureboost.params import BoostParams
from models.secureboost.reference import train_reference
from node_core.config import NodeConfig
from node_core.model_registry import ModelRegistry
from node_core.node import NodeContext, Registration
from operator_node.binning import OperatorBinning
from operator_node.job_desk import JobDesk
from operator_node.psi.sessions import psi_registration
from operator_node.roles.registry import served_model_types
from operator_node.roles.secureboost import OperatorSecureBoost
from protocol.auth import PeerDirectory
from protocol.binning.service import binning_service
from protocol.crypto import parallel
from protocol.crypto.paillier_keys import generate_keypair
from protocol.domain import JobStatus, Split
from protocol.errors import PeerCallError
from protocol.jobs.messages import JobBinding, JobProposal, split_positions
from protocol.jobs.service import JobsClient, jobs_service
from protocol.proto.duet.v1 import secureboost_pb2 as pb
from protocol.proto.duet.v1 import secureboost_pb2_grpc as pb_grpc
from protocol.psi.alignment import load_alignment
from protocol.psi.messages import PsiMode
from protocol.rpc import call_peer
from protocol.secureboost import driver
from protocol.secureboost import messages as m
from protocol.secureboost.bank_party import BankSbtParty
from protocol.secureboost.service import SecureBoostClient
from scripts.fate_data import PartyFiles, write_party_files
from tests.nodes import Pki, RunningNode, running_node, write_config

MIN_ROWS = 64


@dataclass
class SbtWorld:
    files: PartyFiles
    operator: RunningNode
    role: OperatorSecureBoost
    banks: dict[str, NodeContext]
    root: Path


def _operator_config(root: Path, pki: Pki, files: PartyFiles) -> NodeConfig:
    policy = {
        "purposes": ["credit_risk"],
        "features": ["o_*"],
        "approval": "auto",
        "min_batch_size": MIN_ROWS,
        "source": "subscribers",
    }
    return write_config(
        root / "operator.toml",
        pki,
        "operator",
        "operator",
        [
            {
                "party_id": bank,
                "identity": bank,
                "limits": {"psi_min_set_size": 10},
                "policy": policy,
            }
            for bank in ("bank-a", "bank-b")
        ],  # fmt: skip
        data={
            "subscribers": {
                "path": str(files.operator),
                "id": "phone",
                "numeric": ["o_*"],
            }
        },
    )


def _bank_config(
    root: Path, pki: Pki, files: PartyFiles, bank: str, address: str, label: bool
) -> NodeConfig:
    source: dict[str, Any] = {"path": str(files.bank), "id": "phone",
                              "numeric": ["b_*"]}  # fmt: skip
    if label:
        source["label"] = "y"
    else:  # multi-class labels are read by the test, not ingested (0/1 only)
        source["numeric"] = ["b_*", "y"]
    return write_config(
        root / f"{bank}.toml",
        pki,
        bank,
        "bank",
        [{"party_id": "operator", "identity": "operator", "address": address}],
        data={"customers": source},
    )


@contextmanager
def sbt_world(
    root: Path, pki: Pki, dataset: str = "breast", label: bool = True
) -> Iterator[SbtWorld]:
    files = write_party_files(dataset, root / "data")
    roles: list[OperatorSecureBoost] = []

    def services(ctx: NodeContext, directory: PeerDirectory) -> list[Registration]:
        # operator_services with the SecureBoost role kept for the test (reap).
        desk = JobDesk(ctx, served_model_types())
        role = OperatorSecureBoost(ctx, desk)
        roles.append(role)
        return [
            jobs_service(directory, desk),
            binning_service(directory, OperatorBinning(ctx, desk),
                            ctx.max_transfer_bytes, ctx.limits.chunk_bytes),
            role.service(directory),
            *_psi(ctx, directory),
        ]  # fmt: skip

    with running_node(_operator_config(root, pki, files), services) as operator:
        banks = {
            bank: NodeContext.open(
                _bank_config(root, pki, files, bank, operator.address, label)
            )
            for bank in ("bank-a", "bank-b")
        }
        try:
            yield SbtWorld(files, operator, roles[0], banks, root)
        finally:
            for ctx in banks.values():
                ctx.store.close()


def _psi(ctx: NodeContext, directory: PeerDirectory) -> list[Registration]:
    return [psi_registration(ctx, directory)]


def sbt_spec(root: Path, **model: Any) -> JobSpec:
    doc = {
        "job": {"name": "sbt-model", "purpose": "credit_risk"},
        "data": {"source": "customers"},
        "operator": {"features": ["o_*"]},
        "model": {"type": "secureboost", "trees": 4, "max_depth": 3,
                  "min_operator_rows": MIN_ROWS, **model},
        "report": {"output": str(root / "reports")},
    }  # fmt: skip
    path = root / "job.toml"
    path.write_text(tomli_w.dumps(doc))
    return parse_job_spec(doc, path)


@pytest.fixture(scope="module")
def trained(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[SbtWorld, JobRun]]:
    root = Path(tmp_path_factory.mktemp("sbt"))
    with sbt_world(root, pki) as world:
        spec = sbt_spec(root, early_stopping_rounds=2)
        run = JobRunner(world.banks["bank-a"], spec, progress=lambda _: None).run()
        yield world, run
    parallel.shutdown()


def test_job_writes_report_with_importance_and_both_model_parts(
    trained: tuple[SbtWorld, JobRun],
) -> None:
    # Prepare
    world, run = trained
    bank = world.banks["bank-a"]
    operator_ctx = world.operator.ctx
    # Execute
    report = json.loads((run.report_dir / "report.json").read_text())
    html = (run.report_dir / "report.html").read_text()
    bank_models = ModelRegistry(bank.config.state_dir, bank.store).list()
    op_models = ModelRegistry(operator_ctx.config.state_dir, operator_ctx.store).list()
    # Assert: the job and its report.
    assert run.summary["validation_auc"] > 0.95
    importance = report["tables"]["feature_importance"]["rows"]
    parties = {row["party"] for row in importance}
    assert parties == {"bank", "operator"}
    operator_names = {r["feature"] for r in importance if r["party"] == "operator"}
    assert operator_names <= set(world.files.operator_features)
    assert all(row["splits"] >= 1 and row["total_gain"] > 0 for row in importance)
    assert len(report["history"]) == run.summary["epochs_run"]
    assert all(h["validation_auc"] is not None for h in report["history"])
    trees = report["tables"]["trees"]["rows"]
    assert {t["owner"] for t in trees} == {"bank", "operator", "leaf"}
    assert "Feature importance (both parties)" in html
    assert run.summary["training"]["trees"] == len({t["tree"] for t in trees})
    # Both parts are in their registries; the job succeeded on both sides.
    assert [r.kind for r in bank_models] == ["secureboost.bank"]
    assert [r.kind for r in op_models] == ["secureboost.operator"]
    operator_part = op_models[0].load()
    assert "leaf_value" not in json.dumps(operator_part)
    for store in (bank.store, operator_ctx.store):
        assert store.get_job(run.job_id).status is JobStatus.SUCCEEDED
        assert store.verify_audit().intact
    finished = [
        e for e in operator_ctx.store.audit_entries()
        if e.action == "secureboost.finished"
    ]  # fmt: skip
    assert len(finished) == 1 and finished[0].subject == run.job_id


def test_saved_parts_predict_what_the_job_scored_if_loaded(
    trained: tuple[SbtWorld, JobRun],
) -> None:
    # Prepare: each party's part from its registry, each party's rows from its file.
    world, run = trained
    bank, operator_ctx = world.banks["bank-a"], world.operator.ctx
    bank_doc = ModelRegistry(bank.config.state_dir, bank.store).list()[0].load()
    op_doc = (
        ModelRegistry(operator_ctx.config.state_dir, operator_ctx.store)
        .list()[0]
        .load()
    )
    bank_model = BankModel.from_dict(bank_doc["model"])
    operator_model = OperatorModel.from_dict(op_doc["model"])
    alignment_id = run.summary["psi"]["alignment_id"]
    bank_rows = load_alignment(bank.config.state_dir, alignment_id).local_rows
    op_rows = load_alignment(operator_ctx.config.state_dir, alignment_id).local_rows
    bank_file = pd.read_csv(world.files.bank)
    labels = bank_file["y"].to_numpy()[bank_rows]
    validation = validation_mask(labels, SplitSection(), bank_rows)
    x_bank = ColumnCodes.from_dict(bank_doc["codes"]).transform(
        bank_file.iloc[bank_rows[validation]]
    )
    op_file = pd.read_csv(world.files.operator)
    x_operator = ColumnCodes.from_dict(op_doc["codes"]).transform(
        op_file.iloc[op_rows[validation]]
    )
    x_operator = x_operator[
        :, [op_doc["codes"]["columns"].index(c) for c in op_doc["columns"]]
    ]
    # Execute
    probability = driver.predict_in_process(
        bank_model, operator_model, x_bank, x_operator
    )
    # Assert: the AUC of the job's federated scoring, to its 6 decimals.
    assert (
        round(roc_auc(labels[validation], probability), 6)
        == (run.summary["validation_auc"])
    )


@dataclass
class Bound:
    channel: grpc.Channel
    positions: dict[Split, np.ndarray]
    dataset: Any
    rows: np.ndarray  # the bank's dataset row per aligned position
    labels: np.ndarray  # from the bank's file, per aligned position
    alignment_id: str


@contextmanager
def bound_job(
    world: SbtWorld, job_id: str, bank: str = "bank-a", model: str = "secureboost"
) -> Iterator[Bound]:
    """An approved `model` job of `bank` bound to a fresh alignment."""
    ctx = world.banks[bank]
    dataset = ctx.dataset("customers")
    with ctx.channel("operator") as channel:
        jobs = JobsClient(channel, 30)
        jobs.propose(JobProposal(job_id, "credit_risk", ("o_*",), model,
                                 len(dataset.ids), MIN_ROWS))  # fmt: skip
        psi = run_psi(
            ctx, "operator", dataset, PsiMode.BOTH, channel=channel, job_id=job_id
        )
        assert psi.alignment is not None
        rows = psi.alignment.local_rows
        labels = np.asarray(pd.read_csv(world.files.bank)["y"])[rows].astype(int)
        validation = validation_mask(labels, SplitSection(0.3, 42), rows)
        jobs.bind(JobBinding(job_id, psi.alignment.alignment_id, validation))
        yield Bound(channel, split_positions(validation), dataset, rows, labels,
                    psi.alignment.alignment_id)  # fmt: skip


def refused(call: Any) -> PeerCallError:
    """The peer's refusal of a client call or a raw stub call."""
    with pytest.raises(PeerCallError) as info:
        call_peer("SecureBoost", call)
    return info.value


def _bank_party(
    job_id: str, bound: Bound, params: BoostParams, columns: list[str],
    operator_columns: int,
) -> BankSbtParty:  # fmt: skip
    x = bound.dataset.features.iloc[bound.rows][columns].to_numpy(dtype=float)
    train = bound.positions[Split.TRAIN]
    valid = bound.positions[Split.VALIDATION]
    _, private_key = generate_keypair()
    return BankSbtParty(
        job_id, x[train], bound.labels[train], params, private_key,
        names=tuple(columns), operator_features=tuple(range(operator_columns)),
        validation=(x[valid], bound.labels[valid]),
    )  # fmt: skip


@pytest.fixture(scope="module")
def world(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SbtWorld]:
    with sbt_world(Path(tmp_path_factory.mktemp("sbt-calls")), pki) as w:
        yield w


JOB = "5b05b05b05b05b05"


def test_operator_refuses_calls_outside_the_protocol_with_their_status(
    world: SbtWorld,
) -> None:
    # Prepare: bank-a's approved, bound job, not set up yet.
    with bound_job(world, JOB) as bound:
        channel = bound.channel
        params = BoostParams(n_trees=2, min_operator_rows=MIN_ROWS)
        bank = _bank_party(JOB, bound, params, world.files.bank_features, 20)
        client = SecureBoostClient(channel, JOB, 60, 1 << 20)
        stub = pb_grpc.SecureBoostStub(channel)
        setup = bank.setup_request()
        with world.banks["bank-b"].channel("operator") as other:
            other_client = SecureBoostClient(other, JOB, 60, 1 << 20)

            # Execute / Assert: before Setup.
            early = refused(lambda: stub.Split(pb.SbtSplitRequest(
                job_id=JOB, tree=0, splits=[pb.SbtNodeSplit(
                    node=0, owner=pb.SBT_OWNER_OPERATOR)]), timeout=30))  # fmt: skip
            assert (early.code, early.details) == (
                "FAILED_PRECONDITION",
                f"job {JOB}: SecureBoost not set up",
            )
            # Another bank's job does not exist for bank-b.
            other_bank = refused(lambda: other_client.setup(setup))
            assert (other_bank.code, other_bank.details) == (
                "NOT_FOUND",
                f"no job {JOB}",
            )
            # Below the operator's minimum of rows per node.
            small = refused(lambda: client.setup(replace(setup, min_operator_rows=10)))
            assert (small.code, small.details) == (
                "PERMISSION_DENIED",
                f"secureboost: operator histograms need nodes of at least {MIN_ROWS}"
                " rows (the job asks for 10)",
            )
            # Malformed fields.
            bad_id = refused(
                lambda: stub.Finish(
                    pb.SbtFinishRequest(job_id="Not-A-Job", trees=1), timeout=30
                )
            )
            assert (bad_id.code, bad_id.details) == (
                "INVALID_ARGUMENT",
                "SbtFinishRequest.job_id: job id must be 8-64 lowercase letters,"
                " digits or '-'",
            )
            bank.accept_setup(client.setup(setup))
            bad_mask = refused(lambda: stub.Split(pb.SbtSplitRequest(
                job_id=JOB, tree=0, splits=[pb.SbtNodeSplit(
                    node=0, owner=pb.SBT_OWNER_BANK,
                    left=pb.SbtRowMask(rows=3, bits=b"\xff"))]),
                timeout=30))  # fmt: skip
            assert (bad_mask.code, bad_mask.details) == (
                "INVALID_ARGUMENT",
                "SbtSplitRequest.splits[0].left.bits: padding bits after row 3 set",
            )
            # Out of order: a second setup, a split before the tree's gradients, and
            # bank-b on bank-a's set-up job.
            again = refused(lambda: client.setup(setup))
            assert (again.code, again.details) == (
                "FAILED_PRECONDITION",
                f"job {JOB}: already set up",
            )
            bank.start_round()
            bank.start_tree()
            gradients = bank.tree_gradients()
            assert gradients is not None
            no_tree = refused(lambda: client.split(m.SplitRequest(
                0, (m.NodeSplit(0, "operator", feature=0, bin=0),))))  # fmt: skip
            assert (no_tree.code, no_tree.details) == (
                "FAILED_PRECONDITION",
                "secureboost: tree 0 is not open",
            )
            client.accept_gradients(gradients)
            twice = refused(lambda: client.accept_gradients(gradients))
            assert (twice.code, twice.details) == (
                "FAILED_PRECONDITION",
                "secureboost: tree 0 is not finished",
            )
            other_stub = pb_grpc.SecureBoostStub(other)
            stolen = refused(
                lambda: other_stub.FinishTree(
                    pb.SbtTreeDone(job_id=JOB, tree=0), timeout=30
                )
            )
            assert (stolen.code, stolen.details) == ("NOT_FOUND", f"no job {JOB}")


def test_operator_refuses_setup_if_the_job_was_approved_for_another_model(
    world: SbtWorld,
) -> None:
    # Prepare: an approved, bound logistic-regression job of bank-a.
    job_id = "1a1a0b0b1a1a0b0b"
    with bound_job(world, job_id, model="hetero_lr") as bound:
        params = BoostParams(n_trees=2, min_operator_rows=MIN_ROWS)
        bank = _bank_party(job_id, bound, params, world.files.bank_features, 20)
        client = SecureBoostClient(bound.channel, job_id, 60, 1 << 20)
        # Execute
        other_model = refused(lambda: client.setup(bank.setup_request()))
    # Assert
    assert (other_model.code, other_model.details) == (
        "FAILED_PRECONDITION",
        f"job {job_id} was approved for model 'hetero_lr', not 'secureboost'",
    )


def test_operator_abandons_training_if_idle_past_its_deadline(
    world: SbtWorld,
) -> None:
    # Prepare: a set-up job with an open tree, then silence.
    job_id = "1d1e1d1e1d1e1d1e"
    with bound_job(world, job_id) as bound:
        params = BoostParams(n_trees=2, min_operator_rows=MIN_ROWS)
        bank = _bank_party(job_id, bound, params, world.files.bank_features, 20)
        client = SecureBoostClient(bound.channel, job_id, 60, 1 << 20)
        bank.accept_setup(client.setup(bank.setup_request()))
        bank.start_round()
        bank.start_tree()
        gradients = bank.tree_gradients()
        assert gradients is not None
        client.accept_gradients(gradients)
        request = bank.histogram_request()
        assert request is not None

        # Execute: the reaper looks at the job as if the deadline had passed.
        world.role.reap(time.monotonic() + world.role.idle_timeout_s + 1)

        # Assert: the job failed on the operator's side; the bank's next call is
        # refused.
        store = world.operator.ctx.store
        job = store.get_job(job_id)
        assert job.status is JobStatus.FAILED
        assert "idle" in job.error and "abandoned" in job.error
        late = refused(lambda: client.histograms(request))
        assert (late.code, late.details) == (
            "FAILED_PRECONDITION",
            f"job {job_id} is failed, not approved",
        )


def test_multi_class_over_the_wire_equals_the_plaintext_reference(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Prepare: vehicle_scale, 4 classes; labels read from the bank's own file.
    root = Path(tmp_path_factory.mktemp("sbt-multi"))
    job_id = "3c1a553c1a553c1a"
    params = BoostParams(n_trees=2, max_depth=2, objective="multi:softprob",
                         n_classes=4, min_operator_rows=MIN_ROWS)  # fmt: skip
    with sbt_world(root, pki, "vehicle_scale", label=False) as w:
        columns = w.files.bank_features
        with bound_job(w, job_id) as bound:
            bank = _bank_party(job_id, bound, params, columns, 9)
            client = SecureBoostClient(bound.channel, job_id, 60, 1 << 20)

            # Execute
            model = driver.train(bank, client)
            x = bound.dataset.features.iloc[bound.rows][columns].to_numpy(float)
            valid = bound.positions[Split.VALIDATION]
            p = driver.predict(model, client, m.VALIDATION, x[valid])

        # Assert: the plaintext reference on the same rows, split and columns.
        op_rows = load_alignment(
            w.operator.ctx.config.state_dir, bound.alignment_id
        ).local_rows
        operator_file = pd.read_csv(w.files.operator)
        op = operator_file[w.files.operator_features].to_numpy(float)[op_rows]
        train, y = bound.positions[Split.TRAIN], bound.labels
        ref_bank, ref_operator = train_reference(
            x[train], op[train], y[train], params,
            bank_names=tuple(columns), operator_names=tuple(w.files.operator_features),
            x_bank_valid=x[valid], x_operator_valid=op[valid], labels_valid=y[valid],
        )  # fmt: skip
        assert model.to_dict() == ref_bank.to_dict()
        assert len(model.trees) == 8
        expected = driver.predict_in_process(
            ref_bank, ref_operator, x[valid], op[valid]
        )
        np.testing.assert_array_equal(p, expected)
