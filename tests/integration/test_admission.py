"""Call admission on a real mutual-TLS server (port 0): stalled uploads of one
counterpart never lock out another counterpart or the health check, a full pool
refuses instead of queueing, and idle streams are cancelled and free their workers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path

import pytest

from protocol.diagnostics import service as diagnostics
from protocol.errors import PeerCallError
from protocol.proto.duet.v1 import diagnostics_pb2, diagnostics_pb2_grpc
from protocol.session.service import handshake
from protocol.transport import TlsMaterial, TransportLimits, connect, health_check
from protocol.version import local_hello
from tests.nodes import Pki, RunningNode, running_node, write_config

LIMITS = TransportLimits(deadline_s=10)
CHUNK = b"x" * 1024
IDLE_S = 4.0


def _tls(pki: Pki, party: str) -> TlsMaterial:
    cert = pki.certs[party]
    return TlsMaterial.from_files(pki.ca.cert, cert.cert, cert.key)


@pytest.fixture
def operator(pki: Pki, tmp_path: Path) -> Iterator[RunningNode]:
    config = write_config(
        tmp_path / "operator.toml",
        pki,
        "operator",
        "operator",
        [
            {"party_id": p, "identity": p, "limits": {"max_concurrent_calls": 3}}
            for p in ("bank-a", "bank-b")
        ],
        transport={"max_workers": 5, "stream_idle_s": IDLE_S},
    )
    with running_node(config) as node:
        yield node


class Stalled:
    """Uploads that send a header and one chunk, then nothing until released; with
    `trickle`, a chunk every second meanwhile, so that they hold their worker without
    ever being idle (a loaded machine may take longer than `IDLE_S` to refuse)."""

    def __init__(
        self, pki: Pki, node: RunningNode, party: str, trickle: bool = False
    ) -> None:
        self.channel = connect(node.address, "operator", _tls(pki, party), LIMITS)
        self.release = threading.Event()
        self.sent = threading.Semaphore(0)
        self.pool = futures.ThreadPoolExecutor(max_workers=8)
        self.trickle = trickle

    def _parts(self) -> Iterator[bytes]:
        yield CHUNK
        self.sent.release()
        while not self.release.wait(1.0 if self.trickle else 60):
            if not self.trickle:
                break
            yield CHUNK
        yield CHUNK

    def start(self) -> futures.Future:
        size = (1 << 20) if self.trickle else 2 * len(CHUNK)
        return self.pool.submit(
            diagnostics.upload, self.channel, self._parts(), size, 1024, 60
        )

    def close(self) -> None:
        self.release.set()
        self.pool.shutdown(wait=True)
        self.channel.close()


def _code(future: futures.Future, timeout: float) -> tuple[str, str]:
    with pytest.raises(PeerCallError) as info:
        future.result(timeout)
    return info.value.code, info.value.details


def _refusal_within(seconds: float, call: Callable[[], object]) -> PeerCallError:
    """The first refusal of `call`, retried until it is refused."""
    end = time.monotonic() + seconds
    while True:
        try:
            call()
        except PeerCallError as exc:
            return exc
        if time.monotonic() > end:
            raise AssertionError(f"not refused within {seconds} s")
        time.sleep(0.1)


def _served_within(seconds: float, call: Callable[[], object]) -> float:
    """Seconds until `call` is first served, retried while it is refused."""
    started = time.monotonic()
    while True:
        try:
            call()
            return time.monotonic() - started
        except PeerCallError:
            if time.monotonic() - started > seconds:
                raise
        time.sleep(0.2)


def _hello(pki: Pki, node: RunningNode, party: str) -> float:
    """Seconds a handshake of `party` takes (raises if it is refused)."""
    started = time.monotonic()
    with connect(node.address, "operator", _tls(pki, party), LIMITS) as channel:
        handshake(channel, local_hello(party), "operator", 10)
    return time.monotonic() - started


def test_other_counterpart_and_health_served_if_one_counterpart_stalls_uploads(
    pki: Pki, operator: RunningNode
) -> None:
    # Prepare: bank-a stalls 5 uploads, over its limit of 3 calls.
    stalled = Stalled(pki, operator, "bank-a")
    try:
        calls = [stalled.start() for _ in range(5)]
        for _ in range(3):
            assert stalled.sent.acquire(timeout=IDLE_S / 2)
        # Execute
        done, _ = futures.wait(calls, timeout=IDLE_S / 2)
        refused = [_code(call, 0) for call in done]
        other_s = _hello(pki, operator, "bank-b")
        with connect(
            operator.address, "operator", _tls(pki, "bank-b"), LIMITS
        ) as channel:
            health = health_check(channel, 5)
        # Assert
        assert len(refused) == 2
        for code, details in refused:
            assert code == "RESOURCE_EXHAUSTED"
            assert details == (
                "bank-a has 3 calls in progress on operator, its limit"
                " (counterparts.limits.max_concurrent_calls); retry when one ends"
            )
        assert other_s < 5
        assert health == "SERVING"
    finally:
        stalled.close()


def test_full_pool_refuses_new_calls_and_health_is_served_if_every_worker_is_busy(
    pki: Pki, operator: RunningNode
) -> None:
    # Prepare: 3 stalled uploads of bank-a and 2 of bank-b hold all 5 workers.
    bank_a = Stalled(pki, operator, "bank-a", trickle=True)
    bank_b = Stalled(pki, operator, "bank-b", trickle=True)
    try:
        running = [bank_a.start() for _ in range(3)]
        running += [bank_b.start() for _ in range(2)]
        for stalled, count in ((bank_a, 3), (bank_b, 2)):
            for _ in range(count):
                assert stalled.sent.acquire(timeout=10)
        # Execute: the stalled calls reach the server in a few ms (seconds on a
        # loaded machine); until then a call may still find a free worker. They
        # trickle, so the idle timeout never frees one meanwhile.
        busy = _refusal_within(30.0, lambda: _hello(pki, operator, "bank-b"))
        with connect(
            operator.address, "operator", _tls(pki, "bank-b"), LIMITS
        ) as channel:
            health = health_check(channel, 5)
        # Assert
        assert busy.code == "RESOURCE_EXHAUSTED"
        assert busy.details == (
            "operator is busy: all 5 call workers are in use (transport.max_workers);"
            " retry later"
        )
        assert health == "SERVING"
        assert not any(call.done() for call in running)
    finally:
        bank_a.close()
        bank_b.close()


def test_idle_stream_is_cancelled_and_frees_its_worker_if_peer_sends_nothing(
    pki: Pki, operator: RunningNode
) -> None:
    # Prepare: bank-a fills its 3 slots with stalled uploads.
    stalled = Stalled(pki, operator, "bank-a")
    try:
        calls = [stalled.start() for _ in range(3)]
        for _ in calls:
            assert stalled.sent.acquire(timeout=10)
        with pytest.raises(PeerCallError):
            _hello(pki, operator, "bank-a")  # over its limit while they stall
        # Execute
        ended = [_code(call, IDLE_S + 10) for call in calls]
        served_s = _hello(pki, operator, "bank-a")
        # Assert
        assert [code for code, _ in ended] == ["CANCELLED"] * 3
        assert served_s < 5
    finally:
        stalled.close()


def test_download_the_peer_stops_reading_is_cancelled_and_frees_its_worker(
    pki: Pki, operator: RunningNode
) -> None:
    # Prepare: bank-a takes the first chunk of 3 large downloads, then stops reading
    # (the server blocks once HTTP/2 flow control is full).
    channel = connect(operator.address, "operator", _tls(pki, "bank-a"), LIMITS)
    stub = diagnostics_pb2_grpc.DiagnosticsStub(channel)
    request = diagnostics_pb2.DownloadRequest(
        total_bytes=256 << 20, chunk_bytes=1 << 20
    )
    downloads = [stub.Download(request, timeout=60) for _ in range(3)]
    try:
        for download in downloads:
            next(download)
        with pytest.raises(PeerCallError):
            _hello(pki, operator, "bank-a")  # over its limit while they stall
        # Execute
        waited = _served_within(IDLE_S + 10, lambda: _hello(pki, operator, "bank-a"))
        # Assert
        assert waited > IDLE_S / 2  # served only once the idle downloads ended
    finally:
        for download in downloads:
            download.cancel()
        channel.close()
