"""Spread big-integer work over this machine's cores: process and thread pools.

A persistent process pool, and a thread pool for gmpy2 operations that release the GIL.

Processes carry the table-based work (encryption, re-randomization): every worker keeps
its own fixed-base tables per key (built on first use or by `broadcast`), and chunks
move as Python ints in and fixed-width big-endian bytes out. Measured on 2048-bit keys:
a pickled mpz costs ~3 us per round trip against ~0.6 us for its bytes, and a
table-based encryption ~120 us, so the transfer is noise.

Threads carry operations on ciphertexts already in this process (decryption, additions,
scalar products): gmpy2 >= 2.2 releases the GIL inside big mpz operations once the
context's `allow_release_gil` is set, which each pool thread does. Measured: 1.7x for
4096-bit modular multiplications on 2 threads and ~2x for powmod, with no copying, where
shipping the operands to processes would cost more than the multiplication itself.

All of this stays inside one party; nothing here crosses the wire. The pools start
lazily, sized by DUET_CRYPTO_WORKERS or the CPU count; one worker means "run inline".
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar

import gmpy2

T = TypeVar("T")

_ENV_WORKERS = "DUET_CRYPTO_WORKERS"


def default_worker_count() -> int:
    """Workers to use: $DUET_CRYPTO_WORKERS, else the CPUs this process may run on."""
    configured = os.environ.get(_ENV_WORKERS)
    if configured:
        return max(1, int(configured))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def split_ranges(
    n_items: int, n_parts: int, min_size: int = 1
) -> list[tuple[int, int]]:
    """Split range(n_items) into at most n_parts contiguous (start, stop) ranges."""
    if n_items <= 0:
        return []
    parts = max(1, min(n_parts, n_items // max(1, min_size)))
    bounds = [n_items * i // parts for i in range(parts + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(parts)]


class WorkerError(RuntimeError):
    """A task failed inside a worker process (the message carries its traceback)."""


def _worker_main(conn: Connection) -> None:
    """Loop of one worker process: run (function, args) messages until told to stop."""
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        fn, args = message
        try:
            reply = ("ok", fn(*args))
        except BaseException as exc:  # report everything; the parent decides
            reply = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        conn.send(reply)


class ProcessPool:
    """Persistent worker processes with dynamic scheduling and per-worker broadcast.

    concurrent.futures cannot address each worker, which table warm-up needs; this pool
    keeps one pipe per worker. Calls are serialized by a lock, so it is safe to share.
    """

    def __init__(self, n_workers: int):
        ctx = mp.get_context("spawn")  # fork is unsafe once TenSEAL/gRPC threads exist
        self._lock = threading.Lock()
        self._broken = False
        self._workers: list[tuple[Any, Connection]] = []
        for _ in range(n_workers):
            parent, child = ctx.Pipe(duplex=True)
            process = ctx.Process(target=_worker_main, args=(child,), daemon=True)
            process.start()
            child.close()
            self._workers.append((process, parent))

    @property
    def size(self) -> int:
        return len(self._workers)

    @property
    def broken(self) -> bool:
        """True once an interrupted call may have left replies in the pipes."""
        return self._broken

    def map(self, fn: Callable[..., T], tasks: Sequence[tuple[Any, ...]]) -> list[T]:
        """Run fn(*task) for every task on whichever worker is free; keep order."""
        with self._lock:
            try:
                results, errors = self._run(fn, tasks)
            except BaseException:
                # Interrupted mid-call (Ctrl-C, dead worker): replies may still be in
                # flight, so this pool must not serve another call.
                self._broken = True
                raise
        if errors:
            raise WorkerError(errors[0])
        return results

    def _run(
        self, fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]]
    ) -> tuple[list[Any], list[str]]:
        results: list[Any] = [None] * len(tasks)
        errors: list[str] = []
        idle = [conn for _, conn in self._workers]
        busy: dict[Connection, int] = {}
        next_task = 0
        while next_task < len(tasks) or busy:
            while idle and next_task < len(tasks) and not errors:
                conn = idle.pop()
                conn.send((fn, tasks[next_task]))
                busy[conn] = next_task
                next_task += 1
            if not busy:
                break
            for ready in wait(list(busy)):
                assert isinstance(ready, Connection)
                index = busy.pop(ready)
                try:
                    status, value = ready.recv()
                except EOFError as exc:
                    raise WorkerError("a crypto worker process died") from exc
                if status == "ok":
                    results[index] = value
                else:
                    errors.append(value)
                idle.append(ready)
        return results, errors

    def broadcast(self, fn: Callable[..., T], args: tuple[Any, ...]) -> list[T]:
        """Run fn(*args) once on every worker (e.g. to build its tables)."""
        with self._lock:
            try:
                for _, conn in self._workers:
                    conn.send((fn, args))
                replies = [conn.recv() for _, conn in self._workers]
            except BaseException:
                self._broken = True
                raise
        for status, value in replies:
            if status != "ok":
                raise WorkerError(value)
        return [value for _, value in replies]

    def close(self) -> None:
        """Stop the workers (idempotent)."""
        with self._lock:
            for process, conn in self._workers:
                try:
                    if not self._broken:  # a broken pool's workers may be mid-task
                        conn.send(None)
                    conn.close()
                except OSError:
                    pass
                process.join(timeout=0 if self._broken else 5)
                if process.is_alive():
                    process.terminate()
                    process.join(timeout=5)
            self._workers = []


def _enable_gil_release() -> None:
    # gmpy2 contexts are per thread, so each pool thread opts in for itself.
    gmpy2.get_context().allow_release_gil = True


class _Pools:
    """The process and thread pools of this process, created on first use."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.n_workers = default_worker_count()
        self.processes: ProcessPool | None = None
        self.threads: ThreadPoolExecutor | None = None


