"""Real-time scoring end to end: a joint logistic regression trained by a real job,
then scored through the bank node's HTTP API (httpx against `bank_services` serving on
port 0) and through the Scoring protocol directly: scores equal the offline federated
prediction of the same model parts, every consent and quota refusal has its own code,
the audit logs of both nodes record every query under pseudonyms, and no raw number
reaches either node's log or state."""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bank_node.cli import bank_services
from bank_node.consent_command import push_revocation
from bank_node.consents import SIGNING_KEY_FILE, BankConsents
from bank_node.job_runner import JobRun, JobRunner
from bank_node.scoring.engine import ScoringEngine
from bank_node.scoring.model import ScoringError
from models.binning import BinningModel
from models.preprocess import FeaturePreprocessor
from models.scorecard import ScorecardScale, score_from_logit
from models.woe import woe_transform
from node_core.config import load_config
from node_core.logs import JsonFormatter, RedactingFilter
from node_core.model_registry import ModelPart, ModelRegistry
from node_core.node import NodeContext
from protocol.domain import JobStatus
from protocol.errors import PeerCallError
from protocol.ids import new_hex_id
from protocol.scoring import consent as c
from protocol.scoring.messages import Revocation, ScoreQuery, ScoreStatus
from protocol.scoring.service import ScoringClient
from tests.joint import JointSetup, job_spec, joint_setup
from tests.nodes import Pki, running_node

SCORER_KEY = "scorer-secret-key-1"
AUDITOR_KEY = "auditor-secret-key-1"
DAILY = 60  # the operator's scoring_daily for bank-a in this module
NOT_SUBSCRIBER = "13912345678"  # a valid number in neither file
USED: set[str] = set()  # every number sent in this module (the log scan looks)


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class Scored:
    setup: JointSetup
    run: JobRun
    url: str
    log_file: Path
    bank_key: Ed25519PrivateKey
    bank: NodeContext  # the serving bank node's context

    def consent(self, phone: str, **kw: Any) -> str:
        USED.add(phone)
        args = {
            "purpose": "credit_risk", "scope": ("score",), "document": b"form",
            "now": int(time.time()) - 5, "valid_s": 3600, "max_uses": 5, **kw,
        }  # fmt: skip
        consents = BankConsents(self.bank.config.state_dir, self.bank.store, "bank-a")
        return consents.issue(phone=phone, **args).record.consent_id

    def post(self, body: dict[str, Any], key: str | None = SCORER_KEY) -> Any:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.post(f"{self.url}/v1/scores", json=body, headers=headers)


@pytest.fixture(scope="module")
def scored(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scored]:
    root = Path(tmp_path_factory.mktemp("scoring"))
    key = c.load_or_create_signing_key(root / "state-bank-a" / SIGNING_KEY_FILE)
    (root / "bank-a-consent.pem").write_bytes(c.public_key_pem(key))
    log_file = root / "nodes.log"
    handler = logging.FileHandler(log_file)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter("test"))
    logger = logging.getLogger()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    scoring = {
        "enabled": True,
        "listen": "127.0.0.1:0",
        "deadline_ms": 5000.0,
        "reason_codes": 3,
        "api_keys": [
            {"name": "risk-engine", "role": "scorer", "sha256": _sha(SCORER_KEY)},
            {"name": "audit-desk", "role": "auditor", "sha256": _sha(AUDITOR_KEY)},
        ],
    }
    counterpart = {
        "consent_key": str(root / "bank-a-consent.pem"),
        "limits": {"scoring_per_second": 1000.0, "scoring_daily": DAILY},
    }
    try:
        with joint_setup(
            root, pki, policy={"min_rank_mixing": 20.0},
            counterpart=counterpart, bank_sections={"scoring": scoring},
        ) as setup:  # fmt: skip
            spec = job_spec(
                root, model={"epochs": 3, "batch_size": 200, "woe_bank_features": True}
            )
            run = JobRunner(setup.bank, spec, progress=lambda _: None).run()
            with running_node(setup.bank.config, bank_services) as bank:
                runtime = json.loads(
                    (setup.bank.config.state_dir / "scoring.json").read_text()
                )
                url = f"http://{runtime['address']}"
                yield Scored(setup, run, url, log_file, key, bank.ctx)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()


