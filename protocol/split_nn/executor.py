"""Flower task executor of one node: claims its tasks and runs each in a pinned runner.

Replaces ``flower-superexec``. The node's SuperLink or SuperNode runs with
``--isolation process``, so it executes nothing itself; this process claims tasks of
its one type from the node's local Runtime API (``AcquireTask``, signed with the
node's SuperExec secret, so no other process, and in particular no peer reaching
the bank's SuperLink port, can claim them) and runs each in a fresh process forked
from a fork server that has already imported torch, Flower and the role's app (the
fork server never runs a task itself). SIGTERM stops claiming, terminates running
tasks and exits.

    python -m protocol.split_nn.executor --role client|server
        --runtime-api-address A --superexec-auth-secret-file F --trusted-fab SHA256
        [--authorized-runs FILE] [--root-certificates CA | --insecure]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sys
import time
from multiprocessing import forkserver
from multiprocessing.process import BaseProcess
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

from protocol.split_nn.runner import RunnerConfig, run_task

POLL_S = 0.25
TASK_TYPES = {"client": TaskType.CLIENT_APP, "server": TaskType.SERVER_APP}
ACQUIRE_TASK = "/flwr.proto.Runtime/AcquireTask"
# Modules the fork server imports once, so that no task process pays for them.
PRELOAD = {
    "client": [
        "torch",
        "protocol.split_nn.runner",
        "protocol.split_nn.client_app",
        "flwr.supernode.runtime.run_clientapp",
    ],
    "server": [
        "torch",
        "protocol.split_nn.runner",
        "protocol.split_nn.server_app",
        "flwr.superlink.grid",
    ],
}


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
        self.config = RunnerConfig(
            role=args.role,
            runtime_api_address=args.runtime_api_address,
            insecure=args.insecure,
            root_certificates=args.root_certificates,
            trusted_fabs=tuple(args.trusted_fab),
            authorized_runs=args.authorized_runs,
            executor_pid=os.getpid(),
            torch_threads=args.torch_threads,
        )
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(PRELOAD[args.role])
        forkserver.ensure_running()
        self.children: list[BaseProcess] = []
        self.stopping = False

    def launch(self, token: str, task_id: int) -> None:
        child = self.context.Process(target=run_task, args=(self.config, token))
        child.start()
        print(
            f"[executor] {time.time():.3f} task {task_id}: process {child.pid}",
            file=sys.stderr,
            flush=True,
        )
        self.children.append(child)

    def stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def loop(self) -> None:
        request = AcquireTaskRequest(supported_task_types=[TASK_TYPES[self.args.role]])
        while not self.stopping:
            self.children = [c for c in self.children if c.is_alive()]
            try:
                res = self.client.AcquireTask(request)
            except Exception as err:
                print(f"[executor] AcquireTask failed: {err}", file=sys.stderr)
                time.sleep(1.0)
                continue
            if res.HasField("task") and res.token:
                self.launch(res.token, res.task.task_id)
                continue
            time.sleep(POLL_S)
        for child in self.children:
            if child.is_alive():
                child.terminate()
        for child in self.children:
            child.join(timeout=5)
            if child.is_alive():
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
    parser.add_argument("--torch-threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.torch_threads < 1:
        parser.error("--torch-threads must be at least 1")
    if args.role == "server" and not args.authorized_runs:
        parser.error("--authorized-runs is required for --role server")
    if args.parent_pid:
        start_parent_process_monitor(args.parent_pid)
    executor = Executor(args)
    signal.signal(signal.SIGTERM, executor.stop)
    signal.signal(signal.SIGINT, executor.stop)
    executor.loop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
