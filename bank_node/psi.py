"""The bank's active role in the PSI: `run_psi` (the CLI: handshake, then one session)
and `psi_session` (the job runner, on the link of its one handshake).

One session, pipelined in three threads so both parties' cores stay busy:
  upload    H(x)^b of the bank's set, in a secret random order, as the pool blinds it;
  reblinded H(x)^(ab) back from the operator, as it re-blinds them (unbalanced: each
            batch is un-blinded to H(x)^a as it arrives);
  operator  H(y)^a of the operator's set, each batch re-blinded to H(y)^(ab) as it
            arrives (unbalanced: stored as this epoch's cached set, not re-blinded).
Then the double-blinded values are matched (sorted 64-bit prefixes, confirmed on all 32
bytes) and Finish closes the session; in mode both it carries the matched positions,
and both parties build the same Alignment (protocol/psi/alignment.py).

The input is a node_core Dataset, so malformed numbers were already rejected and
counted in its ValidationReport (the CLI prints and saves that report), and formatting
variants of one number are one canonical id. What each party learns: see
protocol/psi/__init__.py.
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import psutil

from bank_node.psi_cache import OperatorSetCache
from node_core.ingest import Dataset
from node_core.node import NodeContext, PeerLink
from protocol.errors import FailedPrecondition, InvalidArgument
from protocol.psi.alignment import (
    Alignment,
    align,
    data_fingerprint,
    save_alignment,
)
from protocol.psi.group import (
    CAPABILITY,
    ITEM_BYTES,
    PHONE_BYTES,
    SUITE,
    BlindingKey,
    UnblindingKey,
    invertible_key,
)
from protocol.psi.matching import (
    as_items,
    match_positions,
    pack_pairs,
    secure_permutation,
)
from protocol.psi.messages import PsiMode, PsiOpen, PsiOpened
from protocol.psi.pool import (
    FEED_CAPACITY,
    InvalidGroupElement,
    OrderedResults,
    PsiPool,
    batches,
    feed,
    shared_pool,
)
from protocol.psi.service import (
    download_operator_set,
    download_reblinded,
    finish,
    open_session,
    upload_bank_set,
)

# progress(stage, done, total): stages "upload", "reblinded", "operator", "match".
Progress = Callable[[str, int, int], None]


@dataclass
class PsiResult:
    """The bank's outcome of one session."""

    session_id: str
    counterpart: str
    mode: PsiMode
    unbalanced: bool
    bank_set_size: int
    operator_set_size: int
    intersection_size: int
    # Indices into the dataset's accepted rows that are in the intersection (sorted);
    # None in mode cardinality, where the bank learns only the count.
    matched_rows: np.ndarray | None
    alignment: Alignment | None  # mode both only
    timings: dict[str, float] = field(default_factory=dict)
    payload_bytes: int = 0  # stream payloads both ways (gRPC/TLS framing excluded)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "session_id": self.session_id,
            "counterpart": self.counterpart,
            "mode": self.mode.value,
            "unbalanced": self.unbalanced,
            "bank_set_size": self.bank_set_size,
            "operator_set_size": self.operator_set_size,
            "intersection_size": self.intersection_size,
            "payload_bytes": self.payload_bytes,
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
        }
        if self.alignment is not None:
            out["alignment_id"] = self.alignment.alignment_id
            out["alignment_digest"] = self.alignment.digest()
        return out


class _Keys:
    def __init__(self, unbalanced: bool) -> None:
        self.unblinding: UnblindingKey | None = None
        if unbalanced:
            self.blinding, self.unblinding = invertible_key()
        else:
            self.blinding = BlindingKey.generate()


def _counted(
    parts: Iterable[bytes], progress: Progress, stage: str, total: int
) -> Iterator[bytes]:
    done = 0
    for part in parts:
        yield part
        done += len(part) // ITEM_BYTES
        progress(stage, done, total)


class _Collector:
    """Copies pool results into a buffer as they complete, releasing each one."""

    def __init__(self, into: bytearray) -> None:
        self.results = OrderedResults()
        self._into = into
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        offset = 0
        try:
            for part in self.results.drain():
                self._into[offset : offset + len(part)] = part
                offset += len(part)
        except InvalidGroupElement as exc:
            self._error = InvalidArgument(f"operator sent an invalid item: {exc}")
        except BaseException as exc:
            self._error = exc
        else:
            if offset != len(self._into):
                self._error = InvalidArgument(
                    f"expected {len(self._into)} bytes of results, got {offset}"
                )

    def finish(self, error: BaseException | None = None) -> None:
        """Wait for the last result (or cancel the rest on `error`); re-raise."""
        if error is not None:
            self.results.cancel(error)
        else:
            self.results.close()
        self._thread.join()
        if error is None and self._error is not None:
            raise self._error