def _offline(scored: Scored) -> pd.DataFrame:
    """The offline federated prediction of every number in both files, from the two
    stored model parts applied to each party's whole data source."""
    setup = scored.setup
    bank_doc = (
        ModelRegistry(setup.bank.config.state_dir, setup.bank.store)
        .list("test-model")[-1]
        .load()
    )
    op_ctx = setup.operator.ctx
    op_doc = next(
        r.load()
        for r in ModelRegistry(op_ctx.config.state_dir, op_ctx.store).list()
        if r.job_id == scored.run.job_id
    )
    bank_data = setup.bank.dataset("customers")
    bins = BinningModel.from_dict(bank_doc["binning"]).transform(bank_data.features)
    encoded = woe_transform(bins, bank_doc["woe"])
    z_bank = FeaturePreprocessor.from_dict(bank_doc["preprocessor"]).transform(
        encoded
    ) @ np.asarray(bank_doc["weights"]) + float(bank_doc["intercept"])
    op_data = op_ctx.dataset("subscribers")
    z_op = FeaturePreprocessor.from_dict(op_doc["preprocessor"]).transform(
        op_data.features[op_doc["columns"]]
    ) @ np.asarray(op_doc["weights"])
    bank = pd.DataFrame({"z_bank": z_bank}, index=bank_data.ids)
    op = pd.DataFrame({"z_op": z_op}, index=op_data.ids)
    joined = bank.join(op, how="inner")
    joined["probability"] = 1 / (1 + np.exp(-(joined.z_bank + joined.z_op)))
    scale = ScorecardScale(**bank_doc["scorecard_scale"])
    joined["points"] = score_from_logit(
        (joined.z_bank + joined.z_op).to_numpy(), scale=scale
    )
    return joined


def _features(scored: Scored, phone: str) -> dict[str, Any]:
    frame = pd.read_csv(scored.setup.files.bank, dtype={"phone": str})
    row = frame[frame.phone == phone].iloc[0]
    return {
        c: (None if pd.isna(row[c]) else float(row[c]))
        for c in scored.setup.files.bank_features
    }


def _body(scored: Scored, phone: str, consent: str, **over: Any) -> dict[str, Any]:
    body = {
        "model": "test-model", "phone": phone, "consent": consent,
        "bank_features": _features(scored, phone),
    }  # fmt: skip
    return {**body, **over}


def _aligned(scored: Scored, n: int, skip: int = 0) -> list[str]:
    return [str(p) for p in _offline(scored).index[skip : skip + n]]


def test_api_scores_equal_the_offline_federated_prediction(scored: Scored) -> None:
    # Prepare
    offline = _offline(scored)
    phones = _aligned(scored, 5)
    # Execute
    replies = [scored.post(_body(scored, p, scored.consent(p))) for p in phones]
    # Assert
    for phone, reply in zip(phones, replies, strict=True):
        assert reply.status_code == 200, reply.text
        got = reply.json()
        assert abs(got["probability"] - offline.loc[phone, "probability"]) < 1e-6
        assert abs(got["score"] - offline.loc[phone, "points"]) < 1e-4
        assert got["model_version"] == 1 and len(got["request_id"]) == 32
        sources = [r["source"] for r in got["reason_codes"]]
        assert sources == ["bank", "bank", "bank", "operator"]
        assert got["reason_codes"][-1]["contribution"] == pytest.approx(
            offline.loc[phone, "z_op"], abs=1e-6
        )
        assert got["latency_ms"] > 0


def _client(scored: Scored) -> ScoringClient:
    channel = scored.bank.channel("operator")
    return ScoringClient(channel, 10.0)


def _proof(scored: Scored, phone: str, **changes: Any) -> c.ConsentProof:
    USED.add(phone)
    now = int(time.time())
    record = c.ConsentRecord(
        new_hex_id(), phone, "credit_risk", ("score",), now - 5, now + 600, "bank-a",
        "0" * 64, 2,
    )  # fmt: skip
    return c.sign_consent(replace(record, **changes), scored.bank_key)


