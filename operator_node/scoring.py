"""The operator's side of real-time scoring (protocol/scoring): consent, quotas, the
applicant's partial logit, and the audit entry of every query.

Order of a query: the model (the bank's own finished logistic-regression job, else
NOT_FOUND or FAILED_PRECONDITION), the consent's stateless checks against the key
registered for the bank, then atomically revocation, replay, use limit and the
counterpart's quotas (a refused quota counts no use), then the lookup. Every query
that reaches the handler, answered or refused, is audited with the keyed pseudonym
of the number, never the number.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from models.preprocess import FeaturePreprocessor
from node_core.config import CounterpartLimits
from node_core.ingest import Dataset
from node_core.model_registry import ModelRecord, ModelRegistry
from node_core.node import NodeContext
from node_core.store import StoreError
from operator_node.consent_book import ConsentBook
from protocol.domain import JobStatus, Peer
from protocol.errors import (
    FailedPrecondition,
    NotFound,
    ProtocolError,
    ResourceExhausted,
)
from protocol.scoring.consent import (
    SCORING_SCOPE,
    ConsentRefused,
    load_verification_key,
    verify_consent,
)
from protocol.scoring.messages import (
    Revocation,
    RevocationAnswer,
    ScoreAnswer,
    ScoreQuery,
    ScoreStatus,
)

log = logging.getLogger(__name__)
DAY_S = 86400.0
SCORED_KINDS = ("hetero_lr.operator",)


@dataclass(frozen=True)
class LrPart:
    """The operator's part of a joint logistic regression, ready to score."""

    version: int
    columns: list[str]
    weights: np.ndarray
    preprocessor: FeaturePreprocessor
    purpose: str

    def partial_logits(self, dataset: Dataset) -> np.ndarray:
        """The partial logit of every row of the data source: computed once per
        model and data file, so a query is a lookup (nothing in it depends on the
        request)."""
        frame = dataset.features[self.columns]
        return np.asarray(self.preprocessor.transform(frame) @ self.weights)


class ScoringQuota:
    """Per counterpart: a token bucket of `scoring_per_second` tokens refilled at that
    rate, and a count per UTC day (restarted by `counterparts reset-quota`). The day's
    count starts from `counted(party, since)`, the queries the audit log holds, so a
    restart does not reset it."""

    def __init__(
        self,
        reset_at: Callable[[str], float],
        counted: Callable[[str, float], int] = lambda party, since: 0,
    ) -> None:
        self._reset_at = reset_at
        self._counted = counted
        self._buckets: dict[str, tuple[float, float]] = {}  # party -> (tokens, at)
        self._days: dict[str, tuple[float, int]] = {}  # party -> (day start, count)
        self._lock = threading.Lock()

    def take(self, party: str, limits: CounterpartLimits, now: float) -> None:
        rate = limits.scoring_per_second
        with self._lock:
            tokens, at = self._buckets.get(party, (rate, now))
            tokens = min(rate, tokens + max(0.0, now - at) * rate)
            day = max(now - now % DAY_S, self._reset_at(party))
            start, count = self._days.get(party, (-1.0, 0))
            if start != day:
                start, count = day, self._counted(party, day)
            if tokens < 1.0:
                raise ResourceExhausted(
                    f"{party} is over its scoring rate of {rate:g} queries per second"
                    " (counterparts[].limits.scoring_per_second)"
                )
            if count >= limits.scoring_daily:
                raise ResourceExhausted(
                    f"{party} has used its {limits.scoring_daily} scoring queries of"
                    " today (counterparts[].limits.scoring_daily, UTC day)"
                )
            self._buckets[party] = (tokens - 1.0, now)
            self._days[party] = (start, count + 1)


