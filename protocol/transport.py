"""Mutually authenticated gRPC transport: server and client channel factories.

- Server: `require_client_auth=True`, every call admitted by CallAdmission (a worker
  pool that refuses rather than queues, per-counterpart call limits, idle-stream and
  call-length limits, health checks outside the shared pool; protocol/admission.py)
  and authenticated by PeerAuthInterceptor, configured max message size (gRPC answers
  RESOURCE_EXHAUSTED above it), gRPC health service, graceful stop (in-flight calls
  finish, new ones are refused).
- Client: verifies the server's certificate against the expected identity (not the
  dialled address), sends its own certificate, retries only the idempotent methods
  listed by each service (gRPC service config), every call carries a deadline sized to
  the call (`deadline_s` for control calls, `compute_deadline_s` for calls that make
  the peer compute, `stream_deadline_s` for bulk streams), and HTTP/2 keepalive pings
  notice a peer that stopped answering in about `KEEPALIVE_*` seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from protocol.admission import AdmissionLimits, CallAdmission
from protocol.auth import PeerAuthInterceptor, PeerDirectory
from protocol.version import PROTOCOLS


@dataclass(frozen=True)
class TlsMaterial:
    """PEM bytes of the CA bundle, this party's certificate chain and private key."""

    ca: bytes
    cert: bytes
    key: bytes

    @classmethod
    def from_files(cls, ca: Path, cert: Path, key: Path) -> TlsMaterial:
        return cls(ca.read_bytes(), cert.read_bytes(), key.read_bytes())


@dataclass(frozen=True)
class TransportLimits:
    """Per-node transport limits (validated by the node config)."""

    max_message_bytes: int = 16 << 20
    chunk_bytes: int = 1 << 20
    deadline_s: float = 30.0  # control calls (handshake, jobs, PSI open/finish)
    compute_deadline_s: float = 300.0  # unary calls the peer computes on (LR steps)
    stream_deadline_s: float = 3600.0  # bulk streams; also the server's call cap
    stream_idle_s: float = 60.0  # server: a stream waiting this long on the peer ends


# Client keepalive: ping a quiet connection every KEEPALIVE_TIME_S and give up on it
# (UNAVAILABLE for its calls) when a ping is not answered in KEEPALIVE_TIMEOUT_S: a
# peer that is stopped (SIGSTOP) or cut off is noticed in ~25 s, not at the deadline.
KEEPALIVE_TIME_S = 15
KEEPALIVE_TIMEOUT_S = 10


# Services and the methods of theirs that are safe to retry, as each protocol declares
# them (protocol/version.py lists the protocols), plus gRPC's health check. Everything
# else is never retried. Fixed when this module loads: every channel gets all of them.
IDEMPOTENT_METHODS: dict[str, tuple[str, ...]] = {
    **{p.service: p.idempotent for p in PROTOCOLS if p.idempotent},
    "grpc.health.v1.Health": ("Check",),
}


def _service_config() -> str:
    names = [
        {"service": service, "method": method}
        for service, methods in IDEMPOTENT_METHODS.items()
        for method in methods
    ]
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": names,
                    "retryPolicy": {
                        "maxAttempts": 4,
                        "initialBackoff": "0.2s",
                        "maxBackoff": "2s",
                        "backoffMultiplier": 2,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
    )


def _size_options(limits: TransportLimits) -> list[tuple[str, int]]:
    return [
        ("grpc.max_send_message_length", limits.max_message_bytes),
        ("grpc.max_receive_message_length", limits.max_message_bytes),
    ]


def _server_keepalive() -> list[tuple[str, int]]:
    """Accept the clients' keepalive pings (the default allows one per 5 minutes
    without data and answers more with GOAWAY), and ping clients ourselves so a dead
    one's calls end and free their workers."""
    return [
        ("grpc.http2.min_recv_ping_interval_without_data_ms", KEEPALIVE_TIME_S * 500),
        ("grpc.keepalive_time_ms", 4 * KEEPALIVE_TIME_S * 1000),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_S * 1000),
    ]


class NodeServer:
    """A started gRPC server with health reporting and graceful stop."""

    def __init__(
        self,
        server: grpc.Server,
        port: int,
        health_servicer: health.HealthServicer,
        admission: CallAdmission,
    ) -> None:
        self._server = server
        self.port = port
        self._health = health_servicer
        self.admission = admission

    def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        self._health.set("", status)

    def stop(self, grace_s: float) -> None:
        """Refuse new calls now; let in-flight calls run up to grace_s, then cancel."""
        self.set_serving(False)
        self._server.stop(grace_s).wait()
        self.admission.close()

    def wait(self, timeout: float | None = None) -> bool:
        return self._server.wait_for_termination(timeout)


def start_server(
    listen: str,
    tls: TlsMaterial,
    directory: PeerDirectory,
    registrations: Iterable[Callable[[grpc.Server], None]],
    limits: TransportLimits = TransportLimits(),
    max_workers: int = 16,
    max_calls: Callable[[str], int] | None = None,
) -> NodeServer:
    """Start a mutual-TLS server on `listen` (port 0 picks a free port).

    `max_calls(party_id)` is the number of calls a counterpart may have in progress
    at once (default: half the workers)."""
    credentials = grpc.ssl_server_credentials(
        [(tls.key, tls.cert)], root_certificates=tls.ca, require_client_auth=True
    )
    admission = CallAdmission(
        directory,
        AdmissionLimits(max_workers, limits.stream_idle_s, limits.stream_deadline_s),
        max_calls or (lambda _party: max(1, max_workers // 2)),
    )
    server = grpc.server(
        admission.pool,
        interceptors=[admission, PeerAuthInterceptor(directory)],
        options=_size_options(limits)
        + _server_keepalive()
        + [("grpc.so_reuseport", 0)],
    )
    for register in registrations:
        register(server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_secure_port(listen, credentials)
    if port == 0:
        raise OSError(f"could not listen on {listen}")
    server.start()
    node = NodeServer(server, port, health_servicer, admission)
    node.set_serving(True)
    return node


def connect(
    address: str,
    expected_identity: str,
    tls: TlsMaterial,
    limits: TransportLimits = TransportLimits(),
    extra_options: Mapping[str, int | str] | None = None,
) -> grpc.Channel:
    """Open a mutual-TLS channel to a counterpart whose certificate must name
    `expected_identity` (checked by the TLS layer, independent of the address)."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=tls.ca, private_key=tls.key, certificate_chain=tls.cert
    )
    options: list[tuple[str, int | str]] = list(_size_options(limits))
    options += [
        ("grpc.ssl_target_name_override", expected_identity),
        ("grpc.default_authority", expected_identity),
        ("grpc.enable_retries", 1),
        ("grpc.service_config", _service_config()),
        ("grpc.keepalive_time_ms", KEEPALIVE_TIME_S * 1000),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_S * 1000),
        # Keep pinging while a call waits on a silent peer (the default stops after
        # two pings without data, and a stopped peer would go unnoticed).
        ("grpc.http2.max_pings_without_data", 0),
    ]
    options += list((extra_options or {}).items())
    return grpc.secure_channel(address, credentials, options=options)


def health_check(channel: grpc.Channel, timeout_s: float) -> str:
    """Return the peer's overall health status name (e.g. 'SERVING')."""
    stub = health_pb2_grpc.HealthStub(channel)
    reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
