"""The operator's passive role in split-NN training (model type "split_nn").

Training runs over Flower (protocol/split_nn): the operator's SuperNode and its
pinned ClientApp hold the bottom model. This role sets that up and ends it, per job,
through the SplitNn service, in the only order it allows:

- Prepare (once, after Jobs.Bind): the operator preprocesses the selected features
  on the training rows (standardised and clipped, categories as indicators with at
  least the policy's minimum batch of rows on each side), writes them for the aligned
  rows where only this job's SuperNode reads them, and answers with the input width
  and the public key of its node certificate (its SuperNode signs with that key);
- Start (once): the operator checks that the bank's SuperLink is on an allowed host
  and presents the bank's identity from the bank's CA, then starts its SuperNode and
  executor (protocol/split_nn/deployment.py), capped at the operator's rounds;
- Complete (once): the operator registers its trained bottom model and stops its
  Flower processes.

A lookalike job (task "lookalike", the bank's labels = its seed audience) is served
unchanged: this role never sees labels of either kind, so it learns only what a credit
split-NN job discloses; the task itself is known from the proposal (job_desk.py).

When the job ends any other way (Jobs.Finish with a failure, the bank idle, the node
stopping) the job session closes and so do its Flower processes; the aligned feature
file is deleted then, the bottom model stays in the job's folder.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from models.preprocess import FeaturePreprocessor
from node_core.model_registry import ModelPart
from node_core.node import Registration
from operator_node.job_session import JobSession
from operator_node.roles.base import PassiveRole
from protocol.auth import PeerDirectory
from protocol.domain import Peer, Split
from protocol.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from protocol.split_nn import messages as m
from protocol.split_nn.service import PROTOCOL, split_nn_service

if TYPE_CHECKING:
    from protocol.split_nn.deployment import OperatorFlower

log = logging.getLogger(__name__)

MODEL_TYPE = "split_nn"
# Standardised operator features are clipped to +-CLIP (as the bank's are).
CLIP = 5.0


@dataclass
class _NnJob:
    columns: list[str]
    preprocessor: FeaturePreprocessor
    features_file: Path
    node_data_dir: Path  # what this job's SuperNode sees: only this job's folder
    rounds: int
    phase: str = "prepared"  # prepared -> running -> done
    flower: OperatorFlower | None = None  # while running
    bottom: dict[str, np.ndarray] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def stop_flower(self) -> None:
        flower, self.flower = self.flower, None
        if flower is not None:
            flower.stop()

    def close(self) -> None:
        """The job ended: its aligned features go and its Flower processes stop, in
        the background (stopping may take two grace periods; the call that ended
        the job, e.g. Jobs.Finish under the bank's short deadline, does not wait)."""
        self.features_file.unlink(missing_ok=True)
        if self.flower is not None:
            threading.Thread(
                target=self.stop_flower, name="split-nn stop", daemon=False
            ).start()


class OperatorSplitNn(PassiveRole[_NnJob]):
    """The passive role of model type split_nn: handler of the SplitNn service."""

    model_type: ClassVar[str] = MODEL_TYPE
    protocol = PROTOCOL
    title: ClassVar[str] = "split neural network"

    def service(self, directory: PeerDirectory) -> Registration:
        return split_nn_service(directory, self)

    def model_part(self, state: _NnJob) -> ModelPart:
        if not state.bottom:
            raise FailedPrecondition("the bottom model is not trained yet")
        return ModelPart(
            kind="split_nn.operator",
            payload={
                "columns": state.columns,
                "inputs": state.preprocessor.output_names,
                "preprocessor": state.preprocessor.to_dict(),
                "bottom": {
                    k: {"shape": list(v.shape), "values": v.ravel().tolist()}
                    for k, v in state.bottom.items()
                },
            },
        )

    # ---- settings ----------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        config = self.ctx.config
        return config.split_nn.data_dir or config.state_dir / "split_nn"

    def max_rounds(self, peer: Peer) -> int:
        policy = self.ctx.config.counterpart(peer.party_id).policy
        return min(self.ctx.config.split_nn.max_rounds, policy.max_epochs)

    # ---- calls -------------------------------------------------------------------
    def prepare(self, peer: Peer, request: m.NnPrepare) -> m.NnPrepareReply:
        session = self.desk.session(peer, request.job_id)
        if self.ctx.store.get_job(request.job_id).kind != MODEL_TYPE:
            raise FailedPrecondition(
                f"job {request.job_id} is not a split-NN job (its model type differs)"
            )
        positions = session.positions()
        policy = self.ctx.config.counterpart(peer.party_id).policy
        features = request.operator_features
        if any(not 0 <= f < len(session.columns) for f in features):
            raise InvalidArgument(
                "NnPrepareRequest.operator_features: index out of range"
            )
        if len(features) < policy.min_model_features:
            raise PermissionDenied(
                f"a model needs at least {policy.min_model_features} operator features"
                f" (policy.min_model_features); the job selected {len(features)}"
            )
        limit = self.max_rounds(peer)
        if request.rounds > limit:
            raise PermissionDenied(
                f"the operator allows at most {limit} rounds per split-NN job"
                " (split_nn.max_rounds, policy.max_epochs); the job asks"
                f" {request.rounds}"
            )
        if min(len(p) for p in positions.values()) < policy.min_batch_size:
            raise PermissionDenied(
                "each split needs at least the minimum batch of"
                f" {policy.min_batch_size} rows (policy.min_batch_size)"
            )
        session.claim("split-NN preparation")
        try:
            state = self._write_features(session, features, policy.min_batch_size)
            state.rounds = request.rounds
        except BaseException:
            session.release("split-NN preparation")
            raise
        session.attach(self.state_key, state)
        self.ctx.store.append_audit(
            "split_nn.prepare",
            counterpart=peer.party_id,
            subject=request.job_id,
            detail={
                "features": len(features),
                "columns": len(state.preprocessor.output_names),
                "rounds": request.rounds,
            },
        )
        from protocol.split_nn.pki import public_key_pem  # cryptography only

        return m.NnPrepareReply(
            operator_columns=len(state.preprocessor.output_names),
            node_public_key=public_key_pem(self.ctx.config.tls.cert),
            train_rows=len(positions[Split.TRAIN]),
            validation_rows=len(positions[Split.VALIDATION]),
        )

    def _write_features(
        self, session: JobSession, features: tuple[int, ...], min_count: int
    ) -> _NnJob:
        columns = [session.columns[f] for f in features]
        frame = session.features()[columns]
        kinds = {c: session.kind(c) for c in columns}
        train = session.positions()[Split.TRAIN]
        pre = FeaturePreprocessor.fit(
            frame.iloc[train], kinds, clip=CLIP, min_count=min_count
        )
        values = pre.transform(frame).astype(np.float32)
        if values.shape[1] == 0:
            raise PermissionDenied(
                "no operator feature column has enough rows on each side"
                " (policy.min_batch_size)"
            )
        # One folder per job, seen alone by the job's SuperNode (its data-dir):
        # <data_dir>/<job>/<job>/operator_features.npy.
        node_dir = self.data_dir / session.job_id
        folder = node_dir / session.job_id
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        from protocol.split_nn.party import OPERATOR_FEATURES_FILE

        path = folder / OPERATOR_FEATURES_FILE
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, values, allow_pickle=False)
        os.replace(tmp, path)
        return _NnJob(columns, pre, path, node_dir, rounds=0)

    def start(self, peer: Peer, request: m.NnStart) -> None:
        _, state = self.job(peer, request.job_id)
        config = self.ctx.config
        settings = config.split_nn
        if request.superlink_host not in settings.allowed_superlink_hosts:
            raise PermissionDenied(
                f"SuperLink host {request.superlink_host!r} is not allowed"
                " (split_nn.allowed_superlink_hosts)"
            )
        with state.lock:
            if state.phase != "prepared":
                raise FailedPrecondition(
                    f"job {request.job_id}: the SuperNode was already started"
                )
            state.phase = "starting"
        # Flower and its processes only for a job that gets this far.
        from protocol.split_nn.deployment import OperatorFlower
        from protocol.split_nn.fab import PINNED_FAB_SHA256

        counterpart = config.counterpart(peer.party_id)
        ca = counterpart.ca or config.tls.ca
        if ca is None:
            raise FailedPrecondition("no CA configured for the counterpart")
        flower = OperatorFlower(
            self.data_dir / f"{request.job_id}.flower",
            (request.superlink_host, request.superlink_port),
            ca,
            counterpart.identity,
            config.tls.key,
            state.node_data_dir,
            trusted_fabs=settings.trusted_fabs or (PINNED_FAB_SHA256,),
            max_rounds=self.max_rounds(peer),
            max_wait_s=settings.round_timeout_s,
        )
        try:
            flower.start()
        except BaseException:
            flower.stop()
            with state.lock:
                state.phase = "failed"
            raise
        with state.lock:
            state.flower = flower
            state.phase = "running"
        self.ctx.store.append_audit(
            "split_nn.start",
            counterpart=peer.party_id,
            subject=request.job_id,
            detail={"superlink": f"{request.superlink_host}:{request.superlink_port}"},
        )

    def complete(self, peer: Peer, request: m.NnComplete) -> m.NnCompleteReply:
        _, state = self.job(peer, request.job_id)
        with state.lock:
            if state.phase != "running":
                raise FailedPrecondition(
                    f"job {request.job_id}: no split-NN run is in progress"
                )
            state.phase = "completing"
        from protocol.split_nn.party import OPERATOR_MODEL_FILE

        path = state.features_file.parent / OPERATOR_MODEL_FILE
        if not path.is_file():
            with state.lock:
                state.phase = "running"
            raise FailedPrecondition(
                f"job {request.job_id}: the operator's ClientApp has not saved a"
                " trained bottom model (the run did not finish here)"
            )
        with np.load(path, allow_pickle=False) as saved:
            state.bottom = {
                k: np.asarray(saved[k])
                for k in saved.files
                if not k.startswith("optimizer.")
            }
        record = self.save_model_part(peer, request.job_id, state)
        state.stop_flower()
        with state.lock:
            state.phase = "done"
        self.ctx.store.append_audit(
            "split_nn.complete",
            counterpart=peer.party_id,
            subject=request.job_id,
            detail={"model": record.name, "version": record.version},
        )
        return m.NnCompleteReply(record.name, record.version)
