"""The operator's side of two-party logistic regression (protocol.hetero_lr).

Per job: the operator standardises its selected features on the training rows, keeps
its CKKS key, holds its own weights encrypted under the bank's key, answers the bank's
calls, and at the end learns its own weights, stores its part of the model in its
registry and computes its partial scores for batch prediction (once per split).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import numpy as np

from models.preprocess import FeaturePreprocessor
from node_core.models import ModelRegistry
from node_core.node import NodeContext
from operator_node.jobs import JobDesk, JobSession
from protocol.crypto.ckks import PRECISE, CkksContext
from protocol.domain import Peer
from protocol.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from protocol.hetero_lr import messages as m
from protocol.hetero_lr.party import CLIP, LrHyper, OperatorLrParty

log = logging.getLogger(__name__)


@dataclass
class _LrJob:
    party: OperatorLrParty
    preprocessor: FeaturePreprocessor
    columns: list[str]
    positions: dict[str, np.ndarray]  # split -> aligned positions
    bank_logits: bytes = b""
    weights: np.ndarray | None = None
    scored: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


class OperatorLr:
    """Handler of the HeteroLr service."""

    def __init__(self, ctx: NodeContext, desk: JobDesk) -> None:
        self._ctx = ctx
        self._desk = desk
        self._models = ModelRegistry(ctx.config.state_dir, ctx.store)

    def _job(self, peer: Peer, job_id: str) -> tuple[JobSession, _LrJob]:
        session = self._desk.session(peer, job_id)
        job = session.state.get("lr")
        if job is None:
            raise FailedPrecondition(f"job {job_id}: logistic regression not set up")
        return session, job

    def setup(self, peer: Peer, request: m.LrSetup) -> m.LrSetupReply:
        session = self._desk.session(peer, request.job_id)
        if session.validation is None:
            raise FailedPrecondition(
                f"job {request.job_id} is not bound to an alignment"
            )
        policy = self._ctx.config.counterpart(peer.party_id).policy
        if request.batch_size < policy.min_batch_size:
            raise PermissionDenied(
                f"batch size {request.batch_size} is below the minimum of"
                f" {policy.min_batch_size} (policy.min_batch_size)"
            )
        if request.batch_size > PRECISE.slots:
            raise InvalidArgument(f"batch size must be <= {PRECISE.slots}")
        bad = [
            f for f in request.operator_features if not 0 <= f < len(session.columns)
        ]
        if bad or len(set(request.operator_features)) != len(request.operator_features):
            raise InvalidArgument("LrSetupRequest.operator_features: invalid index")
        try:
            bank_context = CkksContext.from_bytes(request.bank_context)
        except ValueError as exc:
            raise InvalidArgument(f"LrSetupRequest.bank_context: {exc}") from None
        columns = [session.columns[f] for f in request.operator_features]
        frame = session.features()[columns]
        validation = session.validation
        train = np.flatnonzero(~validation)
        clip = min(request.clip or CLIP, CLIP)
        kinds = {c: session.kind(c) for c in columns}
        pre = FeaturePreprocessor.fit(frame.iloc[train], kinds, clip=clip)
        hyper = LrHyper(
            learning_rate=request.learning_rate,
            optimizer=request.optimizer,
            momentum=request.momentum,
            lr_decay=request.lr_decay,
            l2=request.l2,
            terms=request.sigmoid_terms,
            fit_range=request.sigmoid_range,
            period=request.sigmoid_period,
        )
        keys = CkksContext.create(PRECISE, galois_keys=False)
        party = OperatorLrParty(
            pre.transform(frame),
            request.bank_dim,
            keys,
            bank_context,
            hyper,
            peer_intercept=request.bank_dim - 1,
        )
        positions = {"train": train, "validation": np.flatnonzero(validation)}
        session.state["lr"] = _LrJob(party, pre, columns, positions)
        self._ctx.store.append_audit(
            "lr.setup",
            counterpart=peer.party_id,
            subject=request.job_id,
            detail={"features": len(columns), "bank_dim": request.bank_dim},
        )
        return m.LrSetupReply(
            keys.public_bytes(),
            len(pre.output_names),
            len(positions["train"]),
            len(positions["validation"]),
        )

    def _rows(self, job: _LrJob, split: str, rows: tuple[int, ...]) -> np.ndarray:
        positions = job.positions[split]
        idx = np.asarray(rows, dtype=np.int64)
        if idx.max(initial=-1) >= len(positions):
            raise InvalidArgument(f"row position out of range for the {split} split")
        return positions[idx]

    def forward(self, peer: Peer, request: m.LrForward) -> m.LrForwardReply:
        _, job = self._job(peer, request.job_id)
        with job.lock:
            if request.operator_step:
                job.party.apply_step(list(request.operator_step), request.step_epoch)
            job.party.start(self._rows(job, request.split, request.rows))
            logits = job.party.masked_logits()
            job.bank_logits = request.bank_logits
            harmonics: tuple[bytes, ...] = ()
            if request.with_harmonics:
                harmonics = tuple(job.party.loss_harmonics(request.bank_logits))
            return m.LrForwardReply(logits, harmonics)

    def sigmoid(self, peer: Peer, request: m.LrSigmoid) -> m.LrSigmoidReply:
        _, job = self._job(peer, request.job_id)
        with job.lock:
            residual, negated = job.party.sigmoid(
                job.bank_logits, list(request.bank_harmonics)
            )
            return m.LrSigmoidReply(residual, negated)

    def backward(self, peer: Peer, request: m.LrBackward) -> m.LrBackwardReply:
        _, job = self._job(peer, request.job_id)
        with job.lock:
            products = job.party.backward(request.residual_share)
            step = job.party.masked_peer_step(
                list(request.bank_products), request.epoch
            )
            return m.LrBackwardReply(tuple(products), tuple(step))

    def loss(self, peer: Peer, request: m.LrLoss) -> float:
        _, job = self._job(peer, request.job_id)
        with job.lock:
            return job.party.loss_sum(request.masked_loss)

    def keep_best(self, peer: Peer, job_id: str, epoch: int) -> None:
        _, job = self._job(peer, job_id)
        with job.lock:
            job.party.keep_best()

    def reveal(self, peer: Peer, request: m.LrReveal) -> m.LrRevealReply:
        _, job = self._job(peer, request.job_id)
        with job.lock:
            if request.operator_step:
                job.party.apply_step(list(request.operator_step), request.step_epoch)
            opened = job.party.open_peer_weights(request.bank_masked_weights)
            masked, _ = job.party.masked_weights()
            return m.LrRevealReply(tuple(float(v) for v in opened), masked)

    def finish_reveal(self, peer: Peer, request: m.LrRevealFinish) -> None:
        session, job = self._job(peer, request.job_id)
        with job.lock:
            job.weights = job.party.own_weights(np.asarray(request.operator_opened))
        self._models.save(
            job_id=request.job_id,
            counterpart=peer.party_id,
            kind="hetero_lr.operator",
            payload={
                "columns": job.columns,
                "inputs": job.preprocessor.output_names,
                "weights": job.weights.tolist(),
                "preprocessor": job.preprocessor.to_dict(),
            },
        )

    def partial_scores(self, peer: Peer, job_id: str, split: str) -> np.ndarray:
        _, job = self._job(peer, job_id)
        with job.lock:
            if job.weights is None:
                raise FailedPrecondition(f"job {job_id}: weights not revealed yet")
            if split in job.scored:
                raise PermissionDenied(
                    f"job {job_id}: the {split} split was already scored once"
                )
            job.scored.add(split)
            scores = job.party.features[job.positions[split]] @ job.weights
        self._ctx.store.append_audit(
            "lr.partial_scores",
            counterpart=peer.party_id,
            subject=job_id,
            detail={"split": split, "rows": len(scores)},
        )
        return scores