def test_operator_returns_its_partial_logit_through_the_protocol(
    scored: Scored,
) -> None:
    # Prepare
    offline = _offline(scored)
    phone = _aligned(scored, 1, skip=7)[0]
    client = _client(scored)
    # Execute
    proof = _proof(scored, phone)
    answer = client.score(ScoreQuery(new_hex_id(), scored.run.job_id, proof))
    missing = client.score(
        ScoreQuery(new_hex_id(), scored.run.job_id, _proof(scored, NOT_SUBSCRIBER))
    )
    # Assert
    assert answer.status is ScoreStatus.OK
    assert answer.partial_logit == pytest.approx(offline.loc[phone, "z_op"], abs=1e-9)
    assert missing.status is ScoreStatus.NOT_SUBSCRIBER


def _refusal(scored: Scored, proof: c.ConsentProof, job_id: str = "") -> str:
    client = _client(scored)
    with pytest.raises(PeerCallError) as info:
        client.score(ScoreQuery(new_hex_id(), job_id or scored.run.job_id, proof))
    assert NOT_SUBSCRIBER not in info.value.details
    return f"{info.value.code}: {info.value.details}"


def test_operator_refuses_each_consent_problem_with_its_reason(
    scored: Scored,
) -> None:
    # Prepare
    phone = _aligned(scored, 1, skip=8)[0]
    now = int(time.time())
    other_key = Ed25519PrivateKey.generate()
    once = _proof(scored, phone, max_uses=1)
    revoked = _proof(scored, phone)
    client = _client(scored)
    client.score(ScoreQuery(new_hex_id(), scored.run.job_id, once))
    client.revoke(Revocation(revoked.record.consent_id))
    cases = {
        c.EXPIRED: _proof(scored, phone, issued_at=now - 7200, expires_at=now - 60),
        c.WRONG_PURPOSE: _proof(scored, phone, purpose="marketing"),
        c.OUT_OF_SCOPE: _proof(scored, phone, scope=("export",)),
        c.BAD_SIGNATURE: c.sign_consent(_proof(scored, phone).record, other_key),
        c.WRONG_BANK: _proof(scored, phone, bank_id="bank-b"),
        c.USED_UP: once,
        c.REVOKED: revoked,
    }
    # Execute
    got = {reason: _refusal(scored, proof) for reason, proof in cases.items()}
    replay = replace(once.record, phone=NOT_SUBSCRIBER, max_uses=5)
    got[c.REPLAYED] = _refusal(scored, c.sign_consent(replay, scored.bank_key))
    # Assert
    for reason, outcome in got.items():
        assert outcome.startswith(f"PERMISSION_DENIED: {reason}"), outcome


def test_operator_refuses_unknown_model_with_not_found(scored: Scored) -> None:
    phone = _aligned(scored, 1, skip=9)[0]
    outcome = _refusal(scored, _proof(scored, phone), job_id="ffffffffffffffff")
    assert outcome.startswith("NOT_FOUND: no model of job ffffffffffffffff")


@pytest.mark.parametrize(
    ("change", "status", "code", "message"),
    [
        ({"model": "nope"}, 404, "unknown_model", "no model 'nope'"),
        ({"phone": "12345"}, 422, "invalid_phone", "phone: phone has wrong number"),
        ({"bank_features": {}}, 422, "missing_features", "bank_features: missing b_"),
        ({"bank_features": "x"}, 422, "invalid_features", "bank_features: must be"),
        ({"consent": "ab" * 16}, 403, "consent_refused", "consent missing"),
        ({"extra": 1}, 422, "invalid_request", "body: unknown fields extra"),
    ],
)
def test_api_answers_its_own_error_code_if_the_request_is_bad(
    scored: Scored, change: dict, status: int, code: str, message: str
) -> None:
    # Prepare
    phone = _aligned(scored, 1, skip=10)[0]
    body = {**_body(scored, phone, scored.consent(phone)), **change}
    # Execute
    reply = scored.post(body)
    # Assert
    assert reply.status_code == status, reply.text
    assert reply.json()["error"]["code"] == code
    assert reply.json()["error"]["message"].startswith(message)
    assert phone not in reply.text


