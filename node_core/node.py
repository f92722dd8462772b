"""A node's runtime context and its long-running serve loop, shared by both roles.

`NodeContext` bundles what every command needs (validated config, TLS material, state
store, transport limits) and opens authenticated channels to counterparts. `serve()`
validates every declared data source (an unusable one stops it before it listens),
starts the mutual-TLS server with the common services plus the role's own, writes a
runtime file (pid, bound port) into the state dir, and on SIGTERM/SIGINT refuses new
calls while letting in-flight calls finish within the configured grace period.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from node_core.config import ConfigError, NodeConfig
from node_core.file_cache import FileCache
from node_core.ingest import Dataset, IngestionError, load_dataset
from node_core.store import SqliteStateStore
from node_core.trust import Anchors, load_anchors
from protocol.auth import PeerDirectory
from protocol.diagnostics.service import diagnostics_service
from protocol.domain import Peer
from protocol.errors import FailedPrecondition
from protocol.session.messages import Hello
from protocol.session.service import handshake, session_service
from protocol.transport import TlsMaterial, TransportLimits, connect, start_server
from protocol.version import local_hello

log = logging.getLogger(__name__)

Registration = Callable[[grpc.Server], None]


@dataclass(frozen=True)
class PeerLink:
    """A channel to a counterpart whose handshake is done: what both parties share."""

    counterpart: str
    channel: grpc.Channel
    hello: Hello  # the counterpart's reply, with the shared capabilities


@dataclass
class NodeContext:
    config: NodeConfig
    tls: TlsMaterial  # the server's: trusts every counterpart's pinned CA
    store: SqliteStateStore
    limits: TransportLimits
    anchors: Anchors  # per counterpart: the only CA trusted for it
    # Set when serve() has stopped: background timers of role services end with it.
    stopped: threading.Event = field(default_factory=threading.Event)
    _datasets: FileCache[Dataset] = field(default_factory=FileCache, repr=False)
    # Run by serve() after the server stopped (e.g. the job desk ends its jobs).
    on_stop: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @classmethod
    def open(cls, config: NodeConfig) -> NodeContext:
        for key in ("cert", "key"):
            path = getattr(config.tls, key)
            if not path.is_file():
                raise ConfigError(f"{config.source}: tls.{key}: no file at {path}")
        key_mode = config.tls.key.stat().st_mode & 0o077
        if key_mode:
            log.warning(
                "private key is readable by other users; chmod 600 it",
                extra={"file": str(config.tls.key)},
            )
        anchors = load_anchors(config)
        tls = TlsMaterial(
            anchors.server_bundle(),
            config.tls.cert.read_bytes(),
            config.tls.key.read_bytes(),
        )
        store = SqliteStateStore(config.state_dir, config.party_id)
        return cls(config, tls, store, config.transport.limits(), anchors)

    @property
    def party_id(self) -> str:
        return self.config.party_id

    def dataset(self, name: str) -> Dataset:
        """A declared data source, validated and loaded once per process, and again
        whenever its file changes (size or modification time)."""
        source = self.config.data_source(name)

        def load() -> Dataset:
            dataset = load_dataset(name, source)
            report = dataset.report
            self.store.append_audit(
                "data.loaded",
                subject=name,
                detail=report.counts(),
            )
            log.info(
                "data source loaded",
                extra={
                    "source": name,
                    "rows_accepted": report.rows_accepted,
                    "rows_rejected": report.rows_rejected,
                },
            )
            return dataset

        return self._datasets.get(name, source.path, load)

    def served_dataset(self, name: str) -> Dataset:
        """`dataset` for a counterpart's call: a source that fails validation (its
        file changed since serve checked it) is refused with FAILED_PRECONDITION
        naming the source; the problem itself goes to this node's log only."""
        try:
            return self.dataset(name)
        except IngestionError as exc:
            log.error("data source unusable", extra={"source": name, "error": str(exc)})
            raise FailedPrecondition(
                f"{self.party_id}'s data source {name!r} fails validation; its"
                " operator has the details in the node's log"
            ) from None

    def check_data(self) -> None:
        """Load and validate every declared data source (IngestionError names the
        first unusable one): a node never serves data it cannot use."""
        for name in sorted(self.config.data):
            self.dataset(name)

    def directory(self) -> PeerDirectory:
        return PeerDirectory(self.anchors.trust, self.config.party_id)

    def hello(self) -> Hello:
        return local_hello(self.config.party_id)

    def channel(self, counterpart: str) -> grpc.Channel:
        cp = self.config.counterpart(counterpart)
        if cp.address is None:
            raise ValueError(
                f"{self.config.source}: counterparts: {counterpart!r} has no address"
            )
        # Trust only this counterpart's CA: another counterpart's CA cannot stand in.
        tls = TlsMaterial(self.anchors.pem[cp.party_id], self.tls.cert, self.tls.key)
        return connect(cp.address, cp.identity, tls, self.limits)

    def handshake(self, channel: grpc.Channel, counterpart: str) -> Hello:
        reply = handshake(channel, self.hello(), counterpart, self.limits.deadline_s)
        self.store.append_audit(
            "session.hello.sent",
            counterpart=counterpart,
            detail={"shared_capabilities": list(reply.shared_capabilities)},
        )
        return reply

    @contextmanager
    def link(
        self,
        counterpart: str,
        require: Iterable[str] = (),
        channel: grpc.Channel | None = None,
    ) -> Iterator[PeerLink]:
        """Handshake once on `channel` (or a new channel, closed on exit) and check
        that the counterpart speaks every capability in `require`."""
        own = channel is None
        channel = channel or self.channel(counterpart)
        try:
            hello = self.handshake(channel, counterpart)
            missing = [c for c in require if c not in hello.shared_capabilities]
            if missing:
                raise FailedPrecondition(
                    f"{counterpart} does not speak {', '.join(missing)}"
                )
            yield PeerLink(counterpart, channel, hello)
        finally:
            if own:
                channel.close()

    def max_transfer_bytes(self, peer: Peer) -> int:
        cp = self.config.counterpart(peer.party_id)
        return int(cp.limits.max_transfer_mb * (1 << 20))

    def common_services(self, directory: PeerDirectory) -> list[Registration]:
        def on_hello(peer: Peer, reply: Hello) -> None:
            self.store.append_audit(
                "session.hello.received",
                counterpart=peer.party_id,
                detail={"shared_capabilities": list(reply.shared_capabilities)},
            )

        return [
            session_service(directory, self.hello(), on_hello),
            diagnostics_service(
                directory, self.max_transfer_bytes, self.limits.chunk_bytes
            ),
        ]


