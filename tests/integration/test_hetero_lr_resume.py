"""Resume of logistic regression at the protocol level: both parties hold the same
agreed checkpoints; a Resume is refused for an unknown job, differing digests or a
malformed request; a resumed job gets no evaluation of a pass already evaluated and
no second reveal, and after the reveal no resume at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from bank_node.job_runner import validation_mask
from bank_node.jobspec import SplitSection
from bank_node.psi import run_psi
from bank_node.trainers.hetero_lr_driver import BankLrDriver, LrSettings
from node_core.checkpoint import JobCheckpoints
from protocol.domain import Split
from protocol.errors import PeerCallError
from protocol.hetero_lr import messages as m
from protocol.hetero_lr.party import LrHyper
from protocol.hetero_lr.service import HeteroLrClient
from protocol.jobs.messages import JobBinding, JobProposal, split_positions
from protocol.jobs.service import JobsClient
from protocol.proto.duet.v1 import hetero_lr_pb2 as pb
from protocol.proto.duet.v1 import hetero_lr_pb2_grpc as pb_grpc
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
    # Prepare: two epochs, the first checkpointed; the runner dies before the reveal
    with joint_setup(tmp_path, pki, policy={"min_batch_size": 64}) as setup:
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
            x = np.c_[dataset.features.iloc[rows].to_numpy(), np.ones(len(rows))]
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
