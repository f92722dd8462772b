"""The operator's passive role in the PSI: policy checks, sessions, blinded sets.

The operator serves its subscriber data source (`psi.source`, else the counterpart's
`policy.source`; see data.py). Every Open is checked before any data moves
(policy.py: sizes, suite, modes and the approved job; then open sessions, the daily
budget of quota.py and the job's one session of jobs.py); each refusal is written to
the audit chain as `psi.refused` with its reason. Accepted sessions are
audited as `psi.session.opened` and `psi.session.finished` (sizes only; mode both adds
the number of aligned rows and the alignment's digest), abandoned ones as
`psi.session.failed`.

No session can hold a counterpart's slot (`psi.max_sessions`) for long: one with no
activity (a call, a chunk in either direction) for `psi.session_idle_s` is dropped by a
housekeeping timer, with no later call needed; a stream whose call the bank cancels or
whose connection drops ends its session at once; and no session outlives
`transport.stream_deadline_s`. The same timer deletes unbalanced-mode epoch keys and
blinded sets as soon as their epoch ends (epochs.py), and alignments older than
`psi.retention_days` (node_core/retention.py).

Pipelining: at Open the operator starts blinding its own set (in a fresh secret order)
in the process pool, only as fast as the bank downloads it; the bank's uploaded
batches are re-blinded as they arrive, and both downloads stream results as soon as
they are ready. So the cores of both parties stay busy, and memory holds the bank's set
once at wire size (32 bytes per item) and the operator's only in flight.
What each party learns is stated in protocol/psi/__init__.py.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from node_core.checkpoint import purge_checkpoints
from node_core.config import ConfigError, CounterpartConfig
from node_core.ingest import IngestionError
from node_core.node import NodeContext, Registration
from node_core.retention import purge_alignments
from node_core.store import StoreError
from operator_node.psi.data import Subscribers, SubscriberSources
from operator_node.psi.epochs import EpochSets, epoch_end, epoch_of
from operator_node.psi.jobs import PsiJobSessions
from operator_node.psi.policy import Refusal, check_job, check_request
from operator_node.psi.quota import DailyBudget
from protocol.auth import PeerDirectory
from protocol.domain import JobStatus, Peer, StreamHeader
from protocol.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ProtocolError,
    ResourceExhausted,
)
from protocol.ids import new_hex_id
from protocol.jobs.messages import PSI_JOB
from protocol.psi.alignment import align, save_alignment
from protocol.psi.group import ITEM_BYTES, SUITE, BlindingKey
from protocol.psi.matching import (
    as_items,
    permuted_batches,
    secure_permutation,
    unpack_pairs,
)
from protocol.psi.messages import (
    BANK_REBLINDED,
    MATCH_ITEM_BYTES,
    OPERATOR_BLINDED,
    PsiFinished,
    PsiMode,
    PsiOpen,
    PsiOpened,
)
from protocol.psi.pool import (
    FEED_CAPACITY,
    InvalidGroupElement,
    OrderedResults,
    PsiPool,
    feed,
    shared_pool,
)
from protocol.psi.service import Outgoing, psi_service
from protocol.streams import IncomingStream

log = logging.getLogger(__name__)


@dataclass
class _Session:
    session_id: str
    counterpart: str
    mode: PsiMode
    bank_set_size: int
    operator_set_size: int
    key: BlindingKey
    order: np.ndarray  # operator rows in the order its set is streamed
    own: Callable[[Callable[[], bool]], Iterator[bytes]]
    own_follows: bool
    fingerprint: str
    unbalanced: bool
    expires: float  # hard deadline (transport.stream_deadline_s after Open)
    last_active: float  # last call or chunk; idle past psi.session_idle_s = dropped
    set_id: str = ""  # unbalanced: the epoch set's id
    job_id: str = ""  # the approved job the session runs for
    set_expires_at: float = 0.0  # unbalanced: when the epoch set's epoch ends
    own_results: OrderedResults | None = None  # balanced: this session's own set
    reblinded: OrderedResults = field(default_factory=OrderedResults)
    upload_started: bool = False
    own_sent: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


def _checked(parts: Iterator[bytes]) -> Iterator[bytes]:
    """Turn a worker's refusal of a bank item into the bank's INVALID_ARGUMENT."""
    try:
        yield from parts
    except InvalidGroupElement as exc:
        raise InvalidArgument(f"uploaded set: {exc}") from None


class OperatorPsi:
    """PsiHandler of the operator node (one per node process)."""

    def __init__(
        self,
        ctx: NodeContext,
        pool: PsiPool | None = None,
        clock: Callable[[], float] = time.time,
        on_activity: Callable[[str], None] | None = None,
    ) -> None:
        self._ctx = ctx
        self._clock = clock
        # Told the job id of every call or chunk, so the job desk does not take a
        # long, busy PSI job for an idle one.
        self._on_activity = on_activity
        self._psi = ctx.config.psi
        self._pool = pool
        self._budget = DailyBudget(ctx.config.state_dir)
        self._job_sessions = PsiJobSessions(ctx.config.state_dir)
        self._epochs = EpochSets(ctx.config.state_dir)
        self._sessions: dict[str, _Session] = {}
        self._sources = SubscriberSources(ctx.config, ctx.store)
        self._lock = threading.Lock()

    # ---- set-up --------------------------------------------------------------------
    def pool(self) -> PsiPool:
        if self._pool is None:
            self._pool = shared_pool(self._psi.workers)
        return self._pool

    def source_for(self, cp: CounterpartConfig) -> str | None:
        name = self._psi.source or cp.policy.source
        return name if name in self._ctx.config.data else None

    def warm_up(self) -> None:
        """Start the workers and load every served source (run in the background)."""
        sources = {self.source_for(cp) for cp in self._ctx.config.counterparts}
        sources.discard(None)
        if not sources:
            return  # no PSI data: no workers either
        try:
            self.pool().warm_up()
            for name in sorted(s for s in sources if s is not None):
                self.subscribers(name)
        except Exception:
            log.exception("PSI warm-up failed")

    def subscribers(self, name: str) -> Subscribers:
        """The source's numbers, loaded once and again only when the file changes."""
        return self._sources.get(name)

    # ---- PsiHandler ----------------------------------------------------------------
    def open(self, peer: Peer, request: PsiOpen) -> PsiOpened:
        cp = self._ctx.config.counterpart(peer.party_id)
        limits = cp.limits
        n = request.bank_set_size
        detail: dict[str, Any] = {
            "mode": request.mode.value,
            "bank_set_size": n,
            "unbalanced": request.unbalanced,
            "job_id": request.job_id,
        }

        def refuse(error: ProtocolError, reason: str) -> ProtocolError:
            self._ctx.store.append_audit(
                "psi.refused",
                counterpart=cp.party_id,
                detail={**detail, "reason": reason, "code": error.code},
            )
            return error

        source = self.source_for(cp)
        job = None
        if request.job_id:
            try:
                job = self._ctx.store.get_job(request.job_id)
            except StoreError:
                job = None
        try:
            check_request(self._ctx.party_id, cp, request, served=source is not None)
            check_job(self._ctx.party_id, cp, request, job)
        except Refusal as refusal:
            raise refuse(refusal.error, refusal.reason) from None
        assert source is not None
        try:
            subscribers = self.subscribers(source)
        except (IngestionError, ConfigError, OSError):
            log.exception("PSI data unavailable", extra={"source": source})
            raise refuse(
                FailedPrecondition(f"{self._ctx.party_id}'s PSI data is unavailable"),
                "data unavailable",
            ) from None
        now = self._clock()
        self._expire_sessions(now)
        with self._lock:
            open_now = sum(
                1 for s in self._sessions.values() if s.counterpart == cp.party_id
            )
            if open_now >= self._psi.max_sessions:
                raise refuse(
                    ResourceExhausted(
                        f"{cp.party_id} already has {open_now} PSI sessions open (limit"
                        f" {self._psi.max_sessions})"
                    ),
                    "too many sessions",
                )
            if request.job_id and self._job_sessions.session_of(request.job_id):
                raise refuse(
                    FailedPrecondition(
                        f"job {request.job_id} already ran its PSI session; propose a"
                        " new job"
                    ),
                    "job already ran its session",
                )
            charge = self._budget.charge(
                cp.party_id, n, limits.psi_max_daily_numbers, now
            )
            if not charge.granted:
                raise refuse(
                    ResourceExhausted(
                        f"PSI daily budget of {cp.party_id} exhausted:"
                        f" {charge.used_before} numbers already queried on {charge.day}"
                        f" (UTC), {n} more would pass the limit of"
                        f" {limits.psi_max_daily_numbers}"
                    ),
                    "daily budget exhausted",
                )
            session_id = new_hex_id()
            if request.job_id:
                # Checked above under the same lock, so the claim succeeds.
                self._job_sessions.claim(
                    request.job_id, cp.party_id, session_id, request.mode.value
                )
            session = self._start(session_id, cp.party_id, request, subscribers, now)
            session.job_id = request.job_id
            self._sessions[session.session_id] = session
        if job is not None and job.kind == PSI_JOB and job.status is JobStatus.APPROVED:
            self._ctx.store.set_job_status(job.id, JobStatus.RUNNING)
        self._ctx.store.append_audit(
            "psi.session.opened",
            counterpart=cp.party_id,
            subject=session.session_id,
            detail={**detail, "operator_set_size": session.operator_set_size},
        )
        return PsiOpened(
            session_id=session.session_id,
            operator_set_size=session.operator_set_size,
            suite=SUITE,
            operator_set_id=session.set_id if session.unbalanced else "",
            operator_set_follows=session.own_follows,
            operator_set_expires_at=session.set_expires_at,
        )

    def upload(self, peer: Peer, incoming: IncomingStream) -> int:
        header = incoming.header
        session = self._session(peer, header.session_id)
        with session.lock:
            if session.upload_started:
                raise FailedPrecondition("this session's set was already uploaded")
            session.upload_started = True
        pool = self.pool()
        try:
            expected = session.bank_set_size * ITEM_BYTES
            if header.item_bytes != ITEM_BYTES or header.total_bytes != expected:
                raise InvalidArgument(
                    f"upload of {header.total_bytes} bytes does not match the"
                    f" {session.bank_set_size} items of {ITEM_BYTES} bytes announced"
                    " at Open"
                )
            for batch in incoming.iter_items(self._psi.batch_items):
                self._touch(session)
                session.reblinded.append(pool.multiply(session.key, batch))
        except BaseException:
            session.reblinded.fail(
                FailedPrecondition("the bank's upload failed; session abandoned")
            )
            self._drop(session, "upload failed")
            raise
        session.reblinded.close()
        return session.bank_set_size

    def download_reblinded(
        self, peer: Peer, session_id: str, alive: Callable[[], bool]
    ) -> Outgoing:
        session = self._session(peer, session_id)
        header = StreamHeader(
            BANK_REBLINDED, session.bank_set_size * ITEM_BYTES, session_id, ITEM_BYTES
        )
        if session.mode is PsiMode.CARDINALITY:
            parts = self._shuffled(session, alive)
        else:
            parts = _checked(session.reblinded.iterate(alive))
        return header, self._watched(session, parts, alive)

    def download_operator_set(
        self, peer: Peer, session_id: str, alive: Callable[[], bool]
    ) -> Outgoing:
        session = self._session(peer, session_id)
        if not session.own_follows:
            raise FailedPrecondition(
                "the bank holds this epoch's operator set; it is not sent again"
            )
        with session.lock:
            if session.own_sent:
                raise FailedPrecondition("this session's operator set was already sent")
            session.own_sent = True
        header = StreamHeader(
            OPERATOR_BLINDED,
            session.operator_set_size * ITEM_BYTES,
            session_id,
            ITEM_BYTES,
        )
        return header, self._watched(session, session.own(alive), alive)

    def finish(self, peer: Peer, incoming: IncomingStream) -> PsiFinished:
        header = incoming.header
        session = self._session(peer, header.session_id)
        try:
            finished, digest = self._finish(session, incoming)
        except BaseException:
            self._drop(session, "finish failed")
            raise
        self._drop(session, None)
        detail: dict[str, Any] = {
            "mode": session.mode.value,
            "bank_set_size": session.bank_set_size,
            "operator_set_size": session.operator_set_size,
        }
        if digest:
            detail["aligned_rows"] = finished.intersection_size
            detail["alignment_digest"] = digest
        self._ctx.store.append_audit(
            "psi.session.finished",
            counterpart=session.counterpart,
            subject=session.session_id,
            detail=detail,
        )
        return finished

    # ---- internals -----------------------------------------------------------------
    def _start(
        self,
        session_id: str,
        counterpart: str,
        request: PsiOpen,
        subs: Subscribers,
        now: float,
    ) -> _Session:
        own: Callable[[Callable[[], bool]], Iterator[bytes]]
        own_results: OrderedResults | None = None
        set_id = ""
        set_expires_at = 0.0
        if request.unbalanced:
            entry = self._epochs.current(
                counterpart,
                epoch_of(now, self._psi.epoch_days),
                subs.fingerprint,
                subs.phones,
                self.pool(),
                self._psi.batch_items,
            )
            key, order, own, set_id = entry.key, entry.order, entry.parts, entry.set_id
            set_expires_at = epoch_end(entry.epoch, self._psi.epoch_days)
        else:
            # Fresh scalar and fresh secret order for every balanced session; the
            # set is blinded only as fast as the bank takes it (flat memory).
            key = BlindingKey.generate()
            order = secure_permutation(len(subs.phones))
            pool = self.pool()
            parts = permuted_batches(subs.phones, order, self._psi.batch_items)
            own_results = feed(lambda part: pool.blind(key, part), parts, FEED_CAPACITY)
            own = own_results.drain
        return _Session(
            session_id=session_id,
            counterpart=counterpart,
            mode=request.mode,
            bank_set_size=request.bank_set_size,
            operator_set_size=len(subs.phones),
            key=key,
            order=order,
            own=own,
            own_follows=not set_id or request.cached_set_id != set_id,
            fingerprint=subs.fingerprint,
            unbalanced=request.unbalanced,
            expires=now + self._ctx.limits.stream_deadline_s,
            last_active=now,
            set_id=set_id,
            set_expires_at=set_expires_at,
            own_results=own_results,
        )

    def _session(self, peer: Peer, session_id: str) -> _Session:
        with self._lock:
            session = self._sessions.get(session_id)
        # Another counterpart's session is reported exactly like a missing one.
        if session is None or session.counterpart != peer.party_id:
            raise NotFound(f"no open PSI session {session_id}")
        self._touch(session)
        return session

    def _touch(self, session: _Session) -> None:
        session.last_active = self._clock()
        if session.job_id and self._on_activity is not None:
            self._on_activity(session.job_id)

    def _watched(
        self, session: _Session, parts: Iterator[bytes], alive: Callable[[], bool]
    ) -> Iterator[bytes]:
        """Drop the session (and its queued work) if the bank goes away mid-stream."""
        try:
            for part in parts:
                self._touch(session)
                yield part
        except GeneratorExit:  # gRPC closed the stream: the call was cancelled
            self._drop(session, "abandoned by the bank")
            raise
        if not alive():
            self._drop(session, "abandoned by the bank")

    def _shuffled(
        self, session: _Session, alive: Callable[[], bool]
    ) -> Iterator[bytes]:
        """Cardinality: all re-blinded items in a fresh secret order, never kept."""
        items = as_items(b"".join(_checked(session.reblinded.iterate(alive))))
        if items.shape[0] != session.bank_set_size:
            return  # the bank went away; the stream ends short and is rejected
        shuffled = items[secure_permutation(items.shape[0])]
        yield shuffled.tobytes()

    def _finish(
        self, session: _Session, incoming: IncomingStream
    ) -> tuple[PsiFinished, str]:
        header = incoming.header
        if session.mode is not PsiMode.BOTH:
            if header.total_bytes:
                raise InvalidArgument("matches are sent only in mode both")
            incoming.read_all()
            return PsiFinished(), ""
        if header.item_bytes != MATCH_ITEM_BYTES:
            raise InvalidArgument(f"matches must be {MATCH_ITEM_BYTES}-byte items")
        count = header.total_bytes // MATCH_ITEM_BYTES
        if count > min(session.bank_set_size, session.operator_set_size):
            raise InvalidArgument(
                f"{count} matches cannot come from sets of {session.bank_set_size} and"
                f" {session.operator_set_size} numbers"
            )
        if session.reblinded.error is not None or not session.upload_started:
            raise FailedPrecondition("the bank's set was not uploaded in this session")
        bank_pos, op_pos = unpack_pairs(incoming.read_all())
        if count and (
            bank_pos.max() >= session.bank_set_size
            or op_pos.max() >= session.operator_set_size
        ):
            raise InvalidArgument("a match position is out of range")
        if np.unique(bank_pos).size != count or np.unique(op_pos).size != count:
            raise InvalidArgument("a match position repeats")
        reblinded = as_items(b"".join(_checked(iter(session.reblinded))))
        alignment = align(
            session.session_id,
            session.counterpart,
            reblinded[bank_pos],
            session.order[op_pos],
            session.fingerprint,
        )
        save_alignment(self._ctx.config.state_dir, alignment)
        return PsiFinished(alignment.size, alignment.alignment_id), alignment.digest()

    def _drop(self, session: _Session, failure: str | None) -> None:
        with self._lock:
            present = self._sessions.pop(session.session_id, None) is not None
        if failure is not None and present:
            error = FailedPrecondition(f"PSI session {failure}")
            session.reblinded.cancel(error)
            if session.own_results is not None:
                session.own_results.cancel(error)
            self._ctx.store.append_audit(
                "psi.session.failed",
                counterpart=session.counterpart,
                subject=session.session_id,
                detail={"reason": failure},
            )

    def _expire_sessions(self, now: float) -> None:
        """Drop sessions idle for psi.session_idle_s or past their deadline."""
        idle_s = self._psi.session_idle_s
        with self._lock:
            expired = [
                s
                for s in self._sessions.values()
                if s.expires < now or now - s.last_active > idle_s
            ]
            for session in expired:
                del self._sessions[session.session_id]
        for session in expired:
            reason = (
                f"idle for more than {idle_s:g} s"
                if now - session.last_active > idle_s
                else "past its deadline"
            )
            error = FailedPrecondition(f"PSI session expired: {reason}")
            session.reblinded.cancel(error)
            if session.own_results is not None:
                session.own_results.cancel(error)
            self._ctx.store.append_audit(
                "psi.session.failed",
                counterpart=session.counterpart,
                subject=session.session_id,
                detail={"reason": reason},
            )
            log.info("PSI session expired", extra={"session": session.session_id})

    def housekeeping(self, now: float | None = None) -> None:
        """One pass of the timer: expire idle sessions, delete ended epochs' keys."""
        now = self._clock() if now is None else now
        self._expire_sessions(now)
        old = purge_alignments(
            self._ctx.config.state_dir, self._psi.retention_days, now
        )
        # Job checkpoints hold aligned rows too.
        checkpoints = purge_checkpoints(
            self._ctx.config.state_dir, self._psi.retention_days, now
        )
        if old or checkpoints:
            detail = {"alignments": old, "retention_days": self._psi.retention_days}
            if checkpoints:
                detail["checkpoints"] = checkpoints
            self._ctx.store.append_audit("retention.deleted", detail=detail)
        current = epoch_of(now, self._psi.epoch_days)
        for counterpart, epoch in self._epochs.expire(current):
            self._ctx.store.append_audit(
                "psi.epoch.deleted",
                counterpart=counterpart,
                detail={"epoch": epoch, "reason": "epoch ended"},
            )

    def run_housekeeping(self, stop: threading.Event) -> threading.Thread:
        """Run housekeeping every few seconds until `stop` is set."""
        period = max(0.05, min(self._psi.session_idle_s / 4, 10.0))

        def loop() -> None:
            while not stop.wait(period):
                try:
                    self.housekeeping()
                except Exception:  # keep the timer alive; the next pass retries
                    log.exception("PSI housekeeping failed")

        thread = threading.Thread(target=loop, name="psi-housekeeping", daemon=True)
        thread.start()
        return thread


def psi_registration(
    ctx: NodeContext,
    directory: PeerDirectory,
    on_activity: Callable[[str], None] | None = None,
) -> Registration:
    """The Psi service of the operator node; loads its data in the background.
    `on_activity` is told the job id of every call or chunk of a job's session."""
    handler = OperatorPsi(ctx, on_activity=on_activity)
    threading.Thread(target=handler.warm_up, name="psi-warm-up", daemon=True).start()
    handler.run_housekeeping(ctx.stopped)
    return psi_service(
        directory, handler, ctx.max_transfer_bytes, ctx.limits.chunk_bytes
    )
