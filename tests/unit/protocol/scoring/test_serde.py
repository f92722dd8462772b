"""Scoring messages: round trips and rejection of each malformed field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from protocol.errors import InvalidArgument
from protocol.proto.duet.v1 import scoring_pb2
from protocol.scoring import serde
from protocol.scoring.consent import ConsentProof, ConsentRecord
from protocol.scoring.messages import (
    Revocation,
    RevocationAnswer,
    ScoreAnswer,
    ScoreQuery,
    ScoreStatus,
)
from tests.unit.protocol.wire import through_wire

REQUEST = "0123456789abcdef" * 2
CONSENT = "fedcba9876543210" * 2
PROOF = ConsentProof(
    ConsentRecord(
        CONSENT, "13800138000", "credit_risk", ("score",), 100, 200, "bank-a",
        "a" * 64, 5,
    ),
    b"s" * 64,
)  # fmt: skip
QUERY = ScoreQuery(REQUEST, "a1b2c3d4e5f6a7b8", PROOF)


@pytest.mark.parametrize(
    ("value", "to_proto", "from_proto"),
    [
        (QUERY, serde.score_query_to_proto, serde.score_query_from_proto),
        (ScoreAnswer(REQUEST, ScoreStatus.OK, -1.25, 3),
         serde.score_answer_to_proto, serde.score_answer_from_proto),
        (ScoreAnswer(REQUEST, ScoreStatus.NOT_SUBSCRIBER, 0.0, 1),
         serde.score_answer_to_proto, serde.score_answer_from_proto),
        (Revocation(CONSENT), serde.revocation_to_proto, serde.revocation_from_proto),
        (RevocationAnswer(CONSENT, True), serde.revocation_answer_to_proto,
         serde.revocation_answer_from_proto),
    ],
)  # fmt: skip
def test_scoring_serde_round_trips_if_well_formed(
    value: Any, to_proto: Callable, from_proto: Callable
) -> None:
    assert from_proto(through_wire(to_proto(value))) == value


def _query(**consent: Any) -> scoring_pb2.ScoreRequest:
    msg = serde.score_query_to_proto(QUERY)
    for key, value in consent.items():
        if key == "scope":
            del msg.consent.scope[:]
            msg.consent.scope.extend(value)
        else:
            setattr(msg.consent, key, value)
    return msg


@pytest.mark.parametrize(
    ("msg", "message"),
    [
        (scoring_pb2.ScoreRequest(), "ScoreRequest.request_id: not a request id"),
        (scoring_pb2.ScoreRequest(request_id=REQUEST, job_id="x"),
         "ScoreRequest.job_id: job id must be"),
        (scoring_pb2.ScoreRequest(request_id=REQUEST, job_id="a1b2c3d4e5f6a7b8"),
         "ScoreRequest.consent: missing"),
        (_query(phone="12345"), "ScoreRequest.consent.phone:"),
        (_query(consent_id="zz"), "ScoreRequest.consent.consent_id:"),
        (_query(purpose="A B"), "ScoreRequest.consent.purpose:"),
        (_query(scope=[]), "ScoreRequest.consent.scope:"),
        (_query(bank_id="Bank A"), "ScoreRequest.consent.bank_id:"),
        (_query(document_sha256="x"), "ScoreRequest.consent.document_sha256:"),
        (_query(max_uses=0), "ScoreRequest.consent.max_uses:"),
        (_query(expires_at=50), "ScoreRequest.consent.expires_at:"),
        (_query(signature=b"short"), "ScoreRequest.consent.signature: must be 64"),
    ],
)  # fmt: skip
def test_score_query_from_proto_refuses_naming_the_field_if_malformed(
    msg: scoring_pb2.ScoreRequest, message: str
) -> None:
    with pytest.raises(InvalidArgument) as info:
        serde.score_query_from_proto(msg)
    assert str(info.value).startswith(message)
    assert "13800138000" not in str(info.value)


@pytest.mark.parametrize(
    ("msg", "message"),
    [
        (scoring_pb2.ScoreReply(request_id=REQUEST), "ScoreReply.status:"),
        (scoring_pb2.ScoreReply(request_id=REQUEST, status=1,
                                partial_logit=float("nan")),
         "ScoreReply.partial_logit:"),
        (scoring_pb2.ConsentRevocation(consent_id="nope"),
         "ConsentRevocation.consent_id:"),
    ],
)  # fmt: skip
def test_scoring_replies_refused_naming_the_field_if_malformed(
    msg: Any, message: str
) -> None:
    convert = (
        serde.score_answer_from_proto
        if isinstance(msg, scoring_pb2.ScoreReply)
        else serde.revocation_from_proto
    )
    with pytest.raises(InvalidArgument) as info:
        convert(msg)
    assert str(info.value).startswith(message)


def test_score_request_carries_nothing_of_the_banks_features_or_score() -> None:
    # Prepare: what the README and protocol/scoring say the operator receives per query:
    # the consent proof (with the number), the model (job) and a request id.
    def fields(descriptor) -> set[str]:
        names = set()
        for field in descriptor.fields:
            names.add(f"{descriptor.name}.{field.name}")
            if field.message_type is not None:
                names |= fields(field.message_type)
        return names

    # Execute
    sent = fields(scoring_pb2.ScoreRequest.DESCRIPTOR)
    # Assert: a new field (bank features, a score, a decision) must be argued for here
    assert sent == {
        "ScoreRequest.request_id",
        "ScoreRequest.job_id",
        "ScoreRequest.consent",
        "ConsentProof.consent_id",
        "ConsentProof.phone",
        "ConsentProof.purpose",
        "ConsentProof.scope",
        "ConsentProof.issued_at",
        "ConsentProof.expires_at",
        "ConsentProof.bank_id",
        "ConsentProof.document_sha256",
        "ConsentProof.max_uses",
        "ConsentProof.signature",
    }
