"""The joint credit-model job against a real operator server (port 0, mutual TLS):
report and models produced, federated IV equal to the centralized one, and every
refusal of the operator's policy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from bank_node.job_runner import JobRun, JobRunner, validation_mask
from models.binning import BinningModel
from models.woe import woe_iv_table
from node_core.model_registry import ModelRegistry
from operator_node.job_desk import approve_job
from operator_node.roles.registry import served_model_types
from protocol.crypto.ckks import PRECISE, CkksContext
from protocol.domain import JobStatus
from protocol.errors import PeerCallError
from protocol.hetero_lr import messages as m
from protocol.hetero_lr.service import HeteroLrClient
from protocol.jobs.messages import JobProposal
from protocol.jobs.service import JobsClient
from protocol.psi.alignment import load_alignment
from tests.joint import JointSetup, job_spec, joint_setup
from tests.nodes import Pki


@pytest.fixture(scope="module")
def progress() -> list[str]:
    """The job's progress output, line by line."""
    return []


@pytest.fixture(scope="module")
def trained(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory, progress: list[str]
) -> Iterator[tuple[JointSetup, JobRun]]:
    root = Path(tmp_path_factory.mktemp("joint"))
    # Breast data: 569 rows that the bank's WOE features nearly separate alone, so
    # the operator's scores mix the bank's order less than the default asks.
    with joint_setup(root, pki, policy={"min_rank_mixing": 20.0}) as setup:
        spec = job_spec(
            root, model={"epochs": 4, "batch_size": 200, "woe_bank_features": True}
        )
        yield setup, JobRunner(setup.bank, spec, progress=progress.append).run()


def test_job_writes_report_and_both_model_parts_if_policy_allows(
    trained: tuple[JointSetup, JobRun],
) -> None:
    # Prepare
    setup, run = trained
    # Execute
    report = json.loads((run.report_dir / "report.json").read_text())
    html = (run.report_dir / "report.html").read_text()
    bank_models = ModelRegistry(setup.bank.config.state_dir, setup.bank.store).list()
    operator_ctx = setup.operator.ctx
    op_models = ModelRegistry(operator_ctx.config.state_dir, operator_ctx.store).list()
    # Assert
    assert run.summary["validation_auc"] > 0.95
    assert {"roc", "ks"} <= set(report["validation"])
    assert "both the bank and the operator learn" in report["metadata"]["alignment"]
    assert any(
        "only as multisets of (score, label) pairs" in p for p in report["privacy"]
    )
    assert all(a is not None for a in (h["validation_auc"] for h in report["history"]))
    last_is_best = run.summary["best_epoch"] == run.summary["epochs_run"]
    assert bool(run.summary["warnings"]) == last_is_best
    assert ("warnings" in report["metadata"]) == last_is_best
    assert len(report["operator_iv"]) == 20 and len(report["bank_iv"]) == 10
    assert len(report["history"]) == run.summary["epochs_run"]
    assert report["scorecard"]["table"]  # WOE-encoded bank features: points per bin
    assert run.summary["bank_only_validation_auc"] > 0.5
    assert "<html" in html.lower()
    assert [r.kind for r in bank_models] == ["hetero_lr.bank"]
    assert [r.kind for r in op_models] == ["hetero_lr.operator"]
    assert len(op_models[0].load()["weights"]) == 20
    for store in (setup.bank.store, operator_ctx.store):
        assert store.get_job(run.job_id).status is JobStatus.SUCCEEDED
        subjects = {e.subject for e in store.audit_entries()}
        assert run.job_id in subjects
        assert store.verify_audit().intact


def test_progress_shows_epoch_aucs_and_warns_if_the_best_epoch_is_the_last(
    trained: tuple[JointSetup, JobRun], progress: list[str]
) -> None:
    # Prepare
    _, run = trained
    last_is_best = run.summary["best_epoch"] == run.summary["epochs_run"]
    # Execute
    aucs = [line for line in progress if line.startswith("validation AUC per epoch:")]
    warned = [line for line in progress if "came at the last epoch" in line]
    # Assert
    assert len(aucs) == 1
    assert aucs[0].count(", ") == run.summary["epochs_run"] - 1
    assert len(warned) == int(last_is_best)


