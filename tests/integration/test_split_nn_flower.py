"""Split NN on Flower's Deployment Engine on loopback: a SuperLink (bank) and a
SuperNode (operator) as real processes with TLS and SuperNode authentication."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from flwr.common.serde import fab_to_proto, user_config_to_proto
from flwr.proto.control_pb2 import (  # pylint: disable=E0611
    ListNodesRequest,
    StartRunRequest,
)
from flwr.proto.runtime_pb2 import AcquireTaskRequest  # pylint: disable=E0611
from flwr.supercore.constant import TaskType
from flwr.supercore.fab import Fab
from flwr.supercore.interceptors import RuntimeVersionHttpInterceptor
from flwr.supercore.runtime import RuntimeHttpClient

from protocol.split_nn.deployment import BankFlower, FlowerProcessError, RunFailed
from protocol.split_nn.fab import build_fab, fab_sha256
from protocol.split_nn.party import OPERATOR_CLAIM_FILE, OPERATOR_MODEL_FILE
from protocol.split_nn.pki import SuperLinkRefused, issue_superlink_cert
from protocol.split_nn.records import run_to_config
from protocol.split_nn.server_app import BANK_MODEL_FILE, METRICS_FILE
from tests.integration.split_nn_support import (
    bank_flower,
    make_job,
    make_run,
    operator_flower,
    register_operator,
)
from tests.nodes import Pki


@pytest.mark.slow
def test_flower_run_completes_and_writes_metrics_if_deployed_on_loopback(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare
    job = make_job(tmp_path)
    rounds_seen: list[int] = []
    with bank_flower(pki, tmp_path) as bank:
        node_id = register_operator(pki, bank)
        with operator_flower(pki, tmp_path, bank, job):
            # Execute
            run_id = bank.submit(make_run(job, node_id, rounds=2))
            outcome = bank.wait(
                run_id, job.bank_dir, 240, lambda m: rounds_seen.append(m["round"])
            )

    # Assert
    metrics = json.loads((job.bank_dir / METRICS_FILE).read_text())
    assert metrics["status"] == "succeeded"
    assert metrics["validation_auc"] > 0.7
    assert [r["round"] for r in metrics["rounds"]] == [1, 2]
    assert rounds_seen == [1, 2]
    assert set(metrics["leak"]) >= {"norm_attack_auc", "direction_attack_auc"}
    assert outcome.metrics["run_id"] == run_id
    assert (job.bank_dir / BANK_MODEL_FILE).is_file()
    assert (job.operator_data / job.job_id / OPERATOR_MODEL_FILE).is_file()


def test_supernode_refuses_superlink_if_it_is_another_bank(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: the SuperLink is bank-b's; the operator is configured for bank-a
    job = make_job(tmp_path)
    with bank_flower(pki, tmp_path, party="bank-b") as bank:
        # Execute / Assert
        with pytest.raises(SuperLinkRefused) as err:
            with operator_flower(pki, tmp_path, bank, job, identity="bank-a"):
                pass
    assert "identifies as bank-b, not the configured counterpart bank-a" in str(
        err.value
    )
    assert not (tmp_path / "operator-flower" / "supernode.log").exists()


def test_supernode_refuses_superlink_if_its_ca_is_not_configured(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: a SuperLink named bank-a, but certified by another CA
    job = make_job(tmp_path)
    rogue = issue_superlink_cert(pki.rogue_ca, "bank-a", ["127.0.0.1"], tmp_path)
    bank = BankFlower(tmp_path / "bank", rogue.cert, rogue.key, pki.rogue_ca.cert)
    bank.start()
    try:
        # Execute / Assert
        with pytest.raises(SuperLinkRefused, match="the configured CA did not issue"):
            with operator_flower(pki, tmp_path, bank, job):
                pass
    finally:
        bank.stop()


def test_superlink_refuses_supernode_if_its_key_is_not_registered(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: SuperNode authentication is on and the bank registered no key
    job = make_job(tmp_path)
    with bank_flower(pki, tmp_path) as bank:
        with operator_flower(pki, tmp_path, bank, job) as operator:
            # Execute
            deadline = time.monotonic() + 60
            with pytest.raises(FlowerProcessError) as err:
                while time.monotonic() < deadline:
                    operator.check_running()
                    time.sleep(0.5)

            # Assert
            nodes = bank.control.ListNodes(ListNodesRequest()).nodes_info
    assert "flower-supernode exited" in str(err.value)
    assert "could not establish a connection to the SuperLink" in str(err.value)
    assert len(nodes) == 0
    superlink_log = (tmp_path / "bank-flower" / "superlink.log").read_text()
    assert "No SuperNode found with the given public key" in superlink_log


def test_bank_run_fails_clearly_if_operator_does_not_trust_the_app(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: the operator pins another FAB digest
    job = make_job(tmp_path)
    with bank_flower(pki, tmp_path) as bank:
        node_id = register_operator(pki, bank)
        with operator_flower(pki, tmp_path, bank, job, trusted=("0" * 64,)):
            run_id = bank.submit(make_run(job, node_id))

            # Execute / Assert
            with pytest.raises(RunFailed, match="app not trusted: FAB sha256"):
                bank.wait(run_id, job.bank_dir, 120)
    assert not (job.operator_data / job.job_id / OPERATOR_CLAIM_FILE).exists()


def test_bank_refuses_to_execute_a_run_it_did_not_start(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: anyone reaching the SuperLink's port can start a run (no account
    # authentication in Flower's open-source Control API), even with our FAB
    job = make_job(tmp_path)
    with bank_flower(pki, tmp_path) as bank:
        node_id = register_operator(pki, bank)
        fab = build_fab()
        reply = bank.control.StartRun(
            StartRunRequest(
                fab=fab_to_proto(Fab(fab_sha256(fab), fab, {})),
                override_config=user_config_to_proto(
                    run_to_config(make_run(job, node_id))
                ),
                federation="",
            )
        )
        run_id = int(reply.run_id)

        # Execute
        deadline = time.monotonic() + 60
        while bank.status(run_id).status != "finished":
            assert time.monotonic() < deadline
            time.sleep(0.5)
        status = bank.status(run_id)

    # Assert
    assert status.sub_status == "failed"
    assert f"run {run_id} was not started by this node" in status.details
    assert not (job.bank_dir / METRICS_FILE).exists()


@pytest.mark.slow
def test_bank_gets_clear_error_within_deadline_if_supernode_killed_mid_run(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare
    job = make_job(tmp_path)
    timeout = 20.0
    with bank_flower(pki, tmp_path) as bank:
        node_id = register_operator(pki, bank)
        with operator_flower(pki, tmp_path, bank, job) as operator:
            run = make_run(job, node_id, rounds=6, round_timeout_s=timeout)
            run_id = bank.submit(run)
            supernode = operator.supernode
            assert supernode is not None

            def kill_after_first_round(metrics: dict[str, object]) -> None:
                if metrics["round"] == 1:
                    os.killpg(supernode.pid, signal.SIGKILL)

            # Execute
            started = time.monotonic()
            with pytest.raises(RunFailed) as err:
                bank.wait(run_id, job.bank_dir, 5 * timeout, kill_after_first_round)
            elapsed = time.monotonic() - started

    # Assert: a clear error, well within the deadline, and both stores consistent
    message = str(err.value)
    assert (
        "did not answer round" in message
        or "NODE_UNAVAILABLE" in message
        or ("not online" in message)
    )
    assert elapsed < 5 * timeout
    metrics = json.loads((job.bank_dir / METRICS_FILE).read_text())
    assert metrics["status"] == "failed"
    assert metrics["error"] in message
    assert not (job.bank_dir / BANK_MODEL_FILE).exists()
    operator_job = job.operator_data / job.job_id
    claim = json.loads((operator_job / OPERATOR_CLAIM_FILE).read_text())
    assert claim["run_id"] == run_id
    assert not (operator_job / OPERATOR_MODEL_FILE).exists()
    assert np.load(operator_job / "operator_features.npy").shape == (1500, 4)


def test_superlink_refuses_a_task_claim_if_not_signed_with_the_secret(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: a peer reaching the SuperLink's port tries to take the bank's tasks
    with bank_flower(pki, tmp_path) as bank:
        client = RuntimeHttpClient.from_server_address(
            server_address=bank.address,
            insecure=False,
            root_certificates=pki.ca.cert.read_bytes(),
            interceptors=[RuntimeVersionHttpInterceptor(component_name="SuperExec")],
        )

        # Execute / Assert
        with pytest.raises(httpx.HTTPStatusError) as err:
            client.AcquireTask(
                AcquireTaskRequest(supported_task_types=[TaskType.SERVER_APP])
            )
        client.close()
    assert err.value.response.status_code in (401, 403)