def test_api_refuses_invalid_feature_naming_it(scored: Scored) -> None:
    phone = _aligned(scored, 1, skip=11)[0]
    body = _body(scored, phone, scored.consent(phone))
    name = sorted(body["bank_features"])[0]
    body["bank_features"][name] = "high"
    reply = scored.post(body)
    assert reply.status_code == 422
    assert reply.json()["error"] == {
        "code": "invalid_features",
        "message": f"bank_features.{name}: must be a finite number or null",
    }


def test_api_refuses_callers_without_a_key_or_the_role(scored: Scored) -> None:
    # Prepare
    phone = _aligned(scored, 1, skip=12)[0]
    body = _body(scored, phone, scored.consent(phone))
    # Execute
    anonymous = scored.post(body, key=None)
    wrong = scored.post(body, key="guess")
    auditor = scored.post(body, key=AUDITOR_KEY)
    audit = httpx.get(
        f"{scored.url}/v1/audit", headers={"Authorization": f"Bearer {AUDITOR_KEY}"}
    )
    models = httpx.get(
        f"{scored.url}/v1/models", headers={"Authorization": f"Bearer {SCORER_KEY}"}
    )
    # Assert
    assert [r.status_code for r in (anonymous, wrong, auditor)] == [401, 401, 403]
    assert auditor.json()["error"]["code"] == "forbidden"
    assert audit.status_code == 200 and all("person" in e for e in audit.json())
    assert models.json() == [
        {"name": "test-model", "version": 1, "type": "hetero_lr", "scoring": True}
    ]


def test_api_answers_non_subscriber_as_a_defined_error(scored: Scored) -> None:
    # Prepare
    phone = _aligned(scored, 1, skip=13)[0]
    body = _body(scored, phone, "")
    body["phone"] = NOT_SUBSCRIBER
    body["consent"] = scored.consent(NOT_SUBSCRIBER)
    # Execute
    reply = scored.post(body)
    # Assert
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "non_subscriber"


def test_revocation_takes_effect_on_the_next_query_at_both_nodes(
    scored: Scored,
) -> None:
    # Prepare
    phone = _aligned(scored, 1, skip=14)[0]
    consent_id = scored.consent(phone)
    first = scored.post(_body(scored, phone, consent_id))
    consents = BankConsents(scored.bank.config.state_dir, scored.bank.store, "bank-a")
    proof = consents.proof(consent_id, phone)
    # Execute
    consents.revoke(consent_id, time.time())
    pushed = push_revocation(scored.bank, consent_id)
    at_bank = scored.post(_body(scored, phone, consent_id))
    at_operator = _refusal(scored, proof)
    # Assert
    assert first.status_code == 200
    assert pushed == "revoked at operator (had been used there: True)"
    assert at_bank.json()["error"] == {"code": "consent_refused", "message": c.REVOKED}
    assert at_operator == f"PERMISSION_DENIED: {c.REVOKED}"


def test_engine_answers_operator_unreachable_within_the_deadline(
    scored: Scored, tmp_path: Path
) -> None:
    # Prepare: an "operator" that accepts connections and never answers
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    source = scored.bank.config.source.read_text()
    address = scored.setup.operator.address
    port = silent.getsockname()[1]
    path = tmp_path / "bank.toml"
    path.write_text(
        source.replace(address, f"127.0.0.1:{port}").replace(
            "deadline_ms = 5000.0", "deadline_ms = 300.0"
        )
    )
    engine = ScoringEngine(NodeContext.open(load_config(path)))
    phone = _aligned(scored, 1, skip=15)[0]
    consent_id = scored.consent(phone)
    # Execute
    started = time.monotonic()
    with pytest.raises(ScoringError) as info:
        engine.score("test-model", phone, consent_id, _features(scored, phone))
    elapsed = time.monotonic() - started
    silent.close()
    # Assert
    assert info.value.code == "operator_unreachable"
    assert elapsed < 5.0


