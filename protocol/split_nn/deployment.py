"""Start, watch and stop the Flower processes of split-NN training on each node.

Bank (:class:`BankFlower`): ``flower-superlink`` and the bank's executor.

    flower-superlink --ssl-certfile <bank>-superlink.pem --ssl-keyfile <...>.key
        --ssl-ca-certfile <ca> --enable-supernode-auth --isolation process
        --superexec-auth-secret-file <secret> --disable-runtime-dependency-installation
        --host <host> --port <port>
    python -m protocol.split_nn.executor --role server --runtime-api-address
        <host>:<port> --root-certificates <ca> --superexec-auth-secret-file <secret>
        --trusted-fab <sha256> --authorized-runs <file>

Operator (:class:`OperatorFlower`): ``flower-supernode`` and the operator's executor,
after checking that the SuperLink presents the configured bank identity.

    flower-supernode --superlink <host>:<port> --root-certificates <bank's CA>
        --auth-supernode-private-key <operator key, OpenSSH> --isolation process
        --superexec-auth-secret-file <secret> --host 127.0.0.1 --port <runtime port>
        --node-config <node.toml: data-dir, max-rounds> --max-wait-time <s>
    python -m protocol.split_nn.executor --role client --runtime-api-address
        127.0.0.1:<runtime port> --insecure --superexec-auth-secret-file <secret>
        --trusted-fab <sha256>

Flower 1.42 serves its Control, Fleet and Runtime APIs on the SuperLink's single
HTTPS port, and the Control API has no account authentication outside Flower's
enterprise edition: whoever reaches the port (the operator's SuperNode does) can
start runs and register nodes. Hence: the bank's executor runs only runs the bank
started (``--authorized-runs``) with the pinned FAB, task claims need the SuperExec
secret, the ServerApp only talks to the node id it registered, and the SuperLink
must listen only where the operator's SuperNode needs it. Telemetry and Flower's
update check are disabled in every process (they would call Flower's servers).

Stopping: a Flower process gets SIGTERM; uvicorn then waits for open connections,
so a second SIGTERM follows after a grace period, then SIGKILL. Every process runs
in its own process group so its children stop with it. The SuperLink and SuperNode
run under guard.py and the executors watch their parent, so all of them also stop
when the node process that started them dies, even by SIGKILL.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flwr.common.serde import fab_to_proto, user_config_to_proto
from flwr.proto.control_pb2 import (  # pylint: disable=E0611
    ListNodesRequest,
    ListRunsRequest,
    RegisterNodeRequest,
    StartRunRequest,
    StopRunRequest,
)
from flwr.supercore.control.control_http_client import ControlHttpClient
from flwr.supercore.fab import Fab
from flwr.supercore.interceptors import RuntimeVersionHttpInterceptor

from protocol.errors import FailedPrecondition, ProtocolError
from protocol.split_nn.fab import PINNED_FAB_SHA256, build_fab, fab_sha256
from protocol.split_nn.messages import SplitNnRun
from protocol.split_nn.pki import check_superlink, write_openssh_key
from protocol.split_nn.records import run_to_config
from protocol.split_nn.server_app import METRICS_FILE

BIN = Path(sys.executable).parent
STOP_GRACE_S = 5.0
WATCH_POLL_S = 0.5
FLOWER_ENV = {
    "FLWR_TELEMETRY_ENABLED": "0",
    "FLWR_DISABLE_UPDATE_CHECK": "1",
}


class FlowerProcessError(ProtocolError):
    code = "UNAVAILABLE"


class RunFailed(ProtocolError):
    code = "ABORTED"


class RunDeadlineExceeded(ProtocolError):
    code = "DEADLINE_EXCEEDED"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _write_secret(path: Path) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(32))
    return path


class ManagedProcess:
    """One supervised child process with its log file."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], log_path: Path
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text[-lines:])

    def _signal(self, signum: int) -> None:
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass

    def stop(self, grace_s: float = STOP_GRACE_S) -> int | None:
        """SIGTERM, SIGTERM again after ``grace_s``, then SIGKILL; returns the code."""
        if self.process is None:
            return None
        for signum in (signal.SIGTERM, signal.SIGTERM, signal.SIGKILL):
            if self.process.poll() is not None:
                break
            self._signal(signum)
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                continue
        # The group may hold children (task runners) after the leader exited.
        self._signal(signal.SIGKILL)
        return self.process.poll()


