"""The bank's scoring API: HTTP/JSON on FastAPI (OpenAPI page at /docs), served by
uvicorn in `bank-node serve` when `[scoring] enabled = true`.

- `POST /v1/scores` (scorer, admin): `{model, phone, consent, bank_features}` ->
  `{request_id, model, model_version, probability, score, reason_codes,
  latency_ms}`;
- `GET /v1/models` (scorer, auditor, admin): the models and whether they score;
- `GET /v1/audit?tail=N` (auditor, admin): the last scoring audit entries
  (pseudonyms, never numbers).

Callers send `Authorization: Bearer <key>`; the config holds only each key's SHA-256
and role. Every error is `{"error": {"code", "message"}}` with its own code:
unauthenticated, forbidden, invalid_request, invalid_phone, unknown_model,
model_unavailable, missing_features, invalid_features, consent_refused,
non_subscriber, quota_exceeded, operator_unreachable, operator_error. The request
body is parsed here, not by pydantic, so no error ever echoes the number.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bank_node.scoring.engine import ScoringEngine
from bank_node.scoring.model import ScoringError
from node_core.config import ApiKeyConfig
from node_core.node import NodeContext

log = logging.getLogger(__name__)
RUNTIME_FILE = "scoring.json"
MAX_BODY_BYTES = 64 * 1024
SCORE_ROLES = frozenset({"scorer", "admin"})
READ_ROLES = frozenset({"scorer", "auditor", "admin"})
AUDIT_ROLES = frozenset({"auditor", "admin"})


def _error(code: str, status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status)


class ApiKeys:
    def __init__(self, keys: tuple[ApiKeyConfig, ...]) -> None:
        self._keys = keys

    def caller(self, request: Request, roles: frozenset[str]) -> ApiKeyConfig:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ScoringError(
                "unauthenticated", 401, "send Authorization: Bearer <api key>"
            )
        digest = hashlib.sha256(token.strip().encode()).hexdigest()
        found = None
        for key in self._keys:  # compare with every key, in constant time each
            if hmac.compare_digest(digest, key.sha256):
                found = key
        if found is None:
            raise ScoringError("unauthenticated", 401, "unknown api key")
        if found.role not in roles:
            raise ScoringError(
                "forbidden", 403, f"role {found.role} may not call {request.url.path}"
            )
        return found


def build_app(engine: ScoringEngine, keys: ApiKeys) -> FastAPI:
    app = FastAPI(
        title="duet bank scoring API",
        version="1",
        description="Real-time applicant scoring with joint logistic-regression"
        " models (issue 14, first slice).",
    )

    @app.exception_handler(ScoringError)
    async def _scoring_error(request: Request, exc: ScoringError) -> JSONResponse:
        return _error(exc.code, exc.status, exc.message)

    @app.post("/v1/scores")
    async def post_score(request: Request) -> JSONResponse:
        caller = keys.caller(request, SCORE_ROLES)
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            raise ScoringError(
                "invalid_request", 413, f"body over {MAX_BODY_BYTES} bytes"
            )
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ScoringError("invalid_request", 400, "body: not JSON") from None
        if not isinstance(body, dict):
            raise ScoringError("invalid_request", 422, "body: must be an object")
        unknown = sorted(set(body) - {"model", "phone", "consent", "bank_features"})
        if unknown:
            raise ScoringError(
                "invalid_request", 422, f"body: unknown fields {', '.join(unknown)}"
            )
        result = await run_in_threadpool(
            engine.score,
            body.get("model"),
            body.get("phone"),
            body.get("consent"),
            body.get("bank_features"),
            caller.name,
        )
        return JSONResponse(result.to_dict())

    @app.get("/v1/models")
    def list_models(request: Request) -> Any:
        keys.caller(request, READ_ROLES)
        return engine.models()

    @app.get("/v1/audit")
    def audit(request: Request, tail: int = 100) -> Any:
        keys.caller(request, AUDIT_ROLES)
        if not 1 <= tail <= 10_000:
            raise ScoringError("invalid_request", 422, "tail: must be 1..10000")
        entries = [
            e for e in engine.ctx.store.audit_entries() if e.action == "scoring.query"
        ]
        return [
            {"seq": e.seq, "ts": e.ts, "model": e.subject, **e.detail}
            for e in entries[-tail:]
        ]

    return app


class ScoringServer:
    """uvicorn in a thread of the bank node, on a socket bound before it starts."""

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self.engine = ScoringEngine(ctx)
        app = build_app(self.engine, ApiKeys(ctx.config.scoring.api_keys))
        config = uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="off", workers=1
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self.port = 0

    def start(self) -> None:
        host, port = self.ctx.config.scoring.listen.rsplit(":", 1)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name="scoring-api",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        path = self.ctx.config.state_dir / RUNTIME_FILE
        path.write_text(json.dumps({"address": f"{host}:{self.port}"}))
        threading.Thread(
            target=self.engine.warm_up, name="scoring-warm-up", daemon=True
        ).start()
        log.info("scoring API serving", extra={"port": self.port})

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)
        self.engine.close()
        (self.ctx.config.state_dir / RUNTIME_FILE).unlink(missing_ok=True)