class _Run:
    """One session's moving parts (kept off run_psi so each step reads alone)."""

    def __init__(
        self,
        ctx: NodeContext,
        channel: grpc.Channel,
        counterpart: str,
        opened: PsiOpened,
        keys: _Keys,
        pool: PsiPool,
        progress: Progress,
    ) -> None:
        self.ctx, self.channel, self.counterpart = ctx, channel, counterpart
        self.opened, self.keys, self.pool, self.progress = opened, keys, pool, progress
        self.sid = opened.session_id
        self.batch = ctx.config.psi.batch_items
        self.deadline = ctx.limits.stream_deadline_s
        self.timings: dict[str, float] = {}

    def timed(self, name: str, start: float, work: Callable[[], None]) -> None:
        work()
        self.timings[name] = time.perf_counter() - start

    def upload(self, packed: bytes, n: int) -> None:
        blinded = feed(
            lambda part: self.pool.blind(self.keys.blinding, part),
            batches(packed, PHONE_BYTES, self.batch),
            FEED_CAPACITY,
        )
        parts = _counted(blinded.drain(), self.progress, "upload", n)
        try:
            sent = upload_bank_set(
                self.channel,
                self.sid,
                n,
                parts,
                self.ctx.limits.chunk_bytes,
                self.deadline,
            )
        except BaseException as exc:
            blinded.cancel(exc)  # stop blinding for a session that is over
            raise
        if sent != n:
            raise InvalidArgument(f"operator acknowledged {sent} of {n} items")

    def reblinded(self, n: int, into: bytearray, unblinded: bytearray | None) -> None:
        incoming = download_reblinded(
            self.channel, self.sid, n, self.batch, self.deadline
        )
        unblinding = self.keys.unblinding
        collector = _Collector(unblinded) if unblinded is not None else None
        offset = 0
        try:
            for batch in _counted(incoming, self.progress, "reblinded", n):
                into[offset : offset + len(batch)] = batch
                offset += len(batch)
                if collector is not None and unblinding is not None:
                    collector.results.append(self.pool.unblind(unblinding, batch))
        except BaseException as exc:
            if collector is not None:
                collector.finish(exc)
            raise
        if collector is not None:
            collector.finish()

    def operator_set(self, m: int, into: bytearray, reblind: bool) -> None:
        incoming = download_operator_set(
            self.channel, self.sid, m, self.batch, self.deadline
        )
        collector = _Collector(into) if reblind else None
        offset = 0
        try:
            for batch in _counted(incoming, self.progress, "operator", m):
                if collector is not None:
                    collector.results.append(
                        self.pool.multiply(self.keys.blinding, batch)
                    )
                else:
                    into[offset : offset + len(batch)] = batch
                    offset += len(batch)
        except BaseException as exc:
            if collector is not None:
                collector.finish(exc)
            raise
        if collector is not None:
            collector.finish()


def _cpu_seconds(pool: PsiPool) -> float:
    """CPU time of this process and its pool's workers (for the timings report)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    total = own.ru_utime + own.ru_stime
    for pid in pool.worker_pids():
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _run_threads(jobs: dict[str, Callable[[], None]]) -> None:
    """Run the session's streams concurrently; re-raise the first failure."""
    errors: list[BaseException] = []

    def guard(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=guard, args=(job,), name=f"psi-{name}", daemon=True)
        for name, job in jobs.items()
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def run_psi(
    ctx: NodeContext,
    counterpart: str,
    dataset: Dataset,
    mode: PsiMode,
    *,
    unbalanced: bool = False,
    channel: grpc.Channel | None = None,
    progress: Progress | None = None,
    pool: PsiPool | None = None,
    job_id: str = "",
) -> PsiResult:
    """Handshake (on `channel`, or a new channel), then intersect the dataset's
    accepted ids with the counterpart's set (inside approved job `job_id`; outside a
    job the operator runs only what its policy allows without one)."""
    with ctx.link(counterpart, (CAPABILITY,), channel) as link:
        return psi_session(
            ctx, link, dataset, mode, unbalanced=unbalanced, progress=progress,
            pool=pool, job_id=job_id,
        )  # fmt: skip


def psi_session(
    ctx: NodeContext,
    link: PeerLink,
    dataset: Dataset,
    mode: PsiMode,
    *,
    unbalanced: bool = False,
    progress: Progress | None = None,
    pool: PsiPool | None = None,
    job_id: str = "",
) -> PsiResult:
    """One session of job `job_id` on a link whose handshake is done and shares
    CAPABILITY."""
    if CAPABILITY not in link.hello.shared_capabilities:
        raise FailedPrecondition(f"{link.counterpart} does not speak {CAPABILITY}")
    report = progress or (lambda stage, done, total: None)
    pool = pool or shared_pool(ctx.config.psi.workers)
    pool.warm_up()
    return _session(
        ctx, link.channel, link.counterpart, dataset, mode, unbalanced, pool, report,
        job_id,
    )  # fmt: skip


