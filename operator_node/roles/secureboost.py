"""The operator's passive role in SecureBoost (protocol.secureboost).

Per job: at Setup the operator codes its job columns (categoricals as ordinal codes
fitted on the training rows), bins those the bank asks for, and keeps an
OperatorSbtParty under the job's typed state (only for a job approved as secureboost);
every later call is checked against the job (approved, this bank's, bound and set up)
before the party sees it, and the party accepts only the protocol's order, its
policy's minimum of rows per node (policy.min_batch_size) and well-formed fields. At
Finish it stores its part of the model (its splits' thresholds and the trees' shapes,
never leaf values) in its model registry; afterwards it answers only leaf-set requests
of the kept trees (batch prediction).

Training that stays idle for longer than the node's transport.stream_deadline_s (no
call of the bank while a tree is open or between trees) is abandoned: the job fails in
the operator's store, its ciphertexts are released and every later call is refused.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from models.secureboost.encoding import ColumnCodes
from node_core.model_registry import ModelPart, ModelRecord
from node_core.node import NodeContext, Registration
from operator_node.job_desk import JobDesk
from operator_node.job_session import JobSession
from operator_node.roles.base import PassiveRole
from protocol.auth import PeerDirectory
from protocol.domain import JobStatus, Peer, Split
from protocol.errors import FailedPrecondition
from protocol.secureboost import messages as m
from protocol.secureboost.operator_party import OperatorSbtParty
from protocol.secureboost.service import PROTOCOL, secureboost_service

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class _SbtJob:
    party: OperatorSbtParty
    codes: ColumnCodes  # every job column, in OperatorFeature index order
    features: tuple[int, ...]  # the columns the bank asked for at Setup
    context: m.SbtWireContext
    last_call: float
    busy_s: float = 0.0  # wall time inside this job's calls
    calls: int = 0
    abandoned: str = ""
    finished: bool = False
    record: ModelRecord | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class OperatorSecureBoost(PassiveRole[_SbtJob]):
    """The passive role of model type secureboost: handler of the SecureBoost
    service (protocol.secureboost.service.SecureBoostHandler)."""

    model_type: ClassVar[str] = "secureboost"
    protocol = PROTOCOL
    title: ClassVar[str] = "SecureBoost"

    def __init__(self, ctx: NodeContext, desk: JobDesk) -> None:
        super().__init__(ctx, desk)
        self.idle_timeout_s = self.ctx.limits.stream_deadline_s
        self._watched: dict[str, tuple[JobSession, _SbtJob]] = {}
        self._watch_lock = threading.Lock()
        self._reaper: threading.Thread | None = None

    def service(self, directory: PeerDirectory) -> Registration:
        return secureboost_service(
            directory, self, self.ctx.max_transfer_bytes, self.ctx.limits.chunk_bytes
        )

    def model_part(self, state: _SbtJob) -> ModelPart:
        return ModelPart(
            kind="secureboost.operator",
            payload={
                "model": state.party.model().to_dict(),
                "columns": [state.codes.columns[f] for f in state.features],
                "codes": state.codes.to_dict(),
            },
        )

    # ---- the job's state -----------------------------------------------------------
    def _open(self, peer: Peer, job_id: str) -> _SbtJob:
        state = self.job(peer, job_id)[1]
        if state.abandoned:
            raise FailedPrecondition(f"job {job_id}: {state.abandoned}")
        return state

    def wire_context(self, peer: Peer, job_id: str) -> m.SbtWireContext:
        return self._open(peer, job_id).context

    def _run(self, state: _SbtJob, call: Callable[[], T]) -> T:
        """One call on the party, serialised per job and timed."""
        with state.lock:
            if state.abandoned:
                raise FailedPrecondition(state.abandoned)
            started = time.perf_counter()
            try:
                return call()
            finally:
                state.busy_s += time.perf_counter() - started
                state.calls += 1
                state.last_call = time.monotonic()

    # ---- SecureBoostHandler --------------------------------------------------------
    def setup(self, peer: Peer, request: m.SbtSetup) -> m.SbtSetupReply:
        session = self.session_to_set_up(peer, request.job_id)
        positions = session.positions()
        if session.state(self.state_key) is not None:
            raise FailedPrecondition(f"job {request.job_id}: already set up")
        policy = self.ctx.config.counterpart(peer.party_id).policy
        frame = session.features()
        kinds = {c: session.kind(c) for c in session.columns}
        train, valid = positions[Split.TRAIN], positions[Split.VALIDATION]
        codes = ColumnCodes.fit(frame.iloc[train], kinds)
        x = codes.transform(frame)
        names = tuple(
            session.display_name(i, policy.disclose_feature_names)
            for i in range(len(session.columns))
        )
        party = OperatorSbtParty(
            x[train],
            names,
            validation=x[valid],
            min_node_rows=policy.min_batch_size,
        )
        started = time.perf_counter()
        reply = party.setup(request)
        state = _SbtJob(
            party,
            codes,
            request.features,
            m.SbtWireContext(request.public_key, len(train), len(valid)),
            time.monotonic(),
            busy_s=time.perf_counter() - started,
        )
        session.attach(self.state_key, state)
        self._watch(session, state)
        self.ctx.store.append_audit(
            "secureboost.setup",
            counterpart=peer.party_id,
            subject=request.job_id,
            detail={
                "features": len(request.features),
                "max_bins": request.max_bins,
                "key_bits": request.public_key.n_bits,
                "min_operator_rows": request.min_operator_rows,
            },
        )
        return reply

    def gradients(self, peer: Peer, job_id: str, message: m.TreeGradients) -> None:
        state = self._open(peer, job_id)
        self._run(state, lambda: state.party.accept_gradients(message))

    def histograms(
        self, peer: Peer, job_id: str, request: m.HistogramRequest
    ) -> m.HistogramReply:
        state = self._open(peer, job_id)
        return self._run(state, lambda: state.party.histograms(request))

    def split(self, peer: Peer, job_id: str, request: m.SplitRequest) -> m.SplitReply:
        state = self._open(peer, job_id)
        return self._run(state, lambda: state.party.split(request))

    def finish_tree(self, peer: Peer, job_id: str, message: m.TreeDone) -> None:
        state = self._open(peer, job_id)
        self._run(state, lambda: state.party.finish_tree(message))

    def leaf_sets(
        self, peer: Peer, job_id: str, request: m.LeafSetsRequest
    ) -> m.LeafSetsReply:
        state = self._open(peer, job_id)
        return self._run(state, lambda: state.party.leaf_sets(request))

    def finish(
        self, peer: Peer, job_id: str, message: m.TrainingDone
    ) -> m.TrainingDoneReply:
        state = self._open(peer, job_id)
        reply = self._run(state, lambda: state.party.finish_training(message))
        state.finished = True
        state.record = self.save_model_part(peer, job_id, state)
        party = state.party
        self.ctx.store.append_audit(
            "secureboost.finished",
            counterpart=peer.party_id,
            subject=job_id,
            detail={
                "trees": message.trees,
                "operator_trees": reply.operator_trees,
                "model_version": state.record.version,
                "calls": state.calls,
                "busy_s": round(state.busy_s, 3),
                **{f"{k}_s": round(v, 3) for k, v in party.timings.items()},
                "multiplications": party.stats.multiplications,
            },
        )
        return reply

    # ---- idle training -------------------------------------------------------------
    def _watch(self, session: JobSession, state: _SbtJob) -> None:
        with self._watch_lock:
            self._watched[session.job_id] = (session, state)
            if self._reaper is None:
                self._reaper = threading.Thread(
                    target=self._reap_forever, name="secureboost-idle", daemon=True
                )
                self._reaper.start()

    def _reap_forever(self) -> None:
        while True:
            time.sleep(max(0.2, min(self.idle_timeout_s / 4, 5.0)))
            self.reap(time.monotonic())

    def reap(self, now: float) -> None:
        """Release jobs whose session ended; abandon training idle for too long."""
        with self._watch_lock:
            watched = list(self._watched.items())
        for job_id, (session, state) in watched:
            if session.state(self.state_key) is not state:  # the job ended
                self._forget(job_id, state)
                continue
            if state.finished or not state.lock.acquire(blocking=False):
                continue  # finished, or a call is running: not idle
            try:
                idle = now - state.last_call
                if idle <= self.idle_timeout_s:
                    continue
                state.abandoned = (
                    f"SecureBoost training was idle for {idle:.0f} s (limit"
                    f" {self.idle_timeout_s:.0f} s) and was abandoned"
                )
                state.party.close()
            finally:
                state.lock.release()
            self._forget(job_id, state)
            self.ctx.store.set_job_status(
                job_id, JobStatus.FAILED, error=state.abandoned
            )
            self.ctx.store.append_audit(
                "secureboost.abandoned",
                counterpart=session.counterpart,
                subject=job_id,
                detail={"idle_s": round(idle, 1)},
            )
            log.info("secureboost training abandoned", extra={"job": job_id})

    def _forget(self, job_id: str, state: _SbtJob) -> None:
        with state.lock:
            state.party.close()
        with self._watch_lock:
            self._watched.pop(job_id, None)