def test_both_audit_logs_record_queries_by_pseudonym_and_verify(
    scored: Scored,
) -> None:
    # Prepare
    phone = _aligned(scored, 1, skip=16)[0]
    reply = scored.post(_body(scored, phone, scored.consent(phone)))
    request_id = reply.json()["request_id"]
    op = scored.setup.operator.ctx
    # Execute
    bank_entries = [
        e for e in scored.bank.store.audit_entries() if e.action == "scoring.query"
    ]
    op_entries = [e for e in op.store.audit_entries() if e.action == "scoring.query"]
    # Assert
    mine = [e for e in bank_entries if e.detail["request_id"] == request_id]
    theirs = [e for e in op_entries if e.detail["request_id"] == request_id]
    assert mine[0].detail["person"] == scored.bank.store.pseudonym(phone)
    assert theirs[0].detail["person"] == op.store.pseudonym(phone)
    assert theirs[0].detail["outcome"] == "ok" and mine[0].detail["outcome"] == "ok"
    assert any(e.detail["outcome"].startswith("refused") for e in op_entries)
    assert scored.bank.store.verify_audit().intact and op.store.verify_audit().intact


def test_model_types_without_scoring_get_a_clear_error_at_both_nodes(
    scored: Scored,
) -> None:
    # Prepare: a finished SecureBoost job's parts on both sides
    job_id = "5b5b5b5b5b5b5b5b"
    op = scored.setup.operator.ctx
    op.store.create_job(
        "secureboost", "bank-a", {"proposal": {"purpose": "credit_risk"}}, job_id
    )
    for status in (JobStatus.RUNNING, JobStatus.SUCCEEDED):
        op.store.set_job_status(job_id, status)
    ModelRegistry(op.config.state_dir, op.store).save(
        job_id=job_id, counterpart="bank-a", part=ModelPart("secureboost.operator", {})
    )
    ModelRegistry(scored.bank.config.state_dir, scored.bank.store).save(
        job_id=job_id, counterpart="operator", name="trees",
        part=ModelPart("secureboost.bank", {}),
    )  # fmt: skip
    phone = _aligned(scored, 1, skip=18)[0]
    # Execute
    at_operator = _refusal(scored, _proof(scored, phone), job_id=job_id)
    at_bank = scored.post(_body(scored, phone, scored.consent(phone), model="trees"))
    # Assert
    message = "scoring not yet available for model type secureboost"
    assert at_operator == f"FAILED_PRECONDITION: {message}"
    assert at_bank.status_code == 409
    assert at_bank.json()["error"] == {"code": "model_unavailable", "message": message}


def test_operator_quota_refuses_past_the_daily_volume(scored: Scored) -> None:
    # Prepare: the module's other tests used part of today's DAILY queries
    phone = _aligned(scored, 1, skip=17)[0]
    consent_id = scored.consent(phone, max_uses=c.MAX_USES)
    body = _body(scored, phone, consent_id)
    # Execute
    replies = [scored.post(body) for _ in range(DAILY + 1)]
    # Assert
    codes = [r.status_code for r in replies]
    assert 429 in codes and set(codes) <= {200, 429}
    refused = replies[codes.index(429)].json()["error"]
    assert refused["code"] == "quota_exceeded"
    assert (
        "scoring queries of today (counterparts[].limits.scoring_daily"
        in (refused["message"])
    )
    assert all(c == 429 for c in codes[codes.index(429) :])


def test_no_raw_number_in_either_nodes_log_or_state(scored: Scored) -> None:
    # Prepare
    setup = scored.setup
    texts = {"log": scored.log_file.read_text()}
    for ctx in (scored.bank, setup.operator.ctx):
        for path in ctx.config.state_dir.rglob("*"):
            if path.is_file() and path.suffix != ".parquet":
                texts[str(path)] = path.read_bytes().decode("latin-1")
    # Execute
    found = {
        (name, phone) for name, text in texts.items() for phone in USED if phone in text
    }
    # Assert
    assert len(USED) > 10
    assert "scoring API serving" in texts["log"]
    assert found == set()
