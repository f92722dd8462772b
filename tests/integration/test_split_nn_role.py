"""The operator's split-NN role refuses calls out of order, outside its limits or for
other jobs before it writes anything or starts a process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pytest

from bank_node.job_runner import validation_mask
from bank_node.jobspec import SplitSection
from bank_node.psi import run_psi
from protocol.errors import PeerCallError
from protocol.jobs.messages import JobBinding, JobProposal
from protocol.jobs.service import JobsClient
from protocol.psi.messages import PsiMode
from protocol.split_nn import messages as m
from protocol.split_nn.party import OPERATOR_FEATURES_FILE
from protocol.split_nn.service import SplitNnClient
from tests.joint import JointSetup, joint_setup
from tests.nodes import Pki

NN = "5b1175b1175b1175b1175b1175b11750"  # split_nn, bound
NN_BIG = "5b1175b1175b1175b1175b1175b11751"  # split_nn, bound, prepared in a test
LR = "5b1175b1175b1175b1175b1175b11752"  # hetero_lr, bound


@dataclass
class Target:
    setup: JointSetup
    channel: grpc.Channel
    client: SplitNnClient


def _bind(setup: JointSetup, channel: grpc.Channel, job_id: str, model: str) -> None:
    ctx = setup.bank
    dataset = ctx.dataset("customers")
    jobs = JobsClient(channel, 30)
    jobs.propose(JobProposal(job_id, "credit_risk", ("o_*",), model, 569, 128))
    psi = run_psi(
        ctx, "operator", dataset, PsiMode.BOTH, channel=channel, job_id=job_id
    )
    assert psi.alignment is not None
    rows = psi.alignment.local_rows
    validation = validation_mask(dataset.label[rows], SplitSection(0.3, 42), rows)
    jobs.bind(JobBinding(job_id, psi.alignment.alignment_id, validation))


@pytest.fixture(scope="module")
def target(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    root = Path(tmp_path_factory.mktemp("split-nn-role"))
    policy = {"max_jobs_per_day": 100, "max_epochs": 20}
    with joint_setup(root, pki, policy=policy) as setup:
        with setup.bank.channel("operator") as channel:
            for job_id, model in ((NN, "split_nn"), (NN_BIG, "split_nn"),
                                  (LR, "hetero_lr")):  # fmt: skip
                _bind(setup, channel, job_id, model)
            yield Target(setup, channel, SplitNnClient(channel, 60))


def _code(call: Callable[[], object]) -> str:
    with pytest.raises(PeerCallError) as err:
        call()
    return err.value.code


def _job_folder(target: Target, job_id: str) -> Path:
    state = target.setup.operator.ctx.config.state_dir
    return state / "split_nn" / job_id / job_id


def test_prepare_refuses_a_job_of_another_model_type(target: Target) -> None:
    # Execute
    code = _code(lambda: target.client.prepare(m.NnPrepare(LR, (0, 1), 2)))
    # Assert
    assert code == "FAILED_PRECONDITION"
    assert not _job_folder(target, LR).exists()


def test_prepare_refuses_if_rounds_exceed_the_operators_limit(target: Target) -> None:
    # Execute: policy.max_epochs = 20 caps split_nn.max_rounds (50)
    code = _code(lambda: target.client.prepare(m.NnPrepare(NN, (0, 1), 21)))
    # Assert
    assert code == "PERMISSION_DENIED"
    assert not (_job_folder(target, NN) / OPERATOR_FEATURES_FILE).exists()


def test_prepare_refuses_if_a_feature_index_is_outside_the_job(target: Target) -> None:
    # Execute
    code = _code(lambda: target.client.prepare(m.NnPrepare(NN, (0, 999), 2)))
    # Assert
    assert code == "INVALID_ARGUMENT"


def test_start_and_complete_refuse_if_the_job_was_not_prepared(target: Target) -> None:
    # Execute
    start = _code(lambda: target.client.start(m.NnStart(NN, "127.0.0.1", 9)))
    complete = _code(lambda: target.client.complete(m.NnComplete(NN)))
    # Assert
    assert start == complete == "FAILED_PRECONDITION"


def test_prepare_writes_only_the_selected_features_and_start_refuses_other_hosts(
    target: Target,
) -> None:
    # Prepare
    reply = target.client.prepare(m.NnPrepare(NN_BIG, (0, 2, 4), 3))
    # Execute
    start = _code(lambda: target.client.start(m.NnStart(NN_BIG, "198.51.100.7", 9093)))
    again = _code(lambda: target.client.prepare(m.NnPrepare(NN_BIG, (0, 1), 3)))
    complete = _code(lambda: target.client.complete(m.NnComplete(NN_BIG)))
    # Assert
    features = np.load(_job_folder(target, NN_BIG) / OPERATOR_FEATURES_FILE)
    assert features.shape == (
        reply.train_rows + reply.validation_rows, reply.operator_columns
    )  # fmt: skip
    assert reply.operator_columns == 3  # three numeric features
    assert features.dtype == np.float32
    assert start == "PERMISSION_DENIED"
    assert again == "FAILED_PRECONDITION"
    assert complete == "FAILED_PRECONDITION"
