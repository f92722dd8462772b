"""Process supervision and the ServerApp's sending rules, without Flower processes."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
from flwr.app import Message
from flwr.supercore.task_identity import TaskIdentity

from protocol.split_nn.deployment import FLOWER_ENV, ManagedProcess, _env
from protocol.split_nn.messages import PHASE_INIT, EmbeddingReply, EmbeddingRequest
from protocol.split_nn.records import reply_to_record
from protocol.split_nn.server_app import DeadlineExceeded, GridSend

# A child that survives the first SIGTERM (as uvicorn does while connections are open)
# and exits on the second.
STUBBORN = """
import signal, sys, time
seen = []
def on_term(*_):
    seen.append(1)
    if len(seen) >= 2:
        sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


def test_managed_process_stops_with_a_second_signal_if_first_is_ignored(
    tmp_path: Path,
) -> None:
    # Prepare
    process = ManagedProcess(
        "stubborn", [sys.executable, "-c", STUBBORN], {}, tmp_path / "log"
    )
    process.start()
    deadline = time.monotonic() + 20
    while "ready" not in (tmp_path / "log").read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)

    # Execute
    code = process.stop(grace_s=1.0)

    # Assert: exited by itself on the second SIGTERM, not killed
    assert code == 0
    assert not process.running()


def test_flower_processes_run_without_telemetry_or_update_check(tmp_path: Path) -> None:
    # Execute
    env = _env(tmp_path / "home")

    # Assert
    assert FLOWER_ENV == {
        "FLWR_TELEMETRY_ENABLED": "0",
        "FLWR_DISABLE_UPDATE_CHECK": "1",
    }
    assert all(env[k] == v for k, v in FLOWER_ENV.items())
    assert env["FLWR_HOME"] == str(tmp_path / "home")


@pytest.fixture(autouse=True)
def task_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flower's Message reads the task's identity, set by the runner in production."""
    monkeypatch.setattr(TaskIdentity, "_run_id", 1)
    monkeypatch.setattr(TaskIdentity, "_node_id", 0)
    monkeypatch.setattr(TaskIdentity, "_task_id", 2)


class FakeGrid:
    """Records what the ServerApp pushes; answers or stays silent."""

    def __init__(self, nodes: list[int], answer: bool) -> None:
        self.nodes = nodes
        self.answer = answer
        self.pushed: list[Message] = []

    def get_node_ids(self) -> Iterable[int]:
        return self.nodes

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        self.pushed.extend(messages)
        return ["m1"]

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        if not self.answer:
            return []
        reply = EmbeddingReply(
            0, np.zeros((2, 1), np.float32), np.zeros((1, 1), np.float32)
        )
        return [Message(reply_to_record(reply), reply_to=self.pushed[-1])]


def _request() -> EmbeddingRequest:
    return EmbeddingRequest(
        0,
        PHASE_INIT,
        train_positions=np.arange(2),
        validation_positions=np.arange(2, 3),
    )


def test_server_app_sends_only_to_the_registered_node_if_others_are_online() -> None:
    # Prepare
    grid = FakeGrid(nodes=[5, 9], answer=True)

    # Execute
    reply = GridSend(grid, node_id=9, timeout_s=5.0)(_request())  # type: ignore[arg-type]

    # Assert
    assert [m.metadata.dst_node_id for m in grid.pushed] == [9]
    assert reply.train.shape == (2, 1)


def test_server_app_fails_within_the_round_deadline_if_operator_is_silent() -> None:
    # Prepare
    grid = FakeGrid(nodes=[9], answer=False)
    started = time.monotonic()

    # Execute / Assert
    with pytest.raises(DeadlineExceeded, match="did not answer round 0 within 1 s"):
        GridSend(grid, node_id=9, timeout_s=1.0)(_request())  # type: ignore[arg-type]
    assert time.monotonic() - started < 3.0


def test_server_app_fails_if_the_registered_node_is_not_online() -> None:
    # Prepare
    grid = FakeGrid(nodes=[5], answer=True)

    # Execute / Assert
    with pytest.raises(DeadlineExceeded, match="SuperNode \\(node 9\\) is not online"):
        GridSend(grid, node_id=9, timeout_s=1.0)(_request())  # type: ignore[arg-type]
    assert grid.pushed == []
