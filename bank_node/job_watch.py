"""The bank runner's watch over a running job: heartbeats and per-stage deadlines.

While a job runs, a background thread asks the operator for the job's status every
`jobs.heartbeat_s` (Jobs.GetStatus, short deadline). Each answer tells the operator
that the bank is alive (its job desk ends jobs whose bank went quiet) and tells the
bank that the operator is. The watch trips when

- no heartbeat was answered for `jobs.heartbeat_timeout_s` (the operator died, hangs,
  e.g. SIGSTOP, or is cut off), or
- the operator answers that the job is no longer active (it failed or cancelled it), or
- the current stage ran past its deadline (`[deadlines] <stage>_s` of the job spec), or
- the runner was told to stop (SIGTERM/SIGINT).

Tripping records the reason and closes the job's channel, which ends whatever call
the runner is blocked in; the runner then fails with the reason (JobAborted), never
after a call's own deadline of up to an hour. The runner uses the channel through
`watch.channel` (WatchedChannel), which refuses new stubs and calls once the watch has
tripped: gRPC crashes the process when a stub is made on a closed channel.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc

from node_core.config import JobsConfig
from protocol.domain import ACTIVE_JOB_STATUSES, JobStatus
from protocol.errors import PeerCallError, ProtocolError
from protocol.jobs.service import JobsClient

log = logging.getLogger(__name__)

# Codes that mean the operator did not answer (anything else is an answer).
SILENT_CODES = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "UNKNOWN"})
_ALIVE = frozenset({*ACTIVE_JOB_STATUSES, JobStatus.PENDING_APPROVAL})


class JobAborted(ProtocolError):
    """The job was ended by its watch (reason in the message)."""

    code = "ABORTED"


class JobInterrupted(ProtocolError):
    """The runner was told to stop (SIGTERM/SIGINT) outside a stage."""

    code = "CANCELLED"


class _WatchedMultiCallable:
    """A stub method that refuses to call once its channel was shut."""

    def __init__(self, channel: WatchedChannel, inner: Any) -> None:
        self._channel = channel
        self._inner = inner

    def _use(self, name: str) -> Callable[..., Any]:
        self._channel.check()
        return getattr(self._inner, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._use("__call__")(*args, **kwargs)

    def with_call(self, *args: Any, **kwargs: Any) -> Any:
        return self._use("with_call")(*args, **kwargs)

    def future(self, *args: Any, **kwargs: Any) -> Any:
        return self._use("future")(*args, **kwargs)


class WatchedChannel(grpc.Channel):
    """A job's channel that its watch can shut: in-flight calls end (the channel is
    closed) and every later stub or call raises JobAborted with the reason, never
    touching the closed channel."""

    def __init__(self, channel: grpc.Channel) -> None:
        self._channel = channel
        self._lock = threading.Lock()
        self._reason = ""

    def shut(self, reason: str) -> None:
        with self._lock:
            if self._reason:
                return
            self._reason = reason
            self._channel.close()

    def check(self) -> None:
        if self._reason:
            raise JobAborted(self._reason)

    def _method(self, kind: str, method: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:  # never a stub on a channel being closed
            self.check()
            inner = getattr(self._channel, kind)(method, *args, **kwargs)
        return _WatchedMultiCallable(self, inner)

    def unary_unary(self, method, *args, **kwargs):
        return self._method("unary_unary", method, *args, **kwargs)

    def unary_stream(self, method, *args, **kwargs):
        return self._method("unary_stream", method, *args, **kwargs)

    def stream_unary(self, method, *args, **kwargs):
        return self._method("stream_unary", method, *args, **kwargs)

    def stream_stream(self, method, *args, **kwargs):
        return self._method("stream_stream", method, *args, **kwargs)

    def subscribe(self, callback, try_to_connect=False):
        self.check()
        self._channel.subscribe(callback, try_to_connect)

    def unsubscribe(self, callback):
        self._channel.unsubscribe(callback)

    def close(self) -> None:
        self.shut("the job's channel was closed")

    def __enter__(self) -> WatchedChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class JobWatch:
    """Heartbeats and stage deadlines of one job on one channel (see module doc)."""

    def __init__(
        self,
        channel: grpc.Channel,
        job_id: str,
        config: JobsConfig,
        call_deadline_s: float,
        on_trip: Callable[[], None] | None = None,
    ) -> None:
        self.channel = WatchedChannel(channel)
        self._on_trip = on_trip  # e.g. interrupt the runner's local computation
        self._job_id = job_id
        self._config = config
        self._client = JobsClient(
            self.channel, min(call_deadline_s, config.heartbeat_timeout_s)
        )
        self._lock = threading.Lock()
        self._reason = ""
        self._beating = False
        self._last_answer = time.monotonic()
        self._stage: tuple[str, float, float] | None = None  # name, end, seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"job-watch-{job_id}", daemon=True
        )

    # ---- control -------------------------------------------------------------------
    def __enter__(self) -> JobWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._thread.join(self._config.heartbeat_timeout_s + 5)

    def stop(self) -> None:
        """No more heartbeats or deadlines (the job is about to end)."""
        self._stop.set()

    def heartbeat(self) -> None:
        """Start heartbeats (once the operator knows the job)."""
        with self._lock:
            self._beating = True
            self._last_answer = time.monotonic()

    @contextmanager
    def stage(self, name: str, seconds: float) -> Iterator[None]:
        """Run a stage under its deadline."""
        with self._lock:
            self._stage = (name, time.monotonic() + seconds, seconds)
        try:
            yield
        finally:
            with self._lock:
                self._stage = None

    def trip(self, reason: str, *, interrupt: bool = True) -> None:
        """End the job: record why (the first reason wins), close its channel and,
        unless the runner itself asked, interrupt it (`on_trip`)."""
        with self._lock:
            if self._reason:
                return
            self._reason = reason
        log.warning("job aborted", extra={"job": self._job_id, "reason": reason})
        self.channel.shut(reason)
        if interrupt and self._on_trip is not None:
            self._on_trip()

    @property
    def reason(self) -> str:
        with self._lock:
            return self._reason

    def check(self) -> None:
        """Raise JobAborted if the watch tripped."""
        if self.reason:
            raise JobAborted(self.reason)

    # ---- the thread ----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(self._config.heartbeat_s) and not self.reason:
            self._check_stage()
            with self._lock:
                beating = self._beating
            if beating:
                self._beat()

    def _check_stage(self) -> None:
        with self._lock:
            stage = self._stage
        if stage is not None and time.monotonic() > stage[1]:
            name, _, seconds = stage
            self.trip(
                f"stage {name} ran past its deadline of {seconds:g} s"
                f" (deadlines.{name}_s)"
            )

    def _beat(self) -> None:
        try:
            decision = self._client.status(self._job_id)
        except PeerCallError as exc:
            if exc.code not in SILENT_CODES:
                self._answered()  # busy or refusing, but there
                return
            silent = time.monotonic() - self._last_answer
            limit = self._config.heartbeat_timeout_s
            if silent > limit:
                self.trip(
                    f"the operator has not answered for {silent:.0f} s"
                    f" (jobs.heartbeat_timeout_s = {limit:g}); last heartbeat:"
                    f" {exc.code}"
                )
            return
        except ProtocolError as exc:  # a malformed answer is still an answer
            log.warning("heartbeat answer refused", extra={"error": str(exc)})
            self._answered()
            return
        self._answered()
        if decision.status not in _ALIVE:
            why = f": {decision.message}" if decision.message else ""
            self.trip(f"the operator reports the job {decision.status.value}{why}")

    def _answered(self) -> None:
        with self._lock:
            self._last_answer = time.monotonic()
