"""The bank's scoring engine: one applicant, the bank's part of the model locally,
the operator's part over one warm mutual-TLS channel (protocol/scoring), and an
audit entry per query with the keyed pseudonym of the number.

The channel to the operator is opened and handshaken once and reused by every
request (no TLS handshake per request); each call has the configured deadline.
Errors are ScoringError with a stable code (bank_node/scoring/api.py maps them to
HTTP).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import grpc

from bank_node.consents import BankConsents
from bank_node.scoring.model import BANK_LR_KIND, BankLrPart, ScoringError
from node_core.model_registry import ModelRegistry
from node_core.node import NodeContext
from protocol.errors import PeerCallError, ProtocolError
from protocol.identifiers import InvalidPhoneError, normalize_phone
from protocol.ids import new_hex_id
from protocol.scoring.consent import ConsentRefused
from protocol.scoring.messages import Revocation, ScoreQuery, ScoreStatus
from protocol.scoring.service import PROTOCOL, ScoringClient
from protocol.session.service import handshake

log = logging.getLogger(__name__)
HANDSHAKE_MIN_S = 2.0  # a first TLS handshake on a loaded machine takes ~100 ms

# The operator's refusals, as API errors: (code, HTTP status).
_PEER_ERRORS = {
    "PERMISSION_DENIED": ("consent_refused", 403),
    "RESOURCE_EXHAUSTED": ("quota_exceeded", 429),
    "NOT_FOUND": ("unknown_model", 404),
    "FAILED_PRECONDITION": ("model_unavailable", 409),
    "DEADLINE_EXCEEDED": ("operator_unreachable", 504),
    "UNAVAILABLE": ("operator_unreachable", 504),
}


@dataclass(frozen=True)
class ScoreResult:
    request_id: str
    model: str
    model_version: int
    probability: float
    score: float | None
    reason_codes: list[dict[str, Any]]
    latency_ms: float
    bank_logit: float = field(repr=False, default=0.0)
    operator_logit: float = field(repr=False, default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "model": self.model,
            "model_version": self.model_version,
            "probability": self.probability,
            "score": self.score,
            "reason_codes": self.reason_codes,
            "latency_ms": self.latency_ms,
        }


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class ScoringEngine:
    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        cfg = ctx.config
        self.counterpart = cfg.scoring.counterpart or next(
            (cp.party_id for cp in cfg.counterparts if cp.address), ""
        )
        self.deadline_s = cfg.scoring.deadline_ms / 1000.0
        self.consents = BankConsents(cfg.state_dir, ctx.store, ctx.party_id)
        self._registry = ModelRegistry(cfg.state_dir, ctx.store)
        self._models: dict[tuple[str, int], BankLrPart] = {}
        self._client: ScoringClient | None = None
        self._channel: grpc.Channel | None = None
        self._lock = threading.Lock()

    # ---- the warm channel ---------------------------------------------------------
    def client(self) -> ScoringClient:
        """The client on the one channel to the operator, handshaken once."""
        with self._lock:
            if self._client is not None:
                return self._client
            if not self.counterpart:
                raise ScoringError(
                    "operator_unreachable", 503,
                    "no counterpart with an address to score with"
                    " (scoring.counterpart)",
                )  # fmt: skip
            channel = self.ctx.channel(self.counterpart)
            try:
                # The scoring deadline bounds the handshake too (never a hang on an
                # operator that accepts connections and never answers).
                hello = handshake(
                    channel,
                    self.ctx.hello(),
                    self.counterpart,
                    max(self.deadline_s, HANDSHAKE_MIN_S),
                )
            except ProtocolError as exc:
                channel.close()
                raise ScoringError(
                    "operator_unreachable", 504,
                    f"{self.counterpart} did not answer the handshake ({exc.code})",
                ) from None  # fmt: skip
            if PROTOCOL.capability not in hello.shared_capabilities:
                channel.close()
                raise ScoringError(
                    "model_unavailable", 409,
                    f"{self.counterpart} does not speak {PROTOCOL.capability}",
                )  # fmt: skip
            self.ctx.store.append_audit(
                "session.hello.sent",
                counterpart=self.counterpart,
                detail={"shared_capabilities": list(hello.shared_capabilities)},
            )
            self._channel = channel
            self._client = ScoringClient(channel, self.deadline_s)
            return self._client

    def warm_up(self) -> None:
        """Open the channel and handshake before the first request (best effort)."""
        try:
            self.client()
        except ScoringError as exc:
            log.warning("scoring channel not ready", extra={"reason": exc.code})

    def close(self) -> None:
        with self._lock:
            if self._channel is not None:
                self._channel.close()
            self._channel, self._client = None, None

    # ---- models ------------------------------------------------------------------
    def model(self, name: str) -> BankLrPart:
        records = self._registry.list(name)
        if not records:
            raise ScoringError("unknown_model", 404, f"no model {name!r}")
        record = records[-1]
        if record.kind != BANK_LR_KIND:
            raise ScoringError(
                "model_unavailable", 409,
                "scoring not yet available for model type"
                f" {record.kind.rsplit('.', 1)[0]}",
            )  # fmt: skip
        key = (record.name, record.version)
        with self._lock:
            cached = self._models.get(key)
        if cached is None:
            cached = BankLrPart.from_record(record)
            with self._lock:
                self._models[key] = cached
        return cached

    def models(self) -> list[dict[str, Any]]:
        latest: dict[str, Any] = {}
        for r in self._registry.list():
            latest[r.name] = r
        return [
            {
                "name": r.name,
                "version": r.version,
                "type": r.kind.rsplit(".", 1)[0],
                "scoring": r.kind == BANK_LR_KIND,
            }
            for r in latest.values()
        ]

    # ---- scoring -----------------------------------------------------------------
    def score(
        self,
        model_name: Any,
        phone: Any,
        consent_id: Any,
        bank_features: Any,
        caller: str = "",
    ) -> ScoreResult:
        started = time.perf_counter()
        request_id = new_hex_id()
        for field_name, value in (
            ("model", model_name), ("phone", phone), ("consent", consent_id),
        ):  # fmt: skip
            if not isinstance(value, str) or not value:
                raise ScoringError(
                    "invalid_request", 422, f"{field_name}: a non-empty string"
                )
        try:
            number = normalize_phone(phone)
        except InvalidPhoneError as exc:
            raise ScoringError("invalid_phone", 422, f"phone: {exc}") from None
        person = self.ctx.store.pseudonym(number)
        outcome = "error"
        try:
            model = self.model(model_name)
            frame = model.frame(bank_features)
            x = model.model_inputs(frame)[0]
            bank_logit = float(x @ model.weights) + model.intercept
            try:
                proof = self.consents.proof(consent_id, number)
            except ConsentRefused as exc:
                raise ScoringError("consent_refused", 403, str(exc)) from None
            answer = self._ask(ScoreQuery(request_id, model.job_id, proof))
            if answer.status is ScoreStatus.NOT_SUBSCRIBER:
                raise ScoringError(
                    "non_subscriber", 404,
                    "the number is not a subscriber of the operator: no joint score",
                )  # fmt: skip
            result = self._result(
                request_id, model, x, bank_logit, answer.partial_logit, started
            )
            outcome = "ok"
            return result
        except ScoringError as exc:
            outcome = exc.code
            raise
        finally:
            self.ctx.store.append_audit(
                "scoring.query",
                counterpart=self.counterpart,
                subject=str(model_name)[:64],
                detail={
                    "request_id": request_id,
                    "consent_id": str(consent_id)[:64],
                    "person": person,
                    "caller": caller,
                    "outcome": outcome,
                },
            )

    def _ask(self, query: ScoreQuery) -> Any:
        client = self.client()
        try:
            return client.score(query)
        except PeerCallError as exc:
            code, status = _PEER_ERRORS.get(exc.code, ("operator_error", 502))
            if code == "operator_unreachable":
                message = (
                    f"{self.counterpart} did not answer within"
                    f" {self.deadline_s * 1000:g} ms ({exc.code})"
                )
            else:
                message = f"{self.counterpart}: {exc.details}"
            raise ScoringError(code, status, message) from None
        except ProtocolError as exc:  # a malformed reply
            raise ScoringError("operator_error", 502, str(exc)) from None

    def _result(
        self,
        request_id: str,
        model: BankLrPart,
        x: Any,
        bank_logit: float,
        operator_logit: float,
        started: float,
    ) -> ScoreResult:
        logit = bank_logit + operator_logit
        shares = model.contributions(x)
        top = sorted(shares.items(), key=lambda kv: -abs(kv[1]))
        reasons: list[dict[str, Any]] = [
            {"source": "bank", "feature": name, "contribution": round(value, 6)}
            for name, value in top[: self.ctx.config.scoring.reason_codes]
        ]
        reasons.append(
            {
                "source": "operator",
                "feature": "operator (all features, as a whole)",
                "contribution": round(operator_logit, 6),
            }
        )
        return ScoreResult(
            request_id,
            model.name,
            model.version,
            _sigmoid(logit),
            model.points(logit),
            reasons,
            round((time.perf_counter() - started) * 1000, 3),
            bank_logit,
            operator_logit,
        )

    def revoke(self, consent_id: str) -> bool:
        """Push a revocation to the operator; True if it had used the consent."""
        return self.client().revoke(Revocation(consent_id)).was_used
