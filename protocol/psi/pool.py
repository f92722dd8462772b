"""A persistent pool of worker processes for the PSI's scalar multiplications.

X25519 costs ~33 us per multiplication in `cryptography` and holds the GIL, so the work
runs in worker processes, one per core. Tasks carry batches as packed byte strings
(k x 11 ASCII digits in, k x 32 bytes out) rather than lists of Python objects, and
travel over each worker's stdin/stdout pipes in a small length-prefixed frame: no
pickle, and memory per item stays at its wire size.

Workers are plain `python -m protocol.psi.pool` processes rather than multiprocessing
children: the parent is a threaded gRPC process (forking it is unsafe), and "spawn"
would re-import the node's whole command-line module (pandas, grpc, ...) in every
worker, ~200 MB each. These import only `cryptography` and `gmpy2` (~30 MB). The pool
lives for the whole process (`shared_pool`), so a session pays no start-up. Secret
scalars reach the workers over the pipe between a process and its own children;
nothing here crosses to the other party.
"""

from __future__ import annotations

import atexit
import os
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, Future
from pathlib import Path
from typing import IO

from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)

from protocol.psi.group import (
    ITEM_BYTES,
    PHONE_BYTES,
    BlindingKey,
    UnblindingKey,
    hash_to_group,
    on_curve,
)

DEFAULT_BATCH_ITEMS = 4096  # ~0.14 s of work per task: fine-grained yet cheap to ship
# Batches a fed stream may run ahead of its consumer: enough to keep every worker busy
# while the other streams wait, little enough to keep memory flat (~2 MB of results).
FEED_CAPACITY = 16


class InvalidGroupElement(ValueError):
    """A received 32-byte item is not a usable group element (low-order point)."""


class WorkerFailed(RuntimeError):
    """A worker process died or answered garbage (the task is lost, not the pool)."""


