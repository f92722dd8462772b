"""Resume of logistic regression at the protocol level: both parties hold the same
agreed checkpoints; a Resume is refused for an unknown job, differing digests or a
malformed request; a resumed job gets no evaluation of a pass already evaluated and
no second reveal, and after the reveal no resume at all. After a resume the joint
evaluation (protocol.evaluation) answers every epoch's validation round once, those
before the checkpoint from both parties' checkpointed shares, and the job spends one
place of the model budget."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from bank_node.evaluation import JointEvaluation
from bank_node.job_runner import validation_mask
from bank_node.jobspec import SplitSection
from bank_node.psi import run_psi
from bank_node.trainers.hetero_lr_driver import BankLrDriver, LrSettings
from models.metrics import roc_auc
from models.preprocess import FeaturePreprocessor
from node_core.checkpoint import JobCheckpoints
from protocol.domain import Split
from protocol.errors import PeerCallError
from protocol.hetero_lr import messages as m
from protocol.hetero_lr.party import DEFAULT_CLIP, LrHyper
from protocol.hetero_lr.service import HeteroLrClient
from protocol.jobs.messages import JobBinding, JobProposal, split_positions
from protocol.jobs.service import JobsClient
from protocol.proto.duet.v1 import hetero_lr_pb2 as pb
from protocol.proto.duet.v1 import hetero_lr_pb2_grpc as pb_grpc
from protocol.psi.alignment import load_alignment
from protocol.psi.messages import PsiMode
from tests.joint import joint_setup
from tests.nodes import Pki

JOB = "c0ffee00c0ffee0a"


class Killed(Exception):
    """The bank's runner 'dies' before the reveal."""


class NoReveal:
    """A client whose Reveal never leaves the bank (the runner died first)."""

    def __init__(self, client: HeteroLrClient) -> None:
        self._client = client

    def reveal(self, request: m.LrReveal) -> m.LrRevealReply:
        raise Killed

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def refused(call: Any) -> PeerCallError:
    with pytest.raises(PeerCallError) as info:
        call()
    return info.value