_pools = _Pools()


def worker_count() -> int:
    """Number of workers (processes and threads) crypto operations spread over."""
    return _pools.n_workers


def set_worker_count(n_workers: int) -> None:
    """Resize the pools (1 runs everything inline); running pools are shut down."""
    if n_workers < 1:
        raise ValueError(f"n_workers must be >= 1, got {n_workers}")
    shutdown()
    with _pools.lock:
        _pools.n_workers = n_workers


def process_pool() -> ProcessPool | None:
    """The shared process pool, or None when configured for a single worker."""
    with _pools.lock:
        if _pools.n_workers <= 1:
            return None
        if _pools.processes is not None and _pools.processes.broken:
            _pools.processes.close()
            _pools.processes = None
        if _pools.processes is None:
            _pools.processes = ProcessPool(_pools.n_workers)
        return _pools.processes


def map_processes(fn: Callable[..., T], tasks: Sequence[tuple[Any, ...]]) -> list[T]:
    """Run fn(*task) for each task on the process pool (inline with one worker)."""
    pool = process_pool()
    if pool is None or len(tasks) <= 1:
        return [fn(*task) for task in tasks]
    return pool.map(fn, tasks)


def map_threads(fn: Callable[..., T], tasks: Sequence[tuple[Any, ...]]) -> list[T]:
    """Run fn(*task) for each task on GIL-releasing threads (inline with one worker)."""
    if _pools.n_workers <= 1 or len(tasks) <= 1:
        return [fn(*task) for task in tasks]
    with _pools.lock:
        if _pools.threads is None:
            _pools.threads = ThreadPoolExecutor(
                max_workers=_pools.n_workers,
                thread_name_prefix="duet-crypto",
                initializer=_enable_gil_release,
            )
        threads = _pools.threads
    return list(threads.map(lambda task: fn(*task), tasks))


def shutdown() -> None:
    """Stop both pools; the next crypto call starts them again."""
    with _pools.lock:
        if _pools.processes is not None:
            _pools.processes.close()
            _pools.processes = None
        if _pools.threads is not None:
            _pools.threads.shutdown(wait=True)
            _pools.threads = None


atexit.register(shutdown)
