"""Scoring messages: proto <-> domain (the only module touching scoring_pb2)."""

from __future__ import annotations

import math

from protocol.errors import InvalidArgument
from protocol.proto.duet.v1 import scoring_pb2
from protocol.scoring.consent import (
    ConsentProof,
    ConsentRecord,
    ConsentRefused,
    check_record,
)
from protocol.scoring.messages import (
    Revocation,
    RevocationAnswer,
    ScoreAnswer,
    ScoreQuery,
    ScoreStatus,
)
from protocol.serde import check_hex_id, check_job_id

_STATUS_TO_PROTO = {
    ScoreStatus.OK: scoring_pb2.SCORE_STATUS_OK,
    ScoreStatus.NOT_SUBSCRIBER: scoring_pb2.SCORE_STATUS_NOT_SUBSCRIBER,
}
_STATUS_FROM_PROTO = {int(v): k for k, v in _STATUS_TO_PROTO.items()}


def consent_to_proto(proof: ConsentProof) -> scoring_pb2.ConsentProof:
    r = proof.record
    return scoring_pb2.ConsentProof(
        consent_id=r.consent_id,
        phone=r.phone,
        purpose=r.purpose,
        scope=list(r.scope),
        issued_at=r.issued_at,
        expires_at=r.expires_at,
        bank_id=r.bank_id,
        document_sha256=r.document_sha256,
        max_uses=r.max_uses,
        signature=proof.signature,
    )


def consent_from_proto(msg: scoring_pb2.ConsentProof, field: str) -> ConsentProof:
    record = ConsentRecord(
        consent_id=msg.consent_id,
        phone=msg.phone,
        purpose=msg.purpose,
        scope=tuple(msg.scope),
        issued_at=int(msg.issued_at),
        expires_at=int(msg.expires_at),
        bank_id=msg.bank_id,
        document_sha256=msg.document_sha256,
        max_uses=int(msg.max_uses),
    )
    try:
        check_record(record)
    except ConsentRefused as exc:  # a malformed record is the caller's bad input
        raise InvalidArgument(f"{field}.{str(exc).split(': ', 1)[1]}") from None
    if len(msg.signature) != 64:
        raise InvalidArgument(f"{field}.signature: must be 64 bytes (Ed25519)")
    return ConsentProof(record, bytes(msg.signature))


def score_query_to_proto(q: ScoreQuery) -> scoring_pb2.ScoreRequest:
    return scoring_pb2.ScoreRequest(
        request_id=q.request_id, job_id=q.job_id, consent=consent_to_proto(q.consent)
    )


def score_query_from_proto(msg: scoring_pb2.ScoreRequest) -> ScoreQuery:
    check_hex_id(msg.request_id, "ScoreRequest.request_id", "a request id")
    check_job_id(msg.job_id, "ScoreRequest.job_id")
    if not msg.HasField("consent"):
        raise InvalidArgument("ScoreRequest.consent: missing (a consent proof)")
    consent = consent_from_proto(msg.consent, "ScoreRequest.consent")
    return ScoreQuery(msg.request_id, msg.job_id, consent)


def score_answer_to_proto(a: ScoreAnswer) -> scoring_pb2.ScoreReply:
    return scoring_pb2.ScoreReply(
        request_id=a.request_id,
        status=_STATUS_TO_PROTO[a.status],
        partial_logit=a.partial_logit,
        model_version=a.model_version,
    )


def score_answer_from_proto(msg: scoring_pb2.ScoreReply) -> ScoreAnswer:
    check_hex_id(msg.request_id, "ScoreReply.request_id", "a request id")
    status = _STATUS_FROM_PROTO.get(int(msg.status))
    if status is None:
        raise InvalidArgument("ScoreReply.status: must be OK or NOT_SUBSCRIBER")
    if not math.isfinite(msg.partial_logit):
        raise InvalidArgument("ScoreReply.partial_logit: not a finite number")
    return ScoreAnswer(
        msg.request_id, status, float(msg.partial_logit), int(msg.model_version)
    )


def revocation_to_proto(r: Revocation) -> scoring_pb2.ConsentRevocation:
    return scoring_pb2.ConsentRevocation(consent_id=r.consent_id)


def revocation_from_proto(msg: scoring_pb2.ConsentRevocation) -> Revocation:
    check_hex_id(msg.consent_id, "ConsentRevocation.consent_id", "a consent id")
    return Revocation(msg.consent_id)


def revocation_answer_to_proto(a: RevocationAnswer) -> scoring_pb2.RevocationReply:
    return scoring_pb2.RevocationReply(consent_id=a.consent_id, was_used=a.was_used)


def revocation_answer_from_proto(msg: scoring_pb2.RevocationReply) -> RevocationAnswer:
    check_hex_id(msg.consent_id, "RevocationReply.consent_id", "a consent id")
    return RevocationAnswer(msg.consent_id, bool(msg.was_used))
