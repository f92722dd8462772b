"""Run one Flower task with the app pinned: our ServerApp or ClientApp, never the FAB's.

Replaces Flower's ``flwr-serverapp`` / ``flwr-clientapp`` (which install the run's
FAB and import whatever module it names). This runner pulls the task's input from the
local Runtime API, checks the FAB (its SHA-256 must equal the hash the run declares and
be one the node trusts; on the bank, the run must also be one the bank started), and
only then calls the app installed with this package. A refused client task answers the
bank with an error message (so the bank fails fast and clearly); a refused server
task finishes as failed.

Started by :mod:`protocol.split_nn.executor`, one process per task (Flower's process
isolation: nothing but ``context.state`` survives between messages). The executor
starts the next runner ahead of time: it imports the app and warms torch up (about
5 s of a 2-core machine, most of a round trip otherwise), then waits for its task's
token on stdin (never on the command line, where other local users could read it).

    python -m protocol.split_nn.runner --role client|server --runtime-api-address A
        --trusted-fab SHA256 [--authorized-runs FILE] [--root-certificates CA]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from flwr.app import Error, Message
from flwr.common.config import get_fused_config_from_fab
from flwr.common.constant import ErrorCode, SubStatus
from flwr.common.serde import context_from_proto, fab_from_proto, run_from_proto
from flwr.proto.runtime_pb2 import (  # pylint: disable=E0611
    PullTaskInputRequest,
    PushTaskOutputRequest,
)
from flwr.supercore.app_utils import start_parent_process_monitor
from flwr.supercore.fab import Fab
from flwr.supercore.heartbeat import HeartbeatSender, make_task_heartbeat_fn_http
from flwr.supercore.interceptors import (
    RuntimeTokenHttpInterceptor,
    RuntimeVersionHttpInterceptor,
)
from flwr.supercore.retry import make_simple_http_retry_invoker
from flwr.supercore.run import Run
from flwr.supercore.runtime import RuntimeHttpClient
from flwr.supercore.task_identity import TaskIdentity
from flwr.supercore.tls import validate_and_resolve_root_certificates

# The bank writes a started run's id into the authorized-runs file right after
# StartRun returns; its executor may pick the task up a moment before that.
AUTHORIZATION_WAIT_S = 10.0


def fab_refusal(fab: Fab, trusted: set[str]) -> str | None:
    """Why the run's FAB is not acceptable, or None."""
    digest = hashlib.sha256(fab.content).hexdigest()
    if digest != fab.hash_str:
        return f"the run's FAB does not match its declared hash {fab.hash_str[:12]}"
    if digest not in trusted:
        return f"app not trusted: FAB sha256 {digest} is not pinned by this node"
    return None


def read_authorized_runs(path: Path) -> dict[int, str]:
    if not path.is_file():
        return {}
    return {int(k): str(v) for k, v in json.loads(path.read_text()).items()}


def run_refusal(run: Run, authorized: Path, wait_s: float) -> str | None:
    """The bank runs only runs it started (peers can reach its Control API)."""
    deadline = time.monotonic() + wait_s
    while True:
        expected = read_authorized_runs(authorized).get(run.run_id)
        if expected is not None:
            if expected != run.fab_hash:
                return f"run {run.run_id} was started with another app"
            return None
        if time.monotonic() > deadline:
            return f"run {run.run_id} was not started by this node"
        time.sleep(0.2)


def _client(
    address: str, insecure: bool, certificates: bytes | None, token: str
) -> RuntimeHttpClient:
    return RuntimeHttpClient.from_server_address(
        server_address=address,
        insecure=insecure,
        root_certificates=certificates,
        interceptors=[
            RuntimeVersionHttpInterceptor(component_name="flwr-clientapp"),
            RuntimeTokenHttpInterceptor(token),
        ],
        retry_invoker=make_simple_http_retry_invoker(),
    )


@dataclass
class Task:
    """A claimed task: its Runtime API client, already sending heartbeats."""

    address: str
    insecure: bool
    certificates: bytes | None
    token: str
    client: RuntimeHttpClient
    heartbeat: HeartbeatSender

    @classmethod
    def claim(
        cls, address: str, insecure: bool, certificates: bytes | None, token: str
    ) -> Task:
        client = _client(address, insecure, certificates, token)
        heartbeat = HeartbeatSender(make_task_heartbeat_fn_http(client))
        heartbeat.start()
        return cls(address, insecure, certificates, token, client, heartbeat)

    def close(self) -> None:
        self.heartbeat.stop()
        self.client.close()


