"""Domain types of the PSI wire messages (what node code works with, never _pb2)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

# Kinds of the chunked streams of one session (StreamHeader.kind).
BANK_BLINDED = "psi.bank_blinded"
BANK_REBLINDED = "psi.bank_reblinded"
OPERATOR_BLINDED = "psi.operator_blinded"
MATCHES = "psi.matches"
MATCH_ITEM_BYTES = 8  # two little-endian uint32: upload position, operator position


class PsiMode(enum.Enum):
    """What the session reveals (see protocol/psi/__init__.py for each party)."""

    INTERSECTION = "intersection"
    BOTH = "both"
    CARDINALITY = "cardinality"


@dataclass(frozen=True)
class PsiOpen:
    """The bank's request to start a session."""

    mode: PsiMode
    bank_set_size: int
    suite: str
    unbalanced: bool = False
    cached_set_id: str = ""
    job_id: str = ""  # the approved job this session belongs to; "" outside a job


@dataclass(frozen=True)
class PsiOpened:
    """The operator's answer: the session and the size of its set."""

    session_id: str
    operator_set_size: int
    suite: str
    operator_set_id: str = ""
    operator_set_follows: bool = True
    operator_set_expires_at: float = 0.0  # unbalanced: end of the set's epoch (Unix)


@dataclass(frozen=True)
class PsiFinished:
    """The operator's receipt for Finish (mode both: its alignment)."""

    intersection_size: int = 0
    alignment_id: str = ""
