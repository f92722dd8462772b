"""The operator's side of evaluation: add my per-row addend, shuffle, pack.

Generic over model types: a model's passive role (operator_node/roles/) attaches a
ScoreAddends to the job's session, which answers, per split and round, the operator's
per-row part of the joint score (its partial scores once the model is trained, its
logit shares of an evaluation pass in training) or refuses the round. This handler
checks the request and applies the policy's rules before anything leaves
(operator_node/evaluation_rules.py on the trained model's partial scores, the budget of
models per set of rows in operator_node/model_budget.py); training rounds are answered
only after the trained model's validation scores passed the rules, since the operator
cannot see its scores while its weights are encrypted. Then it adds, shuffles, floods
and packs (protocol/evaluation/party.py) and audits the answer. It never decrypts
anything; protocol/evaluation/__init__.py states what each party learns.

Resumed jobs (HeteroLr.Resume): nothing here is answered before the model's reveal,
which deletes the job's checkpoints, so no resume can follow an evaluation and the
once-per-round records of the addends are never reset by one. A resume attaches new
addends restored from the operator's checkpoint, with its logit shares of the passes
up to it (operator_node/roles/hetero_lr.py), so every epoch of a resumed job can be
evaluated, once; the job keeps its id, so it spends one place of the model budget.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from node_core.node import NodeContext
from operator_node.evaluation_rules import check_contribution, check_scores
from operator_node.job_desk import JobDesk
from operator_node.job_session import JobSession, StateKey
from protocol.domain import Peer, Split
from protocol.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from protocol.evaluation.messages import (
    EvaluationParams,
    EvaluationReply,
    EvaluationRequest,
    ScoreKind,
)
from protocol.evaluation.party import (
    MAX_ROW_EVALUATIONS,
    addend_plaintexts,
    partial_units,
    share_units,
    shuffle_and_pack,
)


@dataclass(frozen=True)
class Addend:
    """The operator's part of the joint score of every row of a split (position
    order): a partial score, or a share of the logit modulo `modulus`."""

    values: np.ndarray
    kind: ScoreKind
    modulus: float = 0.0


class ScoreAddends(Protocol):
    """What a model's passive role offers the evaluation (attached to the session)."""

    def addend(self, split: Split, round: int, kind: ScoreKind) -> Addend:
        """This round's addend, once; a refusal (ProtocolError) when the round is not
        the model's to answer now (out of order, repeated, not offered)."""
        ...


SCORE_ADDENDS: StateKey[ScoreAddends] = StateKey("evaluation.addends")


class OperatorEvaluation:
    """Handler of the Evaluation service."""

    def __init__(self, ctx: NodeContext, desk: JobDesk) -> None:
        self._ctx = ctx
        self._desk = desk
        self._lock = threading.Lock()
        self._pairs: dict[str, int] = {}  # share pairs answered per job
        self._cleared: set[str] = set()  # jobs whose validation scores passed

    def _count_pairs(self, job_id: str, rows: int) -> None:
        """Share pairs hide their carries within 2^-40 over a job up to this many."""
        with self._lock:
            done = self._pairs.get(job_id, 0)
            if done + rows > MAX_ROW_EVALUATIONS:
                raise PermissionDenied(
                    f"job {job_id} has evaluated {done} rows in training; the"
                    f" protocol's bound is {MAX_ROW_EVALUATIONS}"
                )
            self._pairs[job_id] = done + rows

    def _checked(
        self, peer: Peer, params: EvaluationParams
    ) -> tuple[JobSession, np.ndarray, ScoreAddends]:
        """The job's session, the split's positions and the model's addends, after
        every check that needs no ciphertext (job, peer, rows, order of rounds)."""
        session = self._desk.session(peer, params.job_id)
        positions = session.positions()[params.split]
        if params.rows != len(positions):
            raise InvalidArgument(
                f"EvaluateRequest.rows: the {params.split.value} split has"
                f" {len(positions)} rows, not {params.rows}"
            )
        addends = session.state(SCORE_ADDENDS)
        if addends is None:
            raise FailedPrecondition(
                f"job {params.job_id}: no model of the job offers an evaluation yet"
            )
        if params.kind is ScoreKind.SHARE and params.job_id not in self._cleared:
            raise FailedPrecondition(
                f"job {params.job_id}: training rounds are answered after the trained"
                " model's validation split is evaluated"
            )
        return session, positions, addends

    def admit(self, peer: Peer, params: EvaluationParams) -> int:
        """Checked before the bank's ciphertexts are read: the number due (one per
        row of the split)."""
        return len(self._checked(peer, params)[1])

    def evaluate(self, peer: Peer, request: EvaluationRequest) -> EvaluationReply:
        started = time.perf_counter()
        params = request.params
        session, positions, addends = self._checked(peer, params)
        if len(request.values) != len(positions):
            raise InvalidArgument(
                f"EvaluateUpload.values: {len(request.values)} ciphertexts for"
                f" {len(positions)} rows"
            )
        addend = addends.addend(params.split, params.round, params.kind)
        if addend.kind is not params.kind or len(addend.values) != len(positions):
            raise FailedPrecondition(
                f"job {params.job_id}: the model offers no {params.kind.value} scores"
                f" of the {params.split.value} split"
            )
        if params.kind is ScoreKind.SHARE and params.modulus != addend.modulus:
            raise InvalidArgument(
                f"EvaluateRequest.modulus: the model's shares are modulo"
                f" {addend.modulus:g}, not {params.modulus:g}"
            )
        policy = self._ctx.config.counterpart(peer.party_id).policy
        if params.kind is ScoreKind.PARTIAL:
            check_scores(addend.values, params.split, policy)
            check_contribution(addend.values, params.bank_spread, params.split, policy)
            try:
                units = partial_units(addend.values)
            except ValueError as exc:
                raise FailedPrecondition(f"the operator's {exc}") from None
        else:
            self._count_pairs(params.job_id, len(positions))
            units = share_units(addend.values, addend.modulus)
        if session.rows is None:
            raise FailedPrecondition(f"job {params.job_id} is not bound")
        self._desk.budget.spend(peer.party_id, params.job_id, session.rows, policy)
        pairs = shuffle_and_pack(request.values, addend_plaintexts(units, params.kind))
        if params.kind is ScoreKind.PARTIAL and params.split is Split.VALIDATION:
            with self._lock:
                self._cleared.add(params.job_id)
        self._ctx.store.append_audit(
            "evaluation.answered",
            counterpart=peer.party_id,
            subject=params.job_id,
            detail={
                "split": params.split.value,
                "round": params.round,
                "kind": params.kind.value,
                "rows": len(positions),
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        return EvaluationReply(len(positions), pairs)
