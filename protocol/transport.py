"""Mutually authenticated gRPC transport: server and client channel factories.

- Server: `require_client_auth=True`, every call authenticated by PeerAuthInterceptor,
  configured max message size (gRPC answers RESOURCE_EXHAUSTED above it), gRPC health
  service, graceful stop (in-flight calls finish, new ones are refused).
- Client: verifies the server's certificate against the expected identity (not the
  dialled address), sends its own certificate, retries only the idempotent methods
  listed by each service (gRPC service config), and every call carries a deadline
  (see protocol.client).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

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
    deadline_s: float = 30.0
    stream_deadline_s: float = 3600.0


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


class NodeServer:
    """A started gRPC server with health reporting and graceful stop."""

    def __init__(
        self, server: grpc.Server, port: int, health_servicer: health.HealthServicer
    ) -> None:
        self._server = server
        self.port = port
        self._health = health_servicer

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

    def wait(self, timeout: float | None = None) -> bool:
        return self._server.wait_for_termination(timeout)


def start_server(
    listen: str,
    tls: TlsMaterial,
    directory: PeerDirectory,
    registrations: Iterable[Callable[[grpc.Server], None]],
    limits: TransportLimits = TransportLimits(),
    max_workers: int = 16,
) -> NodeServer:
    """Start a mutual-TLS server on `listen` (port 0 picks a free port)."""
    credentials = grpc.ssl_server_credentials(
        [(tls.key, tls.cert)], root_certificates=tls.ca, require_client_auth=True
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="rpc"),
        interceptors=[PeerAuthInterceptor(directory)],
        options=_size_options(limits) + [("grpc.so_reuseport", 0)],
    )
    for register in registrations:
        register(server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_secure_port(listen, credentials)
    if port == 0:
        raise OSError(f"could not listen on {listen}")
    server.start()
    node = NodeServer(server, port, health_servicer)
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
        ("grpc.keepalive_time_ms", 30_000),
    ]
    options += list((extra_options or {}).items())
    return grpc.secure_channel(address, credentials, options=options)


def health_check(channel: grpc.Channel, timeout_s: float) -> str:
    """Return the peer's overall health status name (e.g. 'SERVING')."""
    stub = health_pb2_grpc.HealthStub(channel)
    reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