def runtime_file(state_dir: Path) -> Path:
    return state_dir / "node.json"


def _check_free(cfg: NodeConfig) -> None:
    """Fail with one clear line (before gRPC logs its own) if the port is taken."""
    host, port = cfg.listen.rsplit(":", 1)
    if int(port) == 0:
        return
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), int(port)))
        except OSError as exc:
            raise ConfigError(
                f"{cfg.source}: listen: cannot listen on {cfg.listen}: {exc.strerror}"
            ) from None


def serve(
    ctx: NodeContext,
    role_services: Callable[[NodeContext, PeerDirectory], Iterable[Registration]],
    ready: threading.Event | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT (or `stop` is set); returns the exit status."""
    cfg = ctx.config
    directory = ctx.directory()
    _check_free(cfg)
    ctx.check_data()
    try:
        server = start_server(
            cfg.listen,
            ctx.tls,
            directory,
            [*ctx.common_services(directory), *role_services(ctx, directory)],
            ctx.limits,
            cfg.transport.max_workers,
            lambda party: cfg.counterpart(party).limits.max_concurrent_calls,
        )
    except (OSError, RuntimeError) as exc:
        raise ConfigError(
            f"{cfg.source}: listen: cannot serve on {cfg.listen}"
            f" (address in use or not local): {exc}"
        ) from None
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    host = cfg.listen.rsplit(":", 1)[0]
    runtime = {
        "party_id": cfg.party_id,
        "pid": os.getpid(),
        "address": f"{host}:{server.port}",
        "port": server.port,
        "started_at": time.time(),
    }
    path = runtime_file(cfg.state_dir)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(runtime))
    partial.replace(path)  # whoever waits for the file never reads half of it
    ctx.store.append_audit("node.started", detail={"port": server.port})
    log.info(
        "serving",
        extra={"port": server.port, "counterparts": len(cfg.counterparts)},
    )
    if ready is not None:
        ready.set()
    stop.wait()
    log.info("stopping: refusing new calls, finishing in-flight calls")
    server.stop(cfg.transport.shutdown_grace_s)
    ctx.stopped.set()
    for hook in ctx.on_stop:
        hook()
    ctx.store.append_audit("node.stopped")
    path.unlink(missing_ok=True)
    log.info("stopped")
    return 0