def _session(
    ctx: NodeContext,
    channel: grpc.Channel,
    counterpart: str,
    dataset: Dataset,
    mode: PsiMode,
    unbalanced: bool,
    pool: PsiPool,
    progress: Progress,
    job_id: str,
) -> PsiResult:
    start = time.perf_counter()
    cpu_start = _cpu_seconds(pool)
    ids = np.asarray(dataset.ids)
    n = len(ids)
    keys = _Keys(unbalanced)
    cache = OperatorSetCache(ctx.config.state_dir, counterpart)
    cache.purge_expired(time.time())
    # The upload order is secret: positions the operator later sees (mode both) say
    # nothing about the bank's file order.
    upload_order = secure_permutation(n)
    packed = np.ascontiguousarray(ids[upload_order].astype(f"S{PHONE_BYTES}")).tobytes()
    opened = open_session(
        channel,
        PsiOpen(mode, n, SUITE, unbalanced, cache.held() if unbalanced else "", job_id),
        ctx.limits.deadline_s,
    )
    sid, m = opened.session_id, opened.operator_set_size
    ctx.store.append_audit(
        "psi.session.opened",
        counterpart=counterpart,
        subject=sid,
        detail={
            "mode": mode.value,
            "bank_set_size": n,
            "operator_set_size": m,
            "job_id": job_id,
        },
    )
    run = _Run(ctx, channel, counterpart, opened, keys, pool, progress)
    reblinded = bytearray(n * ITEM_BYTES)
    unblinded = bytearray(n * ITEM_BYTES) if unbalanced else None
    operator = bytearray(m * ITEM_BYTES) if opened.operator_set_follows else None
    jobs: dict[str, Callable[[], None]] = {
        "upload": lambda: run.timed("upload", start, lambda: run.upload(packed, n)),
        "reblinded": lambda: run.timed(
            "reblinded", start, lambda: run.reblinded(n, reblinded, unblinded)
        ),
    }
    if operator is not None:
        jobs["operator"] = lambda: run.timed(
            "operator_set",
            start,
            lambda: run.operator_set(m, operator, reblind=not unbalanced),
        )
    _run_threads(jobs)
    compare_start = time.perf_counter()
    if unbalanced:
        assert unblinded is not None
        if operator is not None:
            cache.store(
                opened.operator_set_id, operator, opened.operator_set_expires_at
            )
        left, right = as_items(unblinded), cache.load(opened.operator_set_id, m)
    else:
        assert operator is not None
        left, right = as_items(reblinded), as_items(operator)
    bank_pos, op_pos = match_positions(left, right)
    progress("match", len(bank_pos), n)
    run.timings["match"] = time.perf_counter() - compare_start
    alignment = None
    matched_rows: np.ndarray | None = np.sort(upload_order[bank_pos])
    if mode is PsiMode.BOTH:
        alignment = align(
            sid,
            counterpart,
            as_items(reblinded)[bank_pos],
            upload_order[bank_pos],
            _fingerprint(dataset),
        )
        payload = pack_pairs(bank_pos, op_pos)
    else:
        payload = b""
        if mode is PsiMode.CARDINALITY:
            matched_rows = None  # positions are meaningless: the operator shuffled
    finished = finish(
        channel, sid, payload, ctx.limits.chunk_bytes, ctx.limits.deadline_s
    )
    if alignment is not None:
        if (finished.alignment_id, finished.intersection_size) != (sid, alignment.size):
            raise FailedPrecondition(
                f"operator aligned {finished.intersection_size} rows under"
                f" {finished.alignment_id!r}, expected {alignment.size} under {sid!r}"
            )
        save_alignment(ctx.config.state_dir, alignment)
    run.timings["session"] = time.perf_counter() - start
    run.timings["session_cpu"] = _cpu_seconds(pool) - cpu_start
    result = PsiResult(
        session_id=sid,
        counterpart=counterpart,
        mode=mode,
        unbalanced=unbalanced,
        bank_set_size=n,
        operator_set_size=m,
        intersection_size=int(len(bank_pos)),
        matched_rows=matched_rows,
        alignment=alignment,
        timings=run.timings,
        payload_bytes=2 * n * ITEM_BYTES + len(operator or b"") + len(payload),
    )
    ctx.store.append_audit(
        "psi.session.finished",
        counterpart=counterpart,
        subject=sid,
        detail={
            "mode": mode.value,
            "bank_set_size": n,
            "operator_set_size": m,
            "intersection_size": result.intersection_size,
        },
    )
    return result


def _fingerprint(dataset: Dataset) -> str:
    path = Path(dataset.report.source)
    rows = len(dataset.ids)
    return data_fingerprint(path, rows) if path.is_file() else f"memory:rows={rows}"