def _wait_until(
    ready: Callable[[], bool], process: ManagedProcess, timeout_s: float, what: str
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not process.running():
            raise FlowerProcessError(
                f"{process.name} exited while {what}: {process.tail()}"
            )
        if ready():
            return
        time.sleep(0.1)
    raise FlowerProcessError(
        f"{process.name} not ready after {timeout_s:.0f} s: {what}"
    )


def _tls_ready(host: str, port: int, ca: Path) -> bool:
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    try:
        with (
            socket.create_connection((host, port), timeout=1.0) as raw,
            context.wrap_socket(raw),
        ):
            return True
    except OSError:
        return False


def _tcp_ready(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _guarded() -> list[str]:
    """Prefix of a Flower command that stops it when this process dies (guard.py)."""
    return [
        sys.executable, "-m", "protocol.split_nn.guard",
        "--parent-pid", str(os.getpid()), "--",
    ]  # fmt: skip


def _env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return dict(os.environ, FLWR_HOME=str(home), **FLOWER_ENV)


@dataclass(frozen=True)
class RunStatus:
    status: str  # pending, starting, running, finished
    sub_status: str  # completed, failed, stopped, or "" while not finished
    details: str


@dataclass
class RunOutcome:
    run_id: int
    metrics: dict[str, Any]
    seconds: float
    rounds_seen: list[int] = field(default_factory=list)


class BankFlower:
    """The bank's SuperLink and executor; registers the operator and submits runs."""

    def __init__(
        self,
        work_dir: Path,
        cert: Path,
        key: Path,
        ca: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        trusted_fabs: tuple[str, ...] = (PINNED_FAB_SHA256,),
    ) -> None:
        self.work_dir = work_dir
        self.cert, self.key, self.ca = cert, key, ca
        self.host = host
        self.port = port or free_port(host)
        self.trusted_fabs = trusted_fabs
        self.authorized_runs = work_dir / "authorized_runs.json"
        self.superlink: ManagedProcess | None = None
        self.executor: ManagedProcess | None = None
        self._control: ControlHttpClient | None = None
        self._authorize = threading.Lock()  # submit() may run on several threads

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 60.0) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        secret = _write_secret(self.work_dir / "superexec.secret")
        self.authorized_runs.write_text("{}")
        env = _env(self.work_dir / "flwr-home")
        self.superlink = ManagedProcess(
            "flower-superlink",
            [
                *_guarded(),
                str(BIN / "flower-superlink"),
                "--ssl-certfile",
                str(self.cert),
                "--ssl-keyfile",
                str(self.key),
                "--ssl-ca-certfile",
                str(self.ca),
                "--enable-supernode-auth",
                "--isolation",
                "process",
                "--superexec-auth-secret-file",
                str(secret),
                "--disable-runtime-dependency-installation",
                "--host",
                self.host,
                "--port",
                str(self.port),
            ],  # fmt: skip
            env,
            self.work_dir / "superlink.log",
        )
        self.superlink.start()
        _wait_until(
            lambda: _tls_ready(self.host, self.port, self.ca),
            self.superlink,
            timeout_s,
            f"starting on {self.address}",
        )
        _ = self.control  # created once, before any caller thread uses it
        argv = [
            sys.executable, "-m", "protocol.split_nn.executor",
            "--role", "server",
            "--runtime-api-address", self.address,
            "--root-certificates", str(self.ca),
            "--superexec-auth-secret-file", str(secret),
            "--authorized-runs", str(self.authorized_runs),
            "--parent-pid", str(os.getpid()),
        ]  # fmt: skip
        for digest in self.trusted_fabs:
            argv += ["--trusted-fab", digest]
        self.executor = ManagedProcess(
            "bank executor", argv, env, self.work_dir / "executor.log"
        )
        self.executor.start()

    @property
    def control(self) -> ControlHttpClient:
        if self._control is None:
            self._control = ControlHttpClient.from_server_address(
                self.address,
                False,
                self.ca.read_bytes(),
                interceptors=[RuntimeVersionHttpInterceptor(component_name="flwr CLI")],
            )
        return self._control

    def register_supernode(self, public_key_pem: bytes, name: str) -> int:
        """Register the operator's public key; returns its node id (idempotent)."""
        wanted = public_key_pem.decode().strip()
        for node in self.control.ListNodes(ListNodesRequest()).nodes_info:
            if node.public_key.strip() == wanted:
                return int(node.node_id)
        reply = self.control.RegisterNode(
            RegisterNodeRequest(public_key=public_key_pem, name=name)
        )
        return int(reply.node_id)

    def submit(self, run: SplitNnRun) -> int:
        """Start a run of the pinned FAB (Flower's ``flwr run``) and authorize it."""
        fab = build_fab()
        digest = fab_sha256(fab)
        reply = self.control.StartRun(
            StartRunRequest(
                fab=fab_to_proto(Fab(digest, fab, {})),
                override_config=user_config_to_proto(run_to_config(run)),
                federation="",
            )
        )
        if not reply.HasField("run_id"):
            raise FailedPrecondition("the SuperLink did not start the run")
        run_id = int(reply.run_id)
        with self._authorize:
            runs = json.loads(self.authorized_runs.read_text())
            runs[str(run_id)] = digest
            tmp = self.authorized_runs.with_suffix(".tmp")
            tmp.write_text(json.dumps(runs))
            os.replace(tmp, self.authorized_runs)
        return run_id

    def status(self, run_id: int) -> RunStatus:
        runs = self.control.ListRuns(ListRunsRequest(run_id=run_id)).run_dict
        if run_id not in runs:
            raise FailedPrecondition(f"run {run_id} is unknown to the SuperLink")
        status = runs[run_id].status
        return RunStatus(status.status, status.sub_status, status.details)

    def stop_run(self, run_id: int) -> None:
        try:
            self.control.StopRun(StopRunRequest(run_id=run_id))
        except Exception:
            pass

    def wait(
        self,
        run_id: int,
        job_dir: Path,
        deadline_s: float,
        progress: Callable[[dict[str, Any]], None] = lambda _: None,
    ) -> RunOutcome:
        """Watch a run until it ends; report each round; stop it at the deadline."""
        started = time.monotonic()
        metrics_path = job_dir / METRICS_FILE
        shown = 0
        metrics: dict[str, Any] = {}
        while True:
            for process in (self.superlink, self.executor):
                if process is not None and not process.running():
                    raise FlowerProcessError(
                        f"{process.name} stopped during the run: {process.tail()}"
                    )
            if metrics_path.is_file():
                try:
                    metrics = json.loads(metrics_path.read_text())
                except json.JSONDecodeError:  # written atomically; retry next poll
                    metrics = {}
                for entry in metrics.get("rounds", [])[shown:]:
                    progress(entry)
                shown = max(shown, len(metrics.get("rounds", [])))
            state = self.status(run_id)
            if state.status == "finished":
                break
            if time.monotonic() - started > deadline_s:
                self.stop_run(run_id)
                raise RunDeadlineExceeded(
                    f"split-nn run {run_id} did not finish within {deadline_s:.0f} s"
                    " and was stopped"
                )
            time.sleep(WATCH_POLL_S)
        if state.sub_status != "completed" or metrics.get("status") != "succeeded":
            reason = metrics.get("error") or state.details or state.sub_status
            raise RunFailed(f"split-nn run {run_id} failed: {reason}")
        return RunOutcome(run_id, metrics, time.monotonic() - started)

    def stop(self) -> None:
        if self._control is not None:
            self._control.close()  # uvicorn waits for open connections to close
            self._control = None
        for process in (self.executor, self.superlink):
            if process is not None:
                process.stop()


class OperatorFlower:
    """The operator's SuperNode and executor, bound to one configured bank."""

    def __init__(
        self,
        work_dir: Path,
        superlink: tuple[str, int],
        bank_ca: Path,
        bank_identity: str,
        node_key: Path,
        data_dir: Path,
        *,
        trusted_fabs: tuple[str, ...] = (PINNED_FAB_SHA256,),
        max_rounds: int = 50,
        max_wait_s: float = 120.0,
    ) -> None:
        self.work_dir = work_dir
        self.superlink_host, self.superlink_port = superlink
        self.bank_ca = bank_ca
        self.bank_identity = bank_identity
        self.node_key = node_key
        self.data_dir = data_dir
        self.trusted_fabs = trusted_fabs
        self.max_rounds = max_rounds
        self.max_wait_s = max_wait_s
        self.runtime_port = free_port()
        self.supernode: ManagedProcess | None = None
        self.executor: ManagedProcess | None = None

    def _node_config(self) -> Path:
        path = self.work_dir / "node.toml"
        path.write_text(
            f"data-dir = {json.dumps(str(self.data_dir))}\n"
            f"max-rounds = {int(self.max_rounds)}\n"
        )
        return path

    def start(self, timeout_s: float = 60.0) -> None:
        # Refuse a SuperLink that is not the configured bank before dialing it.
        check_superlink(
            self.superlink_host, self.superlink_port, self.bank_ca, self.bank_identity
        )
        self.work_dir.mkdir(parents=True, exist_ok=True)
        secret = _write_secret(self.work_dir / "superexec.secret")
        ssh_key = write_openssh_key(self.node_key, self.work_dir / "supernode.key")
        env = _env(self.work_dir / "flwr-home")
        self.supernode = ManagedProcess(
            "flower-supernode",
            [
                *_guarded(),
                str(BIN / "flower-supernode"),
                "--superlink",
                f"{self.superlink_host}:{self.superlink_port}",
                "--root-certificates",
                str(self.bank_ca),
                "--auth-supernode-private-key",
                str(ssh_key),
                "--isolation",
                "process",
                "--superexec-auth-secret-file",
                str(secret),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.runtime_port),
                "--node-config",
                str(self._node_config()),
                "--max-wait-time",
                str(self.max_wait_s),
            ],  # fmt: skip
            env,
            self.work_dir / "supernode.log",
        )
        self.supernode.start()
        _wait_until(
            lambda: _tcp_ready("127.0.0.1", self.runtime_port),
            self.supernode,
            timeout_s,
            "starting its Runtime API",
        )
        argv = [
            sys.executable, "-m", "protocol.split_nn.executor",
            "--role", "client",
            "--runtime-api-address", f"127.0.0.1:{self.runtime_port}",
            "--insecure",  # loopback only: the SuperNode's local Runtime API
            "--superexec-auth-secret-file", str(secret),
            "--parent-pid", str(os.getpid()),
        ]  # fmt: skip
        for digest in self.trusted_fabs:
            argv += ["--trusted-fab", digest]
        self.executor = ManagedProcess(
            "operator executor", argv, env, self.work_dir / "executor.log"
        )
        self.executor.start()

    def check_running(self) -> None:
        """Raise with the log's last lines if the SuperNode or executor has exited."""
        for process in (self.supernode, self.executor):
            if process is not None and not process.running():
                raise FlowerProcessError(f"{process.name} exited: {process.tail()}")

    def stop(self) -> None:
        for process in (self.executor, self.supernode):
            if process is not None:
                process.stop()
