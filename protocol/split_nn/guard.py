"""Run one Flower process so that it ends with the node process that started it.

    python -m protocol.split_nn.guard --parent-pid <pid> -- <flower command ...>

The guard starts the command as its child in its own process group (the supervisor
starts the guard in a new session) and exits with the child's code. If the parent
(the bank's job runner, the operator's node) disappears, even by SIGKILL, the guard
stops the whole group: SIGTERM, a second SIGTERM after the grace period (uvicorn
waits for open connections), then SIGKILL. The guard itself ignores SIGTERM and
SIGINT (the supervisor's signals reach the child through the group) so it outlives
the child it reports on; a child killed by signal N is reported as 128 + N.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import threading
import time

GRACE_S = 5.0
POLL_S = 0.5


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_group(child: subprocess.Popen[bytes]) -> None:
    group = os.getpgrp()
    for signum in (signal.SIGTERM, signal.SIGTERM):
        try:
            os.killpg(group, signum)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=GRACE_S)
            return
        except subprocess.TimeoutExpired:
            continue
    os.killpg(group, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="protocol.split_nn.guard")
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run")
    # The child starts with default signal handling (ignored signals are inherited
    # across exec): it must stop on the supervisor's SIGTERM; the guard then waits.
    child = subprocess.Popen(command)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while child.poll() is None:
            if not _alive(args.parent_pid):
                _stop_group(child)
                return
            time.sleep(POLL_S)

    threading.Thread(target=watch, daemon=True).start()
    code = child.wait()
    return 128 - code if code < 0 else code  # killed by signal N: 128 + N, as a shell


if __name__ == "__main__":
    raise SystemExit(main())