def test_job_handshakes_once_if_run_to_the_end(
    trained: tuple[JointSetup, JobRun],
) -> None:
    # Prepare
    setup, _ = trained
    # Execute
    hellos = [
        e for e in setup.bank.store.audit_entries() if e.action == "session.hello.sent"
    ]
    # Assert: one handshake serves approval, PSI, binning and training.
    assert len(hellos) == 1
    assert "hetero-lr/ckks-fourier/1" in hellos[0].detail["shared_capabilities"]


def test_operator_learns_selected_features_and_best_epoch_if_job_runs(
    trained: tuple[JointSetup, JobRun],
) -> None:
    # Prepare: what the README and protocol docstrings say the operator learns.
    setup, run = trained
    entries = [
        e for e in setup.operator.ctx.store.audit_entries() if e.subject == run.job_id
    ]
    # Execute
    by_action = {e.action: e.detail for e in entries}
    improved = [e.detail["epoch"] for e in entries if e.action == "lr.keep_best"]
    # Assert: the features that passed the bank's selection (of the 20 it asked IV
    # for, with bins and method), the bank's input count, every improving epoch.
    assert by_action["binning.sums"]["features"] == setup.files.operator_features
    assert (by_action["binning.sums"]["bins"], by_action["binning.sums"]["method"]) == (
        10,
        "quantile",
    )
    assert by_action["lr.setup"]["features"] == run.summary["features"]["operator"]
    assert by_action["lr.setup"]["bank_dim"] == len(run.summary["features"]["bank"]) + 1
    assert improved and improved[-1] == run.summary["best_epoch"]
    assert improved == sorted(improved)


def test_federated_iv_equals_centralized_iv_if_same_rows(
    trained: tuple[JointSetup, JobRun],
) -> None:
    # Prepare: rebuild the job's training rows from the bank's saved alignment.
    setup, run = trained
    report = json.loads((run.report_dir / "report.json").read_text())
    alignment = load_alignment(
        setup.bank.config.state_dir, run.summary["psi"]["alignment_id"]
    )
    bank = pd.read_csv(setup.files.bank, dtype={"phone": str})
    operator = pd.read_csv(setup.files.operator, dtype={"phone": str})
    joined = bank.iloc[alignment.local_rows].merge(operator, on="phone")
    y = joined["y"].to_numpy()
    train = ~validation_mask(y, job_spec(setup.root).split, alignment.local_rows)
    frame = joined.loc[train, setup.files.operator_features].reset_index(drop=True)
    # Execute: the operator's bins hold at least its policy's 64 rows each.
    binning = BinningModel.fit(frame, list(frame), n_bins=10, min_bin_rows=64)
    central = woe_iv_table(frame, y[train], binning=binning)
    # Assert
    federated = {row["feature"]: row["iv"] for row in report["operator_iv"]}
    assert federated.keys() == central.keys()
    for name, table in central.items():
        assert federated[name] == pytest.approx(table.iv, abs=1e-12)


def _refusal(setup: JointSetup, **sections) -> PeerCallError:
    spec = job_spec(setup.root, **sections)
    with pytest.raises(PeerCallError) as info:
        JobRunner(setup.bank, spec, progress=lambda _: None).run()
    return info.value


def test_operator_refuses_purpose_outside_policy(pki: Pki, tmp_path: Path) -> None:
    # Prepare
    with joint_setup(tmp_path, pki) as setup:
        # Execute
        error = _refusal(setup, job={"purpose": "marketing"})
        jobs = setup.operator.ctx.store.list_jobs(JobStatus.REFUSED)
    # Assert
    assert error.code == "PERMISSION_DENIED"
    assert error.details == (
        "purpose 'marketing' is not allowed for bank-a (policy.purposes: credit_risk)"
    )
    assert len(jobs) == 1 and "policy.purposes" in jobs[0].error


