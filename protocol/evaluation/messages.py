"""Domain types of the Evaluation service (see evaluation.proto for the contract)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from protocol.crypto.paillier_keys import PaillierPublicKey
from protocol.crypto.paillier_vector import CiphertextVector
from protocol.domain import Split

VALUES_KIND = "evaluation.values"  # StreamHeader.kind of the bank's ciphertexts
PAIRS_KIND = "evaluation.pairs"  # and of the operator's packed, shuffled pairs
FINAL_ROUND = 0  # the trained model; rounds >= 1 are training epochs


class ScoreKind(enum.StrEnum):
    """What the two parties' per-row parts of the score are."""

    # Each party's part of a trained model's logit (its partial score), fixed point.
    PARTIAL = "partial"
    # Additive shares of the logit modulo the model's period (during training).
    SHARE = "share"


@dataclass(frozen=True)
class EvaluationParams:
    """What the bank asks for: one round of one split, under its key."""

    job_id: str
    split: Split
    round: int  # FINAL_ROUND or an epoch >= 1
    kind: ScoreKind
    public_key: PaillierPublicKey
    rows: int
    modulus: float = 0.0  # ScoreKind.SHARE: the shares' modulus
    # ScoreKind.PARTIAL: p99 - p1 of the bank's partial scores on the split
    bank_spread: float = 0.0


@dataclass(frozen=True)
class EvaluationRequest:
    params: EvaluationParams
    values: CiphertextVector  # one ciphertext per row of the split, position order


@dataclass(frozen=True)
class EvaluationReply:
    rows: int
    pairs: CiphertextVector  # (score, label) per row, shuffled, packed
