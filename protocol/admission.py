"""Call admission: no counterpart, stalled stream or burst of calls can lock a node up.

gRPC's synchronous server runs every call on one worker of a shared pool for the
call's whole life, and queues calls without limit when every worker is busy: sixteen
stalled uploads used to block every call of every bank, health checks included. This
interceptor (the outermost one, see protocol/transport.py) adds:

- a pool that never queues: a call arriving while every worker (`transport.
  max_workers`) is busy is refused at once with RESOURCE_EXHAUSTED, from a small
  control pool, instead of waiting behind calls that may never end;
- a per-counterpart limit (`counterparts[].limits.max_concurrent_calls`, below the pool
  size), so one counterpart never holds every worker; over it, RESOURCE_EXHAUSTED
  naming the limit;
- idle streams: a call waiting on the peer (for the next request message, or for the
  peer to take the next response) longer than `transport.stream_idle_s` is cancelled,
  and so is any call running longer than `transport.stream_deadline_s`, whatever
  deadline the client chose; their workers and per-counterpart slots are freed;
- health checks (grpc.health.v1.Health/Check) answered on the control pool, outside
  the shared one, so a busy node still says whether it is serving;
- every request message of an authenticated peer checked against the field bounds of
  protocol/message_limits.py before its handler sees it (INVALID_ARGUMENT naming the
  field and the limit).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.message import Message

from protocol.auth import PeerDirectory
from protocol.errors import InvalidArgument, Unauthenticated
from protocol.message_limits import check_message

log = logging.getLogger(__name__)

# Methods answered on the control pool: cheap, never waiting on the peer.
CONTROL_METHODS = frozenset({"/grpc.health.v1.Health/Check"})
# Workers of the control pool (health checks and immediate refusals).
CONTROL_WORKERS = 2
# How often the watchdog looks at running calls, at most.
WATCH_INTERVAL_S = 1.0


@dataclass(frozen=True)
class AdmissionLimits:
    """The server-side limits of call admission (from the node's transport config)."""

    max_workers: int = 16
    stream_idle_s: float = 60.0
    max_call_s: float = 3600.0


@dataclass
class _Call:
    """A call on a worker: who made it, and since when it waits on them."""

    method: str
    peer: str
    context: grpc.ServicerContext
    started: float
    waiting_since: float | None = None
    ended_by: str = ""


class _Pool(futures.ThreadPoolExecutor):
    """The shared worker pool; counts submitted calls (queued or running) and ends
    each call's admission bookkeeping when its worker task returns."""

    def __init__(self, workers: int, on_task_end: Callable[[], None]) -> None:
        super().__init__(max_workers=workers, thread_name_prefix="rpc")
        self._on_task_end = on_task_end
        self._count_lock = threading.Lock()
        self.in_flight = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        def task() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                self._on_task_end()
                with self._count_lock:
                    self.in_flight -= 1

        with self._count_lock:
            self.in_flight += 1
        try:
            return super().submit(task)
        except BaseException:
            with self._count_lock:
                self.in_flight -= 1
            raise


class _OnPool:
    """A behavior gRPC runs on the given pool (its `experimental_thread_pool`)."""

    def __init__(self, behavior: Callable[..., Any], pool: futures.ThreadPoolExecutor):
        self._behavior = behavior
        self.experimental_thread_pool = pool

    def __call__(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._behavior(request, context)


class _WatchedRequests:
    """A request iterator that marks the call as waiting on the peer while it waits."""

    def __init__(self, requests: Iterator[Any], call: _Call) -> None:
        self._requests = requests
        self._call = call

    def __iter__(self) -> _WatchedRequests:
        return self

    def __next__(self) -> Any:
        self._call.waiting_since = time.monotonic()
        try:
            request = next(self._requests)
        finally:
            self._call.waiting_since = None
        if isinstance(request, Message):
            check_message(request)  # raises InvalidArgument for the handler to map
        return request


def _watched_responses(responses: Iterator[Any], call: _Call) -> Iterator[Any]:
    """Between handing a response to gRPC and being asked for the next one, the call
    waits for the peer to take it (flow control); computing the next is not idle."""
    for response in responses:
        call.waiting_since = time.monotonic()
        yield response
        call.waiting_since = None


_FACTORIES = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def _behavior_of(handler: grpc.RpcMethodHandler) -> Callable[..., Any]:
    return (
        handler.unary_unary
        or handler.unary_stream
        or handler.stream_unary
        or handler.stream_stream
    )


def _rebuild(
    handler: grpc.RpcMethodHandler, behavior: Callable[..., Any]
) -> grpc.RpcMethodHandler:
    factory = _FACTORIES[(handler.request_streaming, handler.response_streaming)]
    return factory(behavior, handler.request_deserializer, handler.response_serializer)


@dataclass
class _Slots:
    """Calls in progress per counterpart."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: dict[str, int] = field(default_factory=dict)


class CallAdmission(grpc.ServerInterceptor):
    """Outermost server interceptor; owns the worker pools (see module docstring)."""

    def __init__(
        self,
        directory: PeerDirectory,
        limits: AdmissionLimits,
        max_calls: Callable[[str], int],
    ) -> None:
        self._directory = directory
        self._limits = limits
        self._max_calls = max_calls  # per counterpart party id
        self._slots = _Slots()
        self._calls: dict[int, _Call] = {}
        self._calls_lock = threading.Lock()
        self._local = threading.local()
        self.pool = _Pool(limits.max_workers, self._end_task)
        self.control_pool = futures.ThreadPoolExecutor(
            max_workers=CONTROL_WORKERS, thread_name_prefix="rpc-control"
        )
        self._stop = threading.Event()
        self._watchdog = threading.Thread(
            target=self._watch, name="rpc-watchdog", daemon=True
        )
        self._watchdog.start()

    # ---- lifecycle ---------------------------------------------------------------
    def close(self) -> None:
        """Stop the watchdog and the pools (after the server has stopped)."""
        self._stop.set()
        self._watchdog.join(5)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.control_pool.shutdown(wait=False, cancel_futures=True)

    def running_calls(self) -> dict[str, int]:
        """Calls in progress per counterpart (for tests and diagnostics)."""
        with self._slots.lock:
            return {k: v for k, v in self._slots.counts.items() if v}

    # ---- interceptor -------------------------------------------------------------
    def intercept_service(self, continuation, handler_call_details):
        # Runs on gRPC's polling thread, just before the call is handed to a pool:
        # the in-flight count cannot change upwards between this check and that.
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if method in CONTROL_METHODS:
            return _rebuild(handler, _OnPool(_behavior_of(handler), self.control_pool))
        if self.pool.in_flight >= self._limits.max_workers:
            return _rebuild(handler, _OnPool(self._refuse_busy, self.control_pool))
        return _rebuild(handler, self._admitted(handler, method))

    def _refuse_busy(self, request: Any, context: grpc.ServicerContext) -> Any:
        local = self._directory.local_party
        log.warning("call refused: all workers busy")
        context.abort(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"{local} is busy: all {self._limits.max_workers} call workers are in use"
            " (transport.max_workers); retry later",
        )

    def _admitted(
        self, handler: grpc.RpcMethodHandler, method: str
    ) -> Callable[..., Any]:
        inner = _behavior_of(handler)
        streams_in = handler.request_streaming
        streams_out = handler.response_streaming

        def behavior(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                peer = self._directory.authenticate(context).party_id
            except Unauthenticated:
                return inner(request, context)  # the auth interceptor refuses it
            if not streams_in and isinstance(request, Message):
                try:
                    check_message(request)
                except InvalidArgument as exc:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            call = self._begin(peer, method, context)
            if streams_in:
                request = _WatchedRequests(request, call)
            result = inner(request, context)
            return _watched_responses(result, call) if streams_out else result

        return behavior

    # ---- per-counterpart slots ---------------------------------------------------
    def _begin(self, peer: str, method: str, context: grpc.ServicerContext) -> _Call:
        limit = self._max_calls(peer)
        with self._slots.lock:
            running = self._slots.counts.get(peer, 0)
            if running >= limit:
                refused = True
            else:
                refused = False
                self._slots.counts[peer] = running + 1
        if refused:
            log.warning(
                "call refused: counterpart over its concurrent-call limit",
                extra={"counterpart": peer, "method": method, "limit": limit},
            )
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"{peer} has {running} calls in progress on"
                f" {self._directory.local_party}, its limit"
                " (counterparts.limits.max_concurrent_calls); retry when one ends",
            )
        call = _Call(method, peer, context, time.monotonic())
        with self._calls_lock:
            self._calls[threading.get_ident()] = call
        self._local.call = call
        return call

    def _end_task(self) -> None:
        """End of a worker task: the call it ran is over; free its slot."""
        call: _Call | None = getattr(self._local, "call", None)
        if call is None:
            return
        self._local.call = None
        with self._calls_lock:
            self._calls.pop(threading.get_ident(), None)
        with self._slots.lock:
            self._slots.counts[call.peer] -= 1

    # ---- watchdog ----------------------------------------------------------------
    def _watch(self) -> None:
        interval = min(WATCH_INTERVAL_S, self._limits.stream_idle_s / 4)
        while not self._stop.wait(interval):
            now = time.monotonic()
            with self._calls_lock:
                calls = list(self._calls.values())
            for call in calls:
                if call.ended_by:
                    continue
                waiting = call.waiting_since
                if waiting is not None and now - waiting > self._limits.stream_idle_s:
                    self._end(call, "idle", now - waiting)
                elif now - call.started > self._limits.max_call_s:
                    self._end(call, "too long", now - call.started)

    def _end(self, call: _Call, why: str, seconds: float) -> None:
        call.ended_by = why
        idle = why == "idle"
        key = "transport.stream_idle_s" if idle else "transport.stream_deadline_s"
        log.warning(
            "call cancelled: %s for %.0f s (%s)",
            "no data from the peer" if idle else "running",
            seconds,
            key,
            extra={"counterpart": call.peer, "method": call.method},
        )
        call.context.cancel()
