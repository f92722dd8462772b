"""A Flower process under the guard ends with the node process that started it, even
when that process is killed outright; and it still stops on its supervisor's
SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SLEEPER = "import os, time; print(os.getpid(), flush=True); time.sleep(600)"
PARENT = """
import os, subprocess, sys, time
subprocess.Popen(
    [sys.executable, "-m", "protocol.split_nn.guard", "--parent-pid", str(os.getpid()),
     "--", sys.executable, "-c", {sleeper!r}],
    stdout=open({out!r}, "w"), start_new_session=True,
)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie awaiting its reaper counts as ended.
    stat = Path(f"/proc/{pid}/stat").read_text().split()
    return stat[2] != "Z"


def _child_pid(out: Path) -> int:
    deadline = time.monotonic() + 30
    while not out.read_text().strip() if out.exists() else True:
        assert time.monotonic() < deadline, "the guarded child did not start"
        time.sleep(0.1)
    return int(out.read_text().split()[0])


def test_guarded_process_stops_if_its_parent_is_killed(tmp_path: Path) -> None:
    # Prepare
    out = tmp_path / "child.pid"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT.format(sleeper=SLEEPER, out=str(out))]
    )
    child = _child_pid(out)
    # Execute
    parent.kill()
    parent.wait()
    # Assert
    deadline = time.monotonic() + 20
    while _alive(child):
        assert time.monotonic() < deadline, "the guarded child outlived its parent"
        time.sleep(0.2)


def test_guard_exits_with_its_child_if_the_group_gets_sigterm(tmp_path: Path) -> None:
    # Prepare
    out = tmp_path / "child.pid"
    guard = subprocess.Popen(
        [sys.executable, "-m", "protocol.split_nn.guard", "--parent-pid",
         str(os.getpid()), "--", sys.executable, "-c", SLEEPER],
        stdout=out.open("w"), start_new_session=True,
    )  # fmt: skip
    child = _child_pid(out)
    # Execute
    os.killpg(guard.pid, signal.SIGTERM)
    code = guard.wait(timeout=20)
    # Assert: the child died of SIGTERM and the guard reported it
    assert code == 128 + signal.SIGTERM
    assert not _alive(child)
