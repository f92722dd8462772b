"""Run one Flower task with the app pinned: our ServerApp or ClientApp, never the FAB's.

Replaces Flower's ``flwr-serverapp`` / ``flwr-clientapp`` (which install the run's
FAB and import whatever module it names). This runner pulls the task's input from the
local Runtime API, checks the FAB (its SHA-256 must equal the hash the run declares and
be one the node trusts; on the bank, the run must also be one the bank started), and
only then calls the app installed with this package. A refused client task answers the
bank with an error message (so the bank fails fast and clearly); a refused server
task finishes as failed.

Each task runs in its own process (Flower's process isolation: nothing but
``context.state`` survives between messages, and nothing of one job's task is left in
memory for the next). :mod:`protocol.split_nn.executor` forks these processes from a
fork server that has already imported torch, Flower and the app, which saves the
~3 s of imports (most of a round trip on a busy 2-core machine) without sharing
anything between tasks: the fork server itself never runs a task.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

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
            except Exception as err:
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
            except Exception as err:
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


@dataclass(frozen=True)
class RunnerConfig:
    """What a task process needs besides its token (plain values, passed on fork)."""

    role: str  # "client" (operator) or "server" (bank)
    runtime_api_address: str
    insecure: bool
    root_certificates: str | None
    trusted_fabs: tuple[str, ...]
    authorized_runs: str | None  # bank only
    executor_pid: int
    torch_threads: int = 1


def run_task(config: RunnerConfig, token: str) -> None:
    """Body of one task process (forked by the executor's fork server)."""
    start_parent_process_monitor(config.executor_pid)
    import torch

    # The models are small (widths in the tens): torch's intra-op threads only
    # contend with the other processes of the node (10-30x slower steps measured on
    # a busy 2-core machine with the default of one thread per core).
    torch.set_num_threads(config.torch_threads)
    certificates = validate_and_resolve_root_certificates(
        config.root_certificates, config.insecure
    )
    task = Task.claim(config.runtime_api_address, config.insecure, certificates, token)
    trusted = set(config.trusted_fabs)
    if config.role == "client":
        sys.exit(run_client_task(task, trusted))
    if config.authorized_runs is None:
        raise ValueError("the bank's runner needs the authorized-runs file")
    sys.exit(run_server_task(task, trusted, Path(config.authorized_runs)))
