"""Domain types of the Scoring service (see scoring.proto for the contract)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from protocol.scoring.consent import ConsentProof


class ScoreStatus(enum.Enum):
    OK = "ok"
    NOT_SUBSCRIBER = "not_subscriber"


@dataclass(frozen=True)
class ScoreQuery:
    request_id: str  # 32 lowercase hex, chosen by the bank
    job_id: str  # the joint job whose model is scored
    consent: ConsentProof  # its record carries the number


@dataclass(frozen=True)
class ScoreAnswer:
    request_id: str
    status: ScoreStatus
    partial_logit: float = 0.0  # OK only: the operator's part of the logit
    model_version: int = 0


@dataclass(frozen=True)
class Revocation:
    consent_id: str


@dataclass(frozen=True)
class RevocationAnswer:
    consent_id: str
    was_used: bool