def test_operator_refuses_model_type_without_passive_role(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare
    with joint_setup(tmp_path, pki) as setup:
        with setup.bank.channel("operator") as channel:
            # Execute
            with pytest.raises(PeerCallError) as info:
                JobsClient(channel, 10).propose(
                    JobProposal("c1b2c3d4e5f6a7b8", "credit_risk", ("o_*",),
                                "kmeans", 569, 256)
                )  # fmt: skip
            jobs = setup.operator.ctx.store.list_jobs(JobStatus.REFUSED)
    # Assert
    assert info.value.code == "PERMISSION_DENIED"
    assert info.value.details == (
        "model type 'kmeans' is not served by operator"
        f" (served: {', '.join(served_model_types())})"
    )
    assert [j.id for j in jobs] == ["c1b2c3d4e5f6a7b8"]


def test_operator_refuses_feature_outside_policy(pki: Pki, tmp_path: Path) -> None:
    # Prepare
    with joint_setup(tmp_path, pki, policy={"features": ["o_x1", "o_x2"]}) as setup:
        # Execute
        error = _refusal(setup, operator={"features": ["o_x1", "o_x3"]})
    # Assert
    assert error.code == "PERMISSION_DENIED"
    assert error.details == (
        "requested operator feature 'o_x3' is not available to bank-a (policy.features)"
    )


def test_operator_refuses_batches_below_minimum_if_policy_sets_one(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare
    with joint_setup(tmp_path, pki, policy={"min_batch_size": 512}) as setup:
        # Execute
        error = _refusal(setup, model={"batch_size": 128})
    # Assert
    assert error.code == "PERMISSION_DENIED"
    assert error.details == (
        "batch size 128 is below the minimum of 512 (policy.min_batch_size)"
    )


def test_operator_refuses_work_on_job_not_yet_approved_if_manual_approval(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare
    with joint_setup(tmp_path, pki, policy={"approval": "manual"}) as setup:
        with setup.bank.channel("operator") as channel:
            jobs = JobsClient(channel, 10)
            proposal = JobProposal(
                "a1b2c3d4e5f6a7b8", "credit_risk", ("o_*",), "hetero_lr", 569, 256
            )
            pending = jobs.propose(proposal)
            lr = HeteroLrClient(channel, 10)
            keys = CkksContext.create(PRECISE, galois_keys=False)
            setup_call = m.LrSetup(
                proposal.job_id, keys.public_bytes(), 3, (0,), 0.5, "sgd", 0.9,
                0.0, 0.0, 256, 8, 8.0, 40.0, 8.0,
            )  # fmt: skip
            # Execute
            with pytest.raises(PeerCallError) as early:
                lr.setup(setup_call)
            approve_job(setup.operator.ctx, proposal.job_id, True, "")
            approved = jobs.status(proposal.job_id)
            with pytest.raises(PeerCallError) as unbound:
                lr.setup(setup_call)
    # Assert
    assert pending.status is JobStatus.PENDING_APPROVAL
    assert "operator-node jobs approve a1b2c3d4e5f6a7b8" in pending.message
    assert early.value.code == "FAILED_PRECONDITION"
    assert (
        early.value.details == "job a1b2c3d4e5f6a7b8 is pending approval, not approved"
    )
    assert approved.status is JobStatus.APPROVED and len(approved.features) == 20
    assert unbound.value.details == (
        "job a1b2c3d4e5f6a7b8 is not bound to an alignment"
    )


def test_operator_refuses_unknown_counterpart_if_certificate_not_configured(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: bank-b has a valid certificate but is not the operator's counterpart.
    from protocol.transport import TlsMaterial, connect

    with joint_setup(tmp_path, pki) as setup:
        cert = pki.certs["bank-b"]
        tls = TlsMaterial.from_files(pki.ca.cert, cert.cert, cert.key)
        with connect(setup.operator.address, "operator", tls) as channel:
            # Execute
            with pytest.raises(PeerCallError) as info:
                JobsClient(channel, 10).propose(
                    JobProposal("b1b2c3d4e5f6a7b8", "credit_risk", ("o_*",),
                                "hetero_lr", 10, 256)
                )  # fmt: skip
    # Assert
    assert info.value.code == "UNAUTHENTICATED"
    assert info.value.details == (
        "certificate identity 'bank-b' is not a configured counterpart of operator"
    )