def run_client_task(task: Task, trusted: set[str]) -> int:
    # Flower's own helpers for the Runtime API round trip (version-pinned).
    from flwr.supernode.runtime.run_clientapp import (
        pull_task_input,
        push_message,
        push_task_output,
    )

    client = task.client
    status, details, code = SubStatus.FAILED, "", 1
    marks = [time.monotonic()]
    try:
        message, context, _run, fab = pull_task_input(client)
        marks.append(time.monotonic())
        refusal = fab_refusal(fab, trusted)
        if refusal is not None:
            reply = Message(Error(ErrorCode.INVALID_FAB, refusal), reply_to=message)
            details = refusal
        else:
            from protocol.split_nn.client_app import app

            try:
                reply = app(message=message, context=context)
                status, details, code = SubStatus.COMPLETED, "", 0
            except Exception as err:  # noqa: BLE001 - reported to the bank
                details = f"{type(err).__name__}: {err}"
                reply = Message(
                    Error(ErrorCode.CLIENT_APP_RAISED_EXCEPTION, details),
                    reply_to=message,
                )
        marks.append(time.monotonic())
        push_message(client, reply, context)
        push_task_output(client, context, status, details)
        marks.append(time.monotonic())
        steps = ", ".join(
            f"{name} {b - a:.2f} s"
            for name, a, b in zip(
                ("pull", "app", "push"), marks, marks[1:], strict=False
            )
        )
        print(
            f"[runner] {time.time():.3f} client task {status} ({steps}) {details}",
            file=sys.stderr,
            flush=True,
        )
        return code
    finally:
        task.close()


def run_server_task(task: Task, trusted: set[str], authorized: Path) -> int:
    from flwr.superlink.grid import HttpGrid

    client = task.client
    status, details, code = SubStatus.FAILED, "", 1
    context = None
    try:
        res = client.PullTaskInput(PullTaskInputRequest())
        TaskIdentity.task_id = res.task_id
        TaskIdentity.run_id = res.run.run_id
        TaskIdentity.node_id = res.context.node_id
        context = context_from_proto(res.context)
        run = run_from_proto(res.run)
        fab = fab_from_proto(res.fab)
        refusal = fab_refusal(fab, trusted) or run_refusal(
            run, authorized, AUTHORIZATION_WAIT_S
        )
        if refusal is not None:
            details = refusal
        else:
            from protocol.split_nn.server_app import run_bank

            context.run_config = get_fused_config_from_fab(fab.content, run)
            grid = HttpGrid(
                runtime_api_address=task.address,
                insecure=task.insecure,
                root_certificates=task.certificates,
                token=task.token,
            )
            grid.set_run(run)
            try:
                run_bank(grid, context)
                status, details, code = SubStatus.COMPLETED, "", 0
            except Exception as err:  # noqa: BLE001 - recorded as the run's outcome
                details = f"{type(err).__name__}: {err}"
            finally:
                grid.close()
        print(f"[runner] server task {status} {details}", file=sys.stderr, flush=True)
        return code
    finally:
        try:
            client.PushTaskOutput(
                PushTaskOutputRequest(sub_status=status, details=details[:1000])
            )
        finally:
            task.close()


def warm_up(role: str) -> None:
    """Import the role's app and run one tiny torch step (its lazy imports are slow)."""
    import numpy as np
    import torch

    from models.split_nn import OperatorBottom, SplitNnSpec, TrainHyper

    if role == "client":
        from protocol.split_nn import client_app  # noqa: F401
    else:
        from protocol.split_nn import server_app  # noqa: F401
    bottom = OperatorBottom(
        SplitNnSpec(bank_features=1, operator_features=1), TrainHyper(), seed=0
    )
    features = torch.zeros((2, 1))
    bottom.apply_gradients(features, np.zeros((2, 8), np.float32), np.arange(2), 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=("client", "server"), required=True)
    parser.add_argument("--runtime-api-address", required=True)
    parser.add_argument("--root-certificates")
    parser.add_argument("--insecure", action="store_true")
    parser.add_argument("--trusted-fab", action="append", required=True)
    parser.add_argument("--authorized-runs")
    parser.add_argument("--parent-pid", type=int)
    args = parser.parse_args(argv)
    if args.role == "server" and not args.authorized_runs:
        parser.error("--authorized-runs is required for --role server")
    if args.parent_pid:
        start_parent_process_monitor(args.parent_pid)
    # Warm up while waiting for a task; once a token arrives, heartbeats start at
    # once (a claimed task without heartbeats is taken back by the node).
    warm = threading.Thread(target=warm_up, args=(args.role,), daemon=True)
    warm.start()
    token = sys.stdin.readline().strip()
    if not token:  # the executor is stopping: nothing to run
        return 0
    received = time.time()
    certificates = validate_and_resolve_root_certificates(
        args.root_certificates, args.insecure
    )
    task = Task.claim(args.runtime_api_address, args.insecure, certificates, token)
    warm.join()
    print(
        f"[runner] {time.time():.3f} task token received"
        f" {received - psutil.Process().create_time():.2f} s after start,"
        f" warm {time.time() - received:.2f} s later",
        file=sys.stderr,
        flush=True,
    )
    trusted = set(args.trusted_fab)
    if args.role == "client":
        return run_client_task(task, trusted)
    assert args.authorized_runs is not None
    return run_server_task(task, trusted, Path(args.authorized_runs))


if __name__ == "__main__":
    sys.exit(main())