def test_resumed_job_gets_no_more_evaluations_or_reveals_than_an_uninterrupted_one(
    tmp_path: Path, pki: Pki
) -> None:
    # Prepare: two epochs, the first checkpointed; the runner dies before the reveal,
    # after epoch 2 was trained and evaluated (that epoch is discarded by the resume).
    # Breast data: the bank's features nearly separate it alone, so the operator's
    # evaluation rules need a lower min_rank_mixing (as in test_evaluation.py).
    policy = {"min_batch_size": 64, "min_rank_mixing": 30.0}
    with joint_setup(tmp_path, pki, policy=policy) as setup:
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
            frame = dataset.features.iloc[rows].reset_index(drop=True)
            pre = FeaturePreprocessor.fit(
                frame.iloc[np.flatnonzero(~validation)],
                {c: "numeric" for c in frame.columns},
                clip=DEFAULT_CLIP,
            )
            x = np.c_[pre.transform(frame), np.ones(len(rows))]
            positions = split_positions(validation)
            client = HeteroLrClient(channel, 60)
            bank_points = JobCheckpoints(ctx.config.state_dir, JOB)
            operator_points = JobCheckpoints(setup.operator.ctx.config.state_dir, JOB)
            settings = LrSettings(
                epochs=2, batch_size=128, hyper=LrHyper(learning_rate=0.1),
                min_batch=64,
            )  # fmt: skip

            def driver(resume: bool, on: Any = client) -> BankLrDriver:
                return BankLrDriver(
                    on, JOB, x, labels, positions, [0, 1, 2], settings,
                    stable_key=rows, checkpoints=bank_points, resume=resume,
                )  # fmt: skip

            with pytest.raises(Killed):
                driver(False, NoReveal(client)).train()
            # The operator's live state of the job (its shares of the discarded
            # epoch 2 among it) goes with the session the Resume replaces, as in a
            # restart: what the resumed job has comes from the checkpoint.
            held = (bank_points.agreed(), operator_points.agreed())
            digest = bank_points.agreed()[0].digest
            stub = pb_grpc.HeteroLrStub(channel)
            # Execute: refusals first, then the resume and the rest of training
            unknown = refused(
                lambda: client.resume(
                    m.LrResume("deadbeef00000000", (m.CheckpointRef(1, digest),))
                )
            )
            mismatch = refused(
                lambda: client.resume(m.LrResume(JOB, (m.CheckpointRef(1, "0" * 64),)))
            )
            # Another job evaluated on these rows since the bind (the budget is one
            # model per set of rows): the resume is refused as a Bind would be
            operator_state = setup.operator.ctx.config.state_dir
            other = operator_state / "evaluated_rows" / "bank-a"
            other.mkdir(parents=True)
            spent = other / f"{int(time.time())}-feedface00000001.npy"
            alignment = load_alignment(operator_state, psi.alignment.alignment_id)
            np.save(spent, np.unique(alignment.local_rows))
            no_budget = refused(
                lambda: client.resume(m.LrResume(JOB, (m.CheckpointRef(1, digest),)))
            )
            spent.unlink()
            with pytest.raises(grpc.RpcError) as malformed:
                stub.Resume(
                    pb.LrResumeRequest(
                        job_id=JOB,
                        checkpoints=[pb.LrCheckpointRef(epoch=1, digest="xyz")],
                    ),
                    timeout=10,
                )
            resumed = driver(True)
            party = resumed.party
            chunk = np.arange(len(positions[Split.VALIDATION]))[: party.slots]
            party.start(positions[Split.VALIDATION][chunk])
            again = refused(
                lambda: client.forward(
                    m.LrForward(
                        JOB, 1, Split.VALIDATION, tuple(int(r) for r in chunk),
                        party.masked_logits(), (), 0, evaluation=True,
                        range_level=party.level,
                    )
                )
            )  # fmt: skip
            result = resumed.train()
            # The score stage: the trained model first, then each epoch's round
            evaluation = JointEvaluation(channel, JOB, ctx.limits)
            val = positions[Split.VALIDATION]
            val_labels = labels[val].astype(np.int64)
            final, final_labels = evaluation.partial_scores(
                Split.VALIDATION, x[val] @ result.weights, val_labels
            )
            aucs = {
                e: roc_auc(*reversed(evaluation.logit_shares(
                    e, result.validation_shares[e], val_labels, result.period
                )))
                for e in sorted(result.validation_shares)
            }  # fmt: skip
            epoch_again = refused(
                lambda: evaluation.logit_shares(
                    1, result.validation_shares[1], val_labels, result.period
                )
            )
            discarded = refused(
                lambda: evaluation.logit_shares(
                    3, result.validation_shares[2], val_labels, result.period
                )
            )
            answered = [
                (e.detail["kind"], e.detail["round"])
                for e in setup.operator.ctx.store.audit_entries()
                if e.action == "evaluation.answered" and e.subject == JOB
            ]
            second_reveal = refused(
                lambda: client.reveal(m.LrReveal(JOB, tuple([0] * len(x[0]))))
            )
            after_reveal = refused(
                lambda: client.resume(m.LrResume(JOB, (m.CheckpointRef(1, digest),)))
            )
    # Assert
    assert [a.epoch for a in held[0]] == [a.epoch for a in held[1]] == [1]
    assert held[0][0].digest == held[1][0].digest
    assert held[0][0].own == held[1][0].peer and held[0][0].peer == held[1][0].own
    assert (unknown.code, unknown.details) == (
        "FAILED_PRECONDITION",
        "job deadbeef00000000 is not resumable: the operator holds no checkpoint of"
        " it (unknown job, ended, or interrupted before its first epoch)",
    )
    assert (mismatch.code, mismatch.details) == (
        "FAILED_PRECONDITION",
        f"job {JOB}: the epoch 1 checkpoint digests differ between the parties",
    )
    assert malformed.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert no_budget.code == "PERMISSION_DENIED"
    assert "job feedface00000001" in no_budget.details
    assert (again.code, again.details) == (
        "PERMISSION_DENIED",
        "the validation chunk 0 was already evaluated at this range level since the"
        " last full training pass",
    )
    assert result.resumed_from == 1
    assert result.history.epochs == [1, 2]
    assert np.isfinite(result.weights).all()
    assert second_reveal.code == "FAILED_PRECONDITION"
    assert after_reveal.code == "FAILED_PRECONDITION"
    assert "holds no checkpoint" in after_reveal.details
    assert not operator_points.folder.exists()
    # Every epoch has a validation AUC, epoch 1's from the checkpointed shares of both
    # parties (mismatched shares would give noise, an AUC near 0.5), and the best
    # epoch's is the trained model's up to the shares' rounding.
    assert sorted(aucs) == [1, 2]
    assert all(0.9 < a <= 1 for a in aucs.values())
    assert roc_auc(final_labels, final) == pytest.approx(
        aucs[result.best_epoch], abs=2e-3
    )
    # No second multiset of a round, none of a pass the resume discarded or never ran
    assert (epoch_again.code, epoch_again.details) == (
        "PERMISSION_DENIED",
        "the validation split of training pass 1 was already evaluated",
    )
    assert discarded.code == "FAILED_PRECONDITION"
    assert answered == [("partial", 0), ("share", 1), ("share", 2)]
    # One place of the model budget for the job, however often it resumed
    ledger = setup.operator.ctx.config.state_dir / "evaluated_rows"
    assert [p.stem.partition("-")[2] for p in ledger.glob("*/*.npy")] == [JOB]