# ---- worker functions (module level so "spawn" workers can import them) -----------
def blind_phones(secret: bytes, phones: bytes) -> bytes:
    """X25519(secret, H(x)) for each 11-byte canonical number in `phones`."""
    private = X25519PrivateKey.from_private_bytes(secret)
    exchange, point = private.exchange, X25519PublicKey.from_public_bytes
    out = bytearray(len(phones) // PHONE_BYTES * ITEM_BYTES)
    o = 0
    for i in range(0, len(phones), PHONE_BYTES):
        # hash_to_group never returns a low-order u, so exchange cannot refuse it.
        out[o : o + ITEM_BYTES] = exchange(
            point(hash_to_group(phones[i : i + PHONE_BYTES]))
        )
        o += ITEM_BYTES
    return bytes(out)


def multiply(secret: bytes, items: bytes) -> bytes:
    """X25519(secret, u) for each 32-byte u received from the other party."""
    private = X25519PrivateKey.from_private_bytes(secret)
    exchange, point = private.exchange, X25519PublicKey.from_public_bytes
    out = bytearray(len(items))
    for o in range(0, len(items), ITEM_BYTES):
        try:
            out[o : o + ITEM_BYTES] = exchange(point(items[o : o + ITEM_BYTES]))
        except ValueError:
            raise InvalidGroupElement(
                f"item {o // ITEM_BYTES} of a batch is a low-order point"
            ) from None
    return bytes(out)


def unblind(curve_secret: bytes, twist_secret: bytes, items: bytes) -> bytes:
    """Remove the bank's scalar: the inverse matching each item's subgroup."""
    exchange_curve = X25519PrivateKey.from_private_bytes(curve_secret).exchange
    exchange_twist = X25519PrivateKey.from_private_bytes(twist_secret).exchange
    point = X25519PublicKey.from_public_bytes
    out = bytearray(len(items))
    for o in range(0, len(items), ITEM_BYTES):
        item = items[o : o + ITEM_BYTES]
        exchange = exchange_curve if on_curve(item) else exchange_twist
        try:
            out[o : o + ITEM_BYTES] = exchange(point(item))
        except ValueError:
            raise InvalidGroupElement(
                f"item {o // ITEM_BYTES} of a batch is a low-order point"
            ) from None
    return bytes(out)


# ---- the worker process: one frame in, one frame out, until stdin closes ---------
# Request: op (1 byte) | keys length (u32) | data length (u32) | keys | data.
# Reply:   status (1 byte) | length (u32) | result bytes or a UTF-8 error message.
_REQUEST = struct.Struct("<cII")
_REPLY = struct.Struct("<cI")
_OK, _INVALID, _ERROR = b"0", b"1", b"2"


def _compute(op: bytes, keys: bytes, data: bytes) -> bytes:
    if op == b"B":
        return blind_phones(keys, data)
    if op == b"M":
        return multiply(keys, data)
    if op == b"U":
        return unblind(keys[:32], keys[32:], data)
    if op == b"P":
        return b""  # ping: the worker is up and imported
    raise ValueError(f"unknown operation {op!r}")


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError
    return data


def worker_main() -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            op, key_len, data_len = _REQUEST.unpack(_read_exactly(stdin, _REQUEST.size))
            keys = _read_exactly(stdin, key_len)
            data = _read_exactly(stdin, data_len)
        except EOFError:
            return  # the parent closed the pipe: shut down
        try:
            status, out = _OK, _compute(op, keys, data)
        except InvalidGroupElement as exc:
            status, out = _INVALID, str(exc).encode()
        except Exception as exc:
            status, out = _ERROR, f"{type(exc).__name__}: {exc}".encode()
        stdout.write(_REPLY.pack(status, len(out)))
        stdout.write(out)
        stdout.flush()


# ---- parent side -------------------------------------------------------------------
_Task = tuple[Future, bytes, bytes, bytes]  # future, op, keys, data


class _Worker(threading.Thread):
    """Feeds one worker process from the pool's queue, restarting it if it dies."""

    def __init__(self, tasks: queue.SimpleQueue[_Task | None], index: int) -> None:
        super().__init__(name=f"psi-worker-{index}", daemon=True)
        self._tasks = tasks
        self._proc: subprocess.Popen[bytes] | None = None
        self.ready = threading.Event()

    def _start_process(self) -> subprocess.Popen[bytes]:
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (root, env.get("PYTHONPATH")) if p
        )
        return subprocess.Popen(
            [sys.executable, "-m", "protocol.psi.pool"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )

    def _call(self, op: bytes, keys: bytes, data: bytes) -> tuple[bytes, bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = self._start_process()
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.write(_REQUEST.pack(op, len(keys), len(data)))
            self._proc.stdin.write(keys)
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
            status, size = _REPLY.unpack(_read_exactly(self._proc.stdout, _REPLY.size))
            return status, _read_exactly(self._proc.stdout, size)
        except (EOFError, OSError, struct.error):
            self._proc.kill()
            self._proc = None
            raise WorkerFailed("a PSI worker process exited") from None

    def run(self) -> None:
        try:
            self._call(b"P", b"", b"")
        except WorkerFailed:
            pass  # the next task restarts the process and reports the failure
        self.ready.set()
        while (task := self._tasks.get()) is not None:
            future, op, keys, data = task
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while queued (an abandoned session)
            try:
                status, out = self._call(op, keys, data)
            except WorkerFailed as exc:
                future.set_exception(exc)
                continue
            if status == _OK:
                future.set_result(out)
            elif status == _INVALID:
                future.set_exception(InvalidGroupElement(out.decode()))
            else:
                future.set_exception(WorkerFailed(out.decode()))
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            self._proc.wait(10)


class PsiPool:
    """Submits batches to worker processes; results come back as futures of bytes."""

    def __init__(self, workers: int = 0) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._threads = [_Worker(self._tasks, i) for i in range(self.workers)]
        for thread in self._threads:
            thread.start()

    def warm_up(self) -> None:
        """Wait until every worker process is up (so a session does not pay for it)."""
        for thread in self._threads:
            thread.ready.wait()

    def _submit(self, op: bytes, keys: bytes, data: bytes) -> Future[bytes]:
        future: Future[bytes] = Future()
        self._tasks.put((future, op, keys, data))
        return future

    def blind(self, key: BlindingKey, phones: bytes) -> Future[bytes]:
        return self._submit(b"B", key.secret, phones)

    def multiply(self, key: BlindingKey, items: bytes) -> Future[bytes]:
        return self._submit(b"M", key.secret, items)

    def unblind(self, key: UnblindingKey, items: bytes) -> Future[bytes]:
        return self._submit(b"U", key.curve + key.twist, items)

    def worker_pids(self) -> list[int]:
        return [t._proc.pid for t in self._threads if t._proc is not None]

    def shutdown(self) -> None:
        for _ in self._threads:
            self._tasks.put(None)
        for thread in self._threads:
            thread.join(30)


_shared: PsiPool | None = None
_shared_lock = threading.Lock()


def shared_pool(workers: int = 0) -> PsiPool:
    """The process-wide pool (created on first use, shut down at exit)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = PsiPool(workers)
            atexit.register(_shared.shutdown)
        return _shared


def batches(buffer: bytes | bytearray | memoryview, item_bytes: int, items: int):
    """Slice a packed buffer into byte strings of at most `items` items."""
    step = item_bytes * items
    view = memoryview(buffer)
    for offset in range(0, len(view), step):
        yield bytes(view[offset : offset + step])


class OrderedResults:
    """Futures appended by one producer, consumed in order by other threads.

    The consumer may start before the producer has submitted everything (that is what
    pipelines the protocol); `fail` wakes consumers with the producer's error. With a
    `capacity`, `append` waits while that many results are submitted but not yet
    taken by `drain`, which releases each result as it goes: memory stays flat however
    large the set (a drained stream can be consumed only once).
    """

    def __init__(self, capacity: int | None = None) -> None:
        self._futures: list[Future[bytes] | None] = []
        self._capacity = capacity
        self._drained = 0
        self._closed = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()

    def append(self, future: Future[bytes]) -> bool:
        """Add the next result; False (and the future cancelled) once failed."""
        with self._cond:
            while (
                self._capacity is not None
                and len(self._futures) - self._drained >= self._capacity
                and self._error is None
            ):
                self._cond.wait()
            if self._error is not None:
                future.cancel()
                return False
            self._futures.append(future)
            self._cond.notify_all()
            return True

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        with self._cond:
            if self._error is None:
                self._error = error
            self._closed = True
            self._cond.notify_all()

    def cancel(self, error: BaseException) -> None:
        """Drop work not yet started (an abandoned session) and fail the consumers."""
        with self._cond:
            futures = [f for f in self._futures if f is not None]
        for future in futures:
            future.cancel()
        self.fail(error)

    @property
    def error(self) -> BaseException | None:
        return self._error

    def __iter__(self) -> Iterator[bytes]:
        return self.iterate(lambda: True)

    def iterate(
        self, alive: Callable[[], bool], poll_s: float = 0.5, drain: bool = False
    ) -> Iterator[bytes]:
        """Yield each result in order; stops quietly when `alive()` turns False."""
        index = 0
        while True:
            with self._cond:
                while (
                    index >= len(self._futures)
                    and not self._closed
                    and self._error is None
                ):
                    if not alive():
                        return
                    self._cond.wait(poll_s)
                if self._error is not None:
                    raise self._error
                if index >= len(self._futures):
                    return
                future = self._futures[index]
                if future is None:
                    raise RuntimeError("these results were already drained")
                if drain:
                    self._futures[index] = None
                    self._drained += 1
                    self._cond.notify_all()
            index += 1
            try:
                result = future.result()
            except CancelledError:
                raise self._error or RuntimeError("result cancelled") from None
            yield result

    def drain(self, alive: Callable[[], bool] = lambda: True) -> Iterator[bytes]:
        """Like iterate, releasing each result once taken (one consumer only)."""
        return self.iterate(alive, drain=True)


def feed(
    submit: Callable[[bytes], Future[bytes]],
    parts: Iterable[bytes],
    capacity: int,
) -> OrderedResults:
    """Submit parts from a background thread, at most `capacity` ahead of `drain`."""
    results = OrderedResults(capacity)

    def run() -> None:
        try:
            for part in parts:
                if not results.append(submit(part)):
                    return  # the consumer failed or was cancelled
        except BaseException as exc:
            results.fail(exc)
            return
        results.close()

    threading.Thread(target=run, name="psi-feed", daemon=True).start()
    return results


if __name__ == "__main__":
    worker_main()