class OperatorScoring:
    """Handler of the Scoring service."""

    def __init__(
        self, ctx: NodeContext, clock: Callable[[], float] = time.time
    ) -> None:
        self.ctx = ctx
        self._clock = clock
        self.book = ConsentBook(ctx.store)
        self.quota = ScoringQuota(ctx.store.quota_reset_at, self._answered_since)
        self._models = ModelRegistry(ctx.config.state_dir, ctx.store)
        self._keys = {
            cp.party_id: load_verification_key(cp.consent_key)
            for cp in ctx.config.counterparts
            if cp.consent_key is not None
        }
        self._parts: dict[tuple[str, str], LrPart] = {}
        self._index: tuple[int, dict[str, int]] | None = None  # id(dataset), rows
        # (party, job) -> (id(dataset), partial logit per row of the dataset)
        self._logits: dict[tuple[str, str], tuple[int, np.ndarray]] = {}
        self._lock = threading.Lock()

    def _answered_since(self, party: str, since: float) -> int:
        """Queries answered for `party` since `since` (ok or not a subscriber)."""
        return sum(
            1
            for e in self.ctx.store.audit_entries()
            if e.action == "scoring.query"
            and e.counterpart == party
            and e.ts >= since
            and e.detail.get("outcome") in {s.value for s in ScoreStatus}
        )

    # ---- model and data ---------------------------------------------------------
    def _part(self, peer: Peer, job_id: str) -> LrPart:
        key = (peer.party_id, job_id)
        with self._lock:
            cached = self._parts.get(key)
        if cached is not None:
            return cached
        try:
            job = self.ctx.store.get_job(job_id)
        except StoreError:
            job = None
        records = [
            r
            for r in self._models.list()
            if r.job_id == job_id and r.counterpart == peer.party_id
        ]
        if job is None or job.counterpart != peer.party_id or not records:
            raise NotFound(f"no model of job {job_id} for {peer.party_id}")
        if job.status is not JobStatus.SUCCEEDED:
            raise FailedPrecondition(
                f"job {job_id} is {job.status.value}; only a finished job's model"
                " is scored"
            )
        record = records[-1]
        if record.kind not in SCORED_KINDS:
            raise FailedPrecondition(
                "scoring not yet available for model type"
                f" {record.kind.rsplit('.', 1)[0]}"
            )
        part = self._load(record, job.spec.get("proposal", {}).get("purpose", ""))
        with self._lock:
            self._parts[key] = part
        return part

    @staticmethod
    def _load(record: ModelRecord, purpose: str) -> LrPart:
        doc = record.load()
        return LrPart(
            record.version,
            list(doc["columns"]),
            np.asarray(doc["weights"], dtype=np.float64),
            FeaturePreprocessor.from_dict(doc["preprocessor"]),
            purpose,
        )

    def _logits_of(
        self, key: tuple[str, str], part: LrPart, dataset: Dataset
    ) -> np.ndarray:
        with self._lock:
            cached = self._logits.get(key)
        if cached is not None and cached[0] == id(dataset):
            return cached[1]
        logits = part.partial_logits(dataset)
        with self._lock:
            self._logits[key] = (id(dataset), logits)
        return logits

    def _row(self, dataset: Dataset, phone: str) -> int | None:
        with self._lock:
            if self._index is None or self._index[0] != id(dataset):
                rows = {str(p): i for i, p in enumerate(dataset.ids)}
                self._index = (id(dataset), rows)
            return self._index[1].get(phone)

    # ---- the handler ------------------------------------------------------------
    def score(self, peer: Peer, query: ScoreQuery) -> ScoreAnswer:
        started = time.perf_counter()
        record = query.consent.record
        person = self.ctx.store.pseudonym(record.phone)
        party = peer.party_id
        try:
            part = self._part(peer, query.job_id)
            now = self._clock()
            verify_consent(
                query.consent,
                key=self._keys.get(party),
                bank_id=party,
                phone=record.phone,
                purpose=part.purpose,
                scope=SCORING_SCOPE,
                now=now,
            )
            limits = self.ctx.config.counterpart(party).limits
            self.book.use(
                party, record, then=lambda: self.quota.take(party, limits, now)
            )
            source = self.ctx.config.counterpart(party).policy.source
            dataset = self.ctx.served_dataset(source)
            row = self._row(dataset, record.phone)
            if row is None:
                answer = ScoreAnswer(
                    query.request_id, ScoreStatus.NOT_SUBSCRIBER, 0.0, part.version
                )
            else:
                logits = self._logits_of((party, query.job_id), part, dataset)
                z = float(logits[row])
                answer = ScoreAnswer(query.request_id, ScoreStatus.OK, z, part.version)
        except ProtocolError as exc:
            reason = exc.reason if isinstance(exc, ConsentRefused) else exc.code
            self._audit(party, query, person, f"refused: {reason}", started)
            raise
        self._audit(party, query, person, answer.status.value, started)
        return answer

    def _audit(
        self, party: str, query: ScoreQuery, person: str, outcome: str, started: float
    ) -> None:
        self.ctx.store.append_audit(
            "scoring.query",
            counterpart=party,
            subject=query.job_id,
            detail={
                "request_id": query.request_id,
                "consent_id": query.consent.record.consent_id,
                "person": person,
                "outcome": outcome,
                "ms": round((time.perf_counter() - started) * 1000, 3),
            },
        )

    def revoke(self, peer: Peer, revocation: Revocation) -> RevocationAnswer:
        used = self.book.revoke(peer.party_id, revocation.consent_id, self._clock())
        log.info("consent revoked", extra={"counterpart": peer.party_id})
        return RevocationAnswer(revocation.consent_id, used)
