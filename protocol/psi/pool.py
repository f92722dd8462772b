"""A persistent process pool for the PSI's scalar multiplications, over packed bytes.

X25519 costs ~33 us per multiplication in `cryptography` and holds the GIL, so the work
runs in worker processes, one per core. Tasks carry batches as packed byte strings
(k x 11 ASCII digits in, k x 32 bytes out) rather than lists of Python objects: pickling
one bytes object per batch is cheap, and memory per item stays at its wire size.

Workers are started with "spawn": the parent is a threaded gRPC process, and forking
one is unsafe. The pool lives for the whole process (`shared_pool`), so a session pays
no start-up. Secret scalars travel to the workers inside task arguments, over the local
pipe between a process and its own children; nothing here crosses to the other party.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

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


class InvalidGroupElement(ValueError):
    """A received 32-byte item is not a usable group element (low-order point)."""


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


def _noop() -> int:
    return os.getpid()


# ---- parent side -------------------------------------------------------------------
class PsiPool:
    """Submits batches to worker processes; results come back as futures of bytes."""

    def __init__(self, workers: int = 0) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._executor = ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn")
        )

    def warm_up(self) -> None:
        """Start every worker now, so the first session does not pay for it."""
        for f in [self._executor.submit(_noop) for _ in range(self.workers)]:
            f.result()

    def blind(self, key: BlindingKey, phones: bytes) -> Future[bytes]:
        return self._executor.submit(blind_phones, key.secret, phones)

    def multiply(self, key: BlindingKey, items: bytes) -> Future[bytes]:
        return self._executor.submit(multiply, key.secret, items)

    def unblind(self, key: UnblindingKey, items: bytes) -> Future[bytes]:
        return self._executor.submit(unblind, key.curve, key.twist, items)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


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


def batches(buffer: bytes | bytearray | memoryview, item_bytes: int, items: int):  # type: ignore[no-untyped-def]
    """Slice a packed buffer into byte strings of at most `items` items."""
    step = item_bytes * items
    view = memoryview(buffer)
    for offset in range(0, len(view), step):
        yield bytes(view[offset : offset + step])


class OrderedResults:
    """Futures appended by one producer, consumed in order by another thread.

    The consumer may start before the producer has submitted everything (that is what
    pipelines the protocol); `fail` wakes the consumer with the producer's error.
    """

    def __init__(self) -> None:
        self._futures: list[Future[bytes]] = []
        self._closed = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()

    def append(self, future: Future[bytes]) -> None:
        with self._cond:
            self._futures.append(future)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        with self._cond:
            self._error = error
            self._closed = True
            self._cond.notify_all()

    def cancel(self, error: BaseException) -> None:
        """Drop work not yet started (an abandoned session) and fail the consumer."""
        with self._cond:
            futures = list(self._futures)
        for future in futures:
            future.cancel()
        self.fail(error)

    @property
    def error(self) -> BaseException | None:
        return self._error

    def __iter__(self) -> Iterator[bytes]:
        return self.iterate(lambda: True)

    def iterate(
        self, alive: Callable[[], bool], poll_s: float = 0.5
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
            index += 1
            yield future.result()


def submit_all(
    submit: Callable[[bytes], Future[bytes]], parts: Iterable[bytes]
) -> OrderedResults:
    """Submit every part now and return the futures in order (closed)."""
    results = OrderedResults()
    for part in parts:
        results.append(submit(part))
    results.close()
    return results
