"""Flower task executor of one node: claims its tasks and runs each in a pinned runner.

Replaces ``flower-superexec``. The node's SuperLink or SuperNode runs with
``--isolation process``, so it executes nothing itself; this process claims tasks of
its one type from the node's local Runtime API (``AcquireTask``, signed with the
node's SuperExec secret, so no other process, and in particular no peer reaching
the bank's SuperLink port, can claim them) and hands each to a fresh
:mod:`protocol.split_nn.runner` process: ``--warm`` runners are always started
ahead, warm, waiting for a token on their stdin. SIGTERM stops claiming, terminates
running tasks and exits.

    python -m protocol.split_nn.executor --role client|server
        --runtime-api-address A --superexec-auth-secret-file F --trusted-fab SHA256
        [--authorized-runs FILE] [--root-certificates CA | --insecure]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from flwr.proto.runtime_pb2 import AcquireTaskRequest  # pylint: disable=E0611
from flwr.supercore.app_utils import start_parent_process_monitor
from flwr.supercore.constant import TaskType
from flwr.supercore.interceptors import (
    RuntimeVersionHttpInterceptor,
    SuperExecAuthHttpInterceptor,
)
from flwr.supercore.retry import make_simple_http_retry_invoker
from flwr.supercore.runtime import RuntimeHttpClient
from flwr.supercore.tls import validate_and_resolve_root_certificates

POLL_S = 0.25
TASK_TYPES = {"client": TaskType.CLIENT_APP, "server": TaskType.SERVER_APP}
ACQUIRE_TASK = "/flwr.proto.Runtime/AcquireTask"


class Executor:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        secret = Path(args.superexec_auth_secret_file).read_bytes()
        if not secret:
            raise SystemExit(f"{args.superexec_auth_secret_file}: empty secret")
        self.client = RuntimeHttpClient.from_server_address(
            server_address=args.runtime_api_address,
            insecure=args.insecure,
            root_certificates=validate_and_resolve_root_certificates(
                args.root_certificates, args.insecure
            ),
            interceptors=[
                RuntimeVersionHttpInterceptor(component_name="SuperExec"),
                SuperExecAuthHttpInterceptor(
                    master_secret=secret, protected_methods={ACQUIRE_TASK}
                ),
            ],
            retry_invoker=make_simple_http_retry_invoker(),
        )
        self.children: list[subprocess.Popen[bytes]] = []
        self.warm: list[subprocess.Popen[bytes]] = []
        self.stopping = False

    def _runner_argv(self) -> list[str]:
        args = self.args
        argv = [
            sys.executable,
            "-m",
            "protocol.split_nn.runner",
            "--role",
            args.role,
            "--runtime-api-address",
            args.runtime_api_address,
            "--parent-pid",
            str(os.getpid()),
        ]
        for digest in args.trusted_fab:
            argv += ["--trusted-fab", digest]
        if args.insecure:
            argv.append("--insecure")
        elif args.root_certificates:
            argv += ["--root-certificates", args.root_certificates]
        if args.authorized_runs:
            argv += ["--authorized-runs", args.authorized_runs]
        return argv

    def _spawn_warm(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self._runner_argv(), stdin=subprocess.PIPE)

    def _refill(self) -> None:
        self.warm = [c for c in self.warm if c.poll() is None]
        while len(self.warm) < self.args.warm:
            self.warm.append(self._spawn_warm())

    def launch(self, token: str, task_id: int) -> None:
        self.warm = [c for c in self.warm if c.poll() is None]
        # The oldest warm runner is the most likely to have finished warming up.
        child = self.warm.pop(0) if self.warm else self._spawn_warm()
        assert child.stdin is not None
        child.stdin.write(token.encode() + b"\n")
        child.stdin.close()
        print(
            f"[executor] {time.time():.3f} task {task_id}: runner pid {child.pid}",
            file=sys.stderr,
            flush=True,
        )
        self.children.append(child)
        self._refill()

    def stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def loop(self) -> None:
        request = AcquireTaskRequest(supported_task_types=[TASK_TYPES[self.args.role]])
        self._refill()
        while not self.stopping:
            self.children = [c for c in self.children if c.poll() is None]
            try:
                res = self.client.AcquireTask(request)
            except Exception as err:  # noqa: BLE001 - the node may be restarting
                print(f"[executor] AcquireTask failed: {err}", file=sys.stderr)
                time.sleep(1.0)
                continue
            if res.HasField("task") and res.token:
                self.launch(res.token, res.task.task_id)
                continue
            time.sleep(POLL_S)
        for child in self.warm:
            if child.stdin is not None:
                child.stdin.close()  # end of input: a warm runner exits
            self.children.append(child)
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
        self.client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=tuple(TASK_TYPES), required=True)
    parser.add_argument("--runtime-api-address", required=True)
    parser.add_argument("--superexec-auth-secret-file", required=True)
    parser.add_argument("--trusted-fab", action="append", required=True)
    parser.add_argument("--authorized-runs")
    parser.add_argument("--root-certificates")
    parser.add_argument("--insecure", action="store_true")
    parser.add_argument("--parent-pid", type=int)
    parser.add_argument(
        "--warm", type=int, default=1, help="runners kept started ahead (>= 1)"
    )
    args = parser.parse_args(argv)
    if args.warm < 1:
        parser.error("--warm must be at least 1")
    if args.parent_pid:
        start_parent_process_monitor(args.parent_pid)
    executor = Executor(args)
    signal.signal(signal.SIGTERM, executor.stop)
    signal.signal(signal.SIGINT, executor.stop)
    executor.loop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
