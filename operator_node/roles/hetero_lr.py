"""The operator's passive role in two-party logistic regression (protocol.hetero_lr).

Per job: the operator standardises its selected features on the training rows, keeps
its CKKS key, holds its own weights encrypted under the bank's key and answers the
bank's calls in the only order the protocol allows (Setup once; Forward, Sigmoid,
Backward per batch of at least the policy's minimum of distinct rows; evaluation
chunks fixed in advance, each evaluated at most once per epoch; Reveal once, which ends
training). At the end it learns its own weights and stores its part of the model.

Evaluation goes through protocol.evaluation (operator_node/evaluation.py): after the
reveal the role offers its partial scores of each split once, and its logit shares of
the validation split of every training pass whose validation chunks were all
evaluated (kept from training), once each. Setup refuses features that give too many
rows one score under any weights (operator_node/evaluation_rules.py).

After each epoch's evaluation the bank asks for a checkpoint: the operator writes its
own state (protocol/hetero_lr/checkpoint.py, with its CKKS secret key, the per-epoch
records: training passes, this pass's evaluations, and its logit shares of the
validation split of every pass so far, which never leave its state dir) and both agree
on the digest (node_core/checkpoint.py). Resume restores the most recent checkpoint
both hold: what was done after it is discarded with its masks, and the records come
back with it, so a resumed job gets no evaluation of a pass already evaluated and no
more passes than policy.max_epochs counts from the checkpoint. The shares of the
passes up to the checkpoint come back too, so the per-epoch validation AUC of a
resumed job covers every epoch; those of passes after it (trained before the
interruption, then discarded) are never offered: the pass is trained again and only
its new evaluation is kept, so each epoch's validation multiset is answered at most
once. No evaluation is answered before the reveal, and the Reveal deletes the
checkpoints: after it no resume is possible, so the trained model's partial scores are
offered once per split and job, and a resumed job spends the model budget
(operator_node/model_budget.py) once, under its one job id.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from models.preprocess import FeaturePreprocessor
from node_core.checkpoint import (
    Checkpoint,
    CheckpointError,
    JobCheckpoints,
    blob_array,
    delete_checkpoints,
)
from node_core.model_registry import ModelPart
from node_core.node import Registration
from operator_node.evaluation import SCORE_ADDENDS, Addend
from operator_node.evaluation_rules import check_feature_rows
from operator_node.job_session import JobSession
from operator_node.roles.base import PassiveRole
from protocol.auth import PeerDirectory
from protocol.crypto.ckks import PRECISE, CkksContext
from protocol.domain import Peer, Split
from protocol.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from protocol.evaluation.messages import FINAL_ROUND, ScoreKind
from protocol.hetero_lr import messages as m
from protocol.hetero_lr.checkpoint import (
    OWN_CONTEXT,
    PEER_CONTEXT,
    contexts,
    party_state,
    restore_party,
    restored_shares,
    shares_arrays,
)
from protocol.hetero_lr.party import (
    MAX_CLIP,
    LrHyper,
    OperatorLrParty,
    ProtocolStateError,
    evaluation_chunks,
)
from protocol.hetero_lr.service import PROTOCOL, hetero_lr_service

log = logging.getLogger(__name__)

# Calls allowed after each phase.
_NEXT: dict[str, set[str]] = {
    "ready": {"forward", "eval", "keep_best", "reveal"},
    "forward": {"sigmoid"},
    "sigmoid": {"backward"},
    "eval": {"loss"},
    "revealed": set(),
}


@dataclass
class _LrJob:
    party: OperatorLrParty
    preprocessor: FeaturePreprocessor
    columns: list[str]
    positions: dict[Split, np.ndarray]  # aligned positions per split
    chunks: dict[Split, list[np.ndarray]]  # evaluation chunks per split
    min_batch: int
    max_epochs: int
    phase: str = "ready"
    epoch: int = 0
    trained_rows: int = 0  # epochs are counted here, never taken from the bank
    step_due: bool = False  # the bank owes the step computed in the last Backward
    evaluated: set[tuple[int, Split, int, int]] = field(default_factory=set)
    bank_logits: bytes = b""
    weights: np.ndarray | None = None
    # The evaluation chunk of the pending Forward; my logit shares of the validation
    # split collected in training pass `shares_pass` (chunks done), and those of
    # every pass whose chunks were all evaluated (kept for the evaluation rounds).
    chunk: tuple[Split, int] | None = None
    shares: np.ndarray = field(default_factory=lambda: np.zeros(0))
    shares_pass: int = -1
    shared_chunks: set[int] = field(default_factory=set)
    pass_shares: dict[int, np.ndarray] = field(default_factory=dict)
    evaluated_rounds: set[tuple[str, object]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    setup: m.LrSetup | None = None  # as the bank sent it (for a checkpoint)

    def allow(self, call: str) -> None:
        if call not in _NEXT[self.phase]:
            raise FailedPrecondition(
                f"HeteroLr: {call} is not allowed after {self.phase}"
            )

    @property
    def passes(self) -> int:
        """Full passes over the training rows so far (the operator's epoch count)."""
        return self.trained_rows // len(self.positions[Split.TRAIN])

    def advance(self, call: str, then: str) -> None:
        self.allow(call)
        self.phase = then

    def keep_share(self) -> None:
        """After an evaluation Loss: my share of the chunk's logits (validation)."""
        if self.chunk is None or self.chunk[0] is not Split.VALIDATION:
            return
        if self.shares_pass != self.passes:
            validation = len(self.positions[Split.VALIDATION])
            self.shares, self.shares_pass = np.zeros(validation), self.passes
            self.shared_chunks = set()
        index = self.chunk[1]
        # Modulo the last level's period, as the bank's (LrHyper.evaluation_modulus).
        modulus = self.party.hyper.evaluation_modulus
        share = self.party.logit_share(self.bank_logits, modulus)
        chunk = self.chunks[Split.VALIDATION][index]
        self.shares[chunk] = share[: len(self.party.rows)]
        self.shared_chunks.add(index)
        if len(self.shared_chunks) == len(self.chunks[Split.VALIDATION]):
            self.pass_shares[self.passes] = self.shares.copy()


class LrAddends:
    """The role's part of every evaluation (operator_node/evaluation.ScoreAddends)."""

    def __init__(self, job: _LrJob) -> None:
        self._job = job

    def addend(self, split: Split, round: int, kind: ScoreKind) -> Addend:
        job = self._job
        with job.lock:
            if kind is ScoreKind.SHARE:
                return self._shares(job, split, round)
            if round != FINAL_ROUND:
                raise InvalidArgument(
                    "EvaluateRequest.round: partial scores are the trained model's"
                    f" (round {FINAL_ROUND})"
                )
            if job.weights is None:
                raise FailedPrecondition("logistic regression weights not revealed yet")
            if ("partial", split) in job.evaluated_rounds:
                raise PermissionDenied(
                    f"the {split.value} split of the trained model was already"
                    " evaluated"
                )
            job.evaluated_rounds.add(("partial", split))
            rows = job.positions[split]
            return Addend(job.party.features[rows] @ job.weights, ScoreKind.PARTIAL)

    @staticmethod
    def _shares(job: _LrJob, split: Split, round: int) -> Addend:
        """My logit shares of the validation split in the evaluation after training
        pass `round` (the bank's epoch), once, after the reveal."""
        if split is not Split.VALIDATION:
            raise PermissionDenied(
                "evaluations in training are of the validation split only"
            )
        if job.weights is None:
            raise FailedPrecondition("logistic regression weights not revealed yet")
        shares = job.pass_shares.get(round)
        if shares is None:
            raise FailedPrecondition(
                f"the validation split was not evaluated after training pass {round}"
            )
        if ("share", round) in job.evaluated_rounds:
            raise PermissionDenied(
                f"the validation split of training pass {round} was already evaluated"
            )
        job.evaluated_rounds.add(("share", round))
        return Addend(shares, ScoreKind.SHARE, job.party.hyper.evaluation_modulus)


class OperatorLr(PassiveRole[_LrJob]):
    """The passive role of model type hetero_lr: handler of the HeteroLr service."""

    model_type: ClassVar[str] = "hetero_lr"
    protocol = PROTOCOL
    title: ClassVar[str] = "logistic regression"

    def service(self, directory: PeerDirectory) -> Registration:
        return hetero_lr_service(directory, self)

    def model_part(self, state: _LrJob) -> ModelPart:
        if state.weights is None:
            raise FailedPrecondition("logistic regression weights not revealed yet")
        return ModelPart(
            kind="hetero_lr.operator",
            payload={
                "columns": state.columns,
                "inputs": state.preprocessor.output_names,
                "weights": state.weights.tolist(),
                "preprocessor": state.preprocessor.to_dict(),
            },
        )

    def _job(self, peer: Peer, job_id: str) -> _LrJob:
        return self.job(peer, job_id)[1]

    def setup(self, peer: Peer, request: m.LrSetup) -> m.LrSetupReply:
        session = self.desk.session(peer, request.job_id)
        positions = session.positions()
        if session.state(self.state_key) is not None:  # before any key generation
            raise FailedPrecondition(f"job {request.job_id}: already set up")
        policy = self.ctx.config.counterpart(peer.party_id).policy
        if request.batch_size < policy.min_batch_size:
            raise PermissionDenied(
                f"batch size {request.batch_size} is below the minimum of"
                f" {policy.min_batch_size} (policy.min_batch_size)"
            )
        if request.batch_size > PRECISE.slots:
            raise InvalidArgument(f"batch size must be <= {PRECISE.slots}")
        features = request.operator_features
        bad = [f for f in features if not 0 <= f < len(session.columns)]
        if bad or len(set(features)) != len(features):
            raise InvalidArgument("LrSetupRequest.operator_features: invalid index")
        if len(features) < policy.min_model_features:
            raise PermissionDenied(
                f"a model needs at least {policy.min_model_features} operator features"
                f" (policy.min_model_features); the job selected {len(features)}"
            )
        if min(len(p) for p in positions.values()) < policy.min_batch_size:
            raise PermissionDenied(
                "each split needs at least the minimum batch of"
                f" {policy.min_batch_size} rows (policy.min_batch_size)"
            )
        try:
            bank_context = CkksContext.from_bytes(request.bank_context)
            hyper = LrHyper.of_setup(request)
        except ValueError as exc:
            raise InvalidArgument(f"LrSetupRequest: {exc}") from None
        if bank_context.preset != PRECISE:
            raise InvalidArgument(
                "LrSetupRequest.bank_context: must use the PRECISE preset"
            )
        columns = [session.columns[f] for f in features]
        frame = session.features()[columns]
        if request.clip and not 1.0 <= request.clip <= MAX_CLIP:
            raise InvalidArgument(
                f"LrSetupRequest.clip: must be 0 or in [1, {MAX_CLIP:g}]"
            )
        clip = request.clip or MAX_CLIP  # 0: the protocol maximum
        kinds = {c: session.kind(c) for c in columns}
        pre = FeaturePreprocessor.fit(
            frame.iloc[positions[Split.TRAIN]],
            kinds,
            clip=clip,
            min_count=policy.min_batch_size,
        )
        x = pre.transform(frame)
        check_feature_rows(x, positions, policy)
        keys = CkksContext.create(PRECISE, galois_keys=False)
        try:
            party = OperatorLrParty(
                x,
                request.bank_dim,
                keys,
                bank_context,
                hyper,
                peer_intercept=request.bank_dim - 1,
                clip=clip,
            )
        except ValueError as exc:
            raise InvalidArgument(f"LrSetupRequest: {exc}") from None
        # The fixed evaluation chunks: the validation split, and the first N/2
        # positions of the train split as a sample (the bank computes the same).
        chunks = {
            Split.TRAIN: evaluation_chunks(
                min(PRECISE.slots, len(positions[Split.TRAIN])), PRECISE.slots
            ),
            Split.VALIDATION: evaluation_chunks(
                len(positions[Split.VALIDATION]), PRECISE.slots
            ),
        }
        job = _LrJob(
            party, pre, columns, positions, chunks, policy.min_batch_size,
            policy.max_epochs, setup=request,
        )  # fmt: skip
        session.attach(self.state_key, job)
        session.attach(SCORE_ADDENDS, LrAddends(job))
        self.ctx.store.append_audit(
            "lr.setup",
            counterpart=peer.party_id,
            subject=request.job_id,
            # What the operator learns at Setup: which of its features passed the
            # bank's selection, and how many inputs the bank's side has.
            detail={"features": columns, "bank_dim": request.bank_dim},
        )
        return m.LrSetupReply(
            keys.public_bytes(),
            len(pre.output_names),
            len(positions[Split.TRAIN]),
            len(positions[Split.VALIDATION]),
        )

    def _check_rows(
        self, job: _LrJob, request: m.LrForward
    ) -> tuple[np.ndarray, tuple[int, Split, int, int] | None]:
        """The split's aligned positions of the request's rows, and the evaluation
        key to record once the call is known to be valid (nothing is changed here)."""
        rows = np.asarray(request.rows, dtype=np.int64)
        evaluated = None
        if len(np.unique(rows)) != len(rows):
            raise InvalidArgument("LrForwardRequest.rows: positions must be distinct")
        if request.evaluation:
            chunks = job.chunks[request.split]
            index = next(
                (i for i, c in enumerate(chunks) if np.array_equal(c, rows)), None
            )
            if index is None:
                raise PermissionDenied(
                    "LrForwardRequest.rows: evaluation rows must be one of the split's"
                    " fixed evaluation chunks"
                )
            evaluated = (job.passes, request.split, index, request.range_level)
            if evaluated in job.evaluated:
                raise PermissionDenied(
                    f"the {request.split.value} chunk {index} was already evaluated"
                    " at this range level since the last full training pass"
                )
        else:
            if request.split is not Split.TRAIN:
                raise InvalidArgument("training batches come from the train split")
            if len(rows) < job.min_batch:
                raise PermissionDenied(
                    f"batch of {len(rows)} rows is below the minimum of"
                    f" {job.min_batch} (policy.min_batch_size)"
                )
            if job.passes >= job.max_epochs:
                raise PermissionDenied(
                    f"the job has made {job.max_epochs} training passes"
                    " (policy.max_epochs)"
                )
        positions = job.positions[request.split]
        if rows.max(initial=-1) >= len(positions) or rows.min(initial=0) < 0:
            raise InvalidArgument(
                f"row position out of range for the {request.split.value} split"
            )
        return positions[rows], evaluated

    def forward(self, peer: Peer, request: m.LrForward) -> m.LrForwardReply:
        job = self._job(peer, request.job_id)
        with job.lock:
            if request.epoch < job.epoch:
                raise FailedPrecondition("HeteroLr: epochs only move forward")
            call = "eval" if request.evaluation else "forward"
            job.allow(call)
            if job.step_due != bool(request.operator_step):
                raise FailedPrecondition(
                    "HeteroLr: a Forward must carry the operator's step from the"
                    " previous Backward, and only then"
                )
            if not job.party.level <= request.range_level <= job.party.hyper.max_level:
                raise InvalidArgument(
                    "LrForwardRequest.range_level: must be"
                    f" {job.party.level}..{job.party.hyper.max_level}"
                )
            rows, evaluated = self._check_rows(job, request)
            try:
                job.party.check_peer_logits(request.bank_logits)
            except ValueError as exc:
                raise InvalidArgument(f"LrForwardRequest.bank_logits: {exc}") from None
            try:
                step = job.party.load_steps(list(request.operator_step))
            except ValueError as exc:
                raise InvalidArgument(
                    f"LrForwardRequest.operator_step: {exc}"
                ) from None
            # Everything is valid: from here on the call changes the job's state.
            if evaluated is not None:
                job.evaluated.add(evaluated)
            job.chunk = None if evaluated is None else (evaluated[1], evaluated[2])
            job.party.set_level(request.range_level)
            if step:
                job.party.apply_step(step, request.step_epoch)
            job.party.start(rows)
            job.advance(call, call)
            job.step_due = False
            job.epoch = request.epoch
            if not request.evaluation:
                job.trained_rows += len(rows)
            job.bank_logits = request.bank_logits
            try:
                return m.LrForwardReply(job.party.masked_logits())
            except ProtocolStateError as exc:  # the weights' bound outgrew the masks
                raise FailedPrecondition(f"HeteroLr: {exc}") from None

    def sigmoid(self, peer: Peer, request: m.LrSigmoid) -> m.LrSigmoidReply:
        job = self._job(peer, request.job_id)
        with job.lock:
            job.allow("sigmoid")
            try:
                masked, negated, zone = job.party.sigmoid(
                    job.bank_logits, list(request.bank_harmonics)
                )
            except ValueError as exc:
                raise InvalidArgument(f"LrSigmoidRequest: {exc}") from None
            job.advance("sigmoid", "sigmoid")
            return m.LrSigmoidReply(masked, negated, zone)

    def backward(self, peer: Peer, request: m.LrBackward) -> m.LrBackwardReply:
        job = self._job(peer, request.job_id)
        with job.lock:
            job.allow("backward")
            try:
                share = job.party.load_share(request.residual_share)
                products = job.party.load_products(list(request.bank_products))
            except ValueError as exc:
                raise InvalidArgument(f"LrBackwardRequest: {exc}") from None
            try:
                step = job.party.masked_peer_step(products, request.epoch)
                own = job.party.backward(share)
            except ProtocolStateError as exc:
                raise FailedPrecondition(str(exc)) from None
            job.advance("backward", "ready")
            job.step_due = True
            return m.LrBackwardReply(tuple(own), tuple(step))

    def loss(self, peer: Peer, request: m.LrLoss) -> m.LrLossReply:
        job = self._job(peer, request.job_id)
        with job.lock:
            job.allow("loss")
            try:
                masked, constant, zone = job.party.loss(
                    job.bank_logits, list(request.loss_terms)
                )
            except ValueError as exc:
                raise InvalidArgument(f"LrLossRequest: {exc}") from None
            job.advance("loss", "ready")
            job.keep_share()
            return m.LrLossReply(masked, constant, zone)

    def keep_best(self, peer: Peer, request: m.LrKeepBest) -> None:
        job = self._job(peer, request.job_id)
        with job.lock:
            job.advance("keep_best", "ready")
            job.party.keep_best()
        # The operator learns each epoch whose validation loss improved: the last is
        # the best epoch, and the Reveal after it tells when training stopped.
        self.ctx.store.append_audit(
            "lr.keep_best",
            counterpart=peer.party_id,
            subject=request.job_id,
            detail={"epoch": request.epoch, "training_passes": job.passes},
        )

    def reveal(self, peer: Peer, request: m.LrReveal) -> m.LrRevealReply:
        job = self._job(peer, request.job_id)
        with job.lock:
            job.allow("reveal")
            try:
                weights = job.party.own_weights(request.operator_step_units)
            except ValueError as exc:
                raise InvalidArgument(f"LrRevealRequest: {exc}") from None
            job.weights = weights
            job.advance("reveal", "revealed")
            reply = m.LrRevealReply(tuple(job.party.reveal_sum()))
            # Training is over: no resume can go back to before the reveal.
            delete_checkpoints(self.ctx.config.state_dir, request.job_id)
        self.save_model_part(peer, request.job_id, job)
        return reply

    # ---- checkpoints and resume (node_core/checkpoint.py) -------------------------
    def checkpoint(self, peer: Peer, request: m.LrCheckpoint) -> str:
        """Write the operator's state at the epoch boundary the bank names and agree
        on it; returns the operator's commitment."""
        session, job = self.job(peer, request.job_id)
        if session.rows is None or session.validation is None or job.setup is None:
            raise FailedPrecondition(f"job {request.job_id}: not bound or set up")
        with job.lock:
            job.allow("keep_best")  # the phase after an evaluation's Loss
            if job.step_due or job.passes != request.epoch:
                raise FailedPrecondition(
                    "HeteroLr: a checkpoint is taken at the end of an epoch only"
                    f" (the operator counts {job.passes} training passes)"
                )
            validated = {
                i for p, split, i, _ in job.evaluated
                if p == job.passes and split is Split.VALIDATION
            }  # fmt: skip
            if len(validated) != len(job.chunks[Split.VALIDATION]):
                raise FailedPrecondition(
                    "HeteroLr: a checkpoint follows the epoch's validation"
                )
            values, blobs = party_state(job.party)
            setup = job.setup
            meta = {
                "party": values,
                "setup": {
                    "bank_dim": setup.bank_dim,
                    "learning_rate": setup.learning_rate,
                    "optimizer": setup.optimizer,
                    "momentum": setup.momentum,
                    "lr_decay": setup.lr_decay,
                    "l2": setup.l2,
                    "sigmoid_terms": setup.sigmoid_terms,
                    "sigmoid_range": setup.sigmoid_range,
                    "sigmoid_period": setup.sigmoid_period,
                    "clip": job.party.clip,
                },
                "columns": job.columns,
                "session_columns": session.columns,
                "preprocessor": job.preprocessor.to_dict(),
                "min_batch": job.min_batch,
                "max_epochs": job.max_epochs,
                "epoch": job.epoch,
                "trained_rows": job.trained_rows,
                # Evaluations of the current pass (older ones can never recur).
                "evaluated": sorted(
                    [p, split.value, i, level]
                    for p, split, i, level in job.evaluated
                    if p == job.passes
                ),
                "fingerprint": self.desk.fingerprint(peer),
            }
            arrays = {k: blob_array(v) for k, v in blobs.items()}
            arrays["rows"] = np.asarray(session.rows, dtype=np.int64)
            arrays["validation"] = np.asarray(session.validation, dtype=bool)
            # My logit shares of every evaluated pass so far (my own state dir only).
            arrays |= shares_arrays(job.pass_shares)
            store = JobCheckpoints(self.ctx.config.state_dir, request.job_id)
            own = store.write(request.epoch, meta, arrays)
            digest = store.agree(
                request.epoch, bank=request.bank_commitment, operator=own,
                own="operator",
            )  # fmt: skip
        self.ctx.store.append_audit(
            "lr.checkpoint",
            counterpart=peer.party_id,
            subject=request.job_id,
            detail={"epoch": request.epoch, "digest": digest},
        )
        return own

    def resume(self, peer: Peer, request: m.LrResume) -> m.LrResumeReply:
        """Restore the job from the most recent checkpoint both parties hold (the
        bank's list), with its once-per-job and per-epoch records: nothing done after
        that checkpoint counts, nothing before it can be done again."""
        job_id = request.job_id
        store = JobCheckpoints(self.ctx.config.state_dir, job_id)
        held = {a.epoch: a for a in store.agreed()}
        common = sorted(
            (c for c in request.checkpoints if c.epoch in held), key=lambda c: -c.epoch
        )
        if not held:
            raise FailedPrecondition(
                f"job {job_id} is not resumable: the operator holds no checkpoint of it"
                " (unknown job, ended, or interrupted before its first epoch)"
            )
        if not common:
            raise FailedPrecondition(
                f"job {job_id}: no checkpoint both parties hold (the operator holds"
                f" epochs {sorted(held)})"
            )
        chosen = common[0]
        try:
            agreement = store.find(chosen.epoch, chosen.digest)
            saved = store.load(agreement)
        except CheckpointError as exc:
            raise FailedPrecondition(str(exc)) from None
        meta, arrays = saved.meta, saved.arrays
        session = self.desk.resume_session(
            peer,
            job_id,
            columns=list(meta["session_columns"]),
            rows=np.asarray(arrays["rows"], dtype=np.int64),
            validation=np.asarray(arrays["validation"], dtype=bool),
            fingerprint=str(meta["fingerprint"]),
        )
        job = self._restored(session, meta, saved)
        session.attach(self.state_key, job)
        session.attach(SCORE_ADDENDS, LrAddends(job))
        self.ctx.store.append_audit(
            "job.resumed",
            counterpart=peer.party_id,
            subject=job_id,
            detail={"epoch": agreement.epoch, "digest": agreement.digest},
        )
        return m.LrResumeReply(
            m.CheckpointRef(agreement.epoch, agreement.digest),
            m.LrSetupReply(
                job.party.keys.public_bytes(),
                len(job.preprocessor.output_names),
                len(job.positions[Split.TRAIN]),
                len(job.positions[Split.VALIDATION]),
            ),
        )

    def _restored(
        self, session: JobSession, meta: dict[str, Any], saved: Checkpoint
    ) -> _LrJob:
        setup = meta["setup"]
        hyper = LrHyper(
            learning_rate=setup["learning_rate"],
            optimizer=setup["optimizer"],
            momentum=setup["momentum"],
            lr_decay=setup["lr_decay"],
            l2=setup["l2"],
            terms=setup["sigmoid_terms"],
            fit_range=setup["sigmoid_range"],
            period=setup["sigmoid_period"],
        )
        columns = list(meta["columns"])
        pre = FeaturePreprocessor.from_dict(meta["preprocessor"])
        positions = session.positions()
        blobs = {k: saved.blob(k) for k in (OWN_CONTEXT, PEER_CONTEXT)}
        blobs |= {k: saved.blob(k) for k in saved.arrays if k.startswith("weight_")}
        keys, bank_context = contexts(blobs)
        bank_dim = int(setup["bank_dim"])
        party = OperatorLrParty(
            pre.transform(session.features()[columns]),
            bank_dim,
            keys,
            bank_context,
            hyper,
            peer_intercept=bank_dim - 1,
            clip=float(setup["clip"]),
        )
        restore_party(party, meta["party"], blobs)
        # Today's policy on the features, as at Setup (the data is the same).
        policy = self.ctx.config.counterpart(session.counterpart).policy
        check_feature_rows(party.features, positions, policy)
        validation_rows = len(positions[Split.VALIDATION])
        try:
            pass_shares = restored_shares(saved.arrays, saved.epoch, validation_rows)
        except ValueError as exc:
            raise FailedPrecondition(f"job {session.job_id}: {exc}") from None
        slots = PRECISE.slots
        chunks = {
            Split.TRAIN: evaluation_chunks(
                min(slots, len(positions[Split.TRAIN])), slots
            ),
            Split.VALIDATION: evaluation_chunks(
                len(positions[Split.VALIDATION]), slots
            ),
        }
        restored = m.LrSetup(
            job_id=session.job_id, bank_context=bank_context.public_bytes(),
            bank_dim=bank_dim, operator_features=(),
            learning_rate=hyper.learning_rate, optimizer=hyper.optimizer,
            momentum=hyper.momentum, lr_decay=hyper.lr_decay, l2=hyper.l2,
            batch_size=0, sigmoid_terms=hyper.terms, sigmoid_range=hyper.fit_range,
            sigmoid_period=hyper.period, clip=float(setup["clip"]),
        )  # fmt: skip
        job = _LrJob(
            party, pre, columns, positions, chunks, int(meta["min_batch"]),
            int(meta["max_epochs"]), epoch=int(meta["epoch"]),
            trained_rows=int(meta["trained_rows"]),
            evaluated={
                (int(p), Split(split), int(i), int(level))
                for p, split, i, level in meta["evaluated"]
            },
            setup=restored, pass_shares=pass_shares,
        )  # fmt: skip
        if job.passes in pass_shares:  # the checkpointed pass's validation is done
            job.shares, job.shares_pass = pass_shares[job.passes].copy(), job.passes
            job.shared_chunks = set(range(len(chunks[Split.VALIDATION])))
        return job
