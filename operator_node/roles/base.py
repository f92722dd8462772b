"""The seam between the operator node and a model type: its passive role.

A passive role serves the gRPC protocol its model type's bank-side Trainer drives
(bank_node/trainers/base.py), keeps its per-job state in the job's session under its
own typed key, and serialises the operator's part of the trained model for the
operator's model registry. The job desk refuses proposals for model types no role
serves; the node registers every role's servicer (operator_node/cli.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Generic, TypeVar

from node_core.model_registry import ModelPart, ModelRecord, ModelRegistry
from node_core.node import NodeContext, Registration
from operator_node.job_desk import JobDesk
from operator_node.job_session import JobSession, StateKey
from protocol.auth import PeerDirectory
from protocol.domain import Peer, ProtocolDeclaration
from protocol.errors import FailedPrecondition

StateT = TypeVar("StateT")


class PassiveRole(ABC, Generic[StateT]):
    """The operator's side of one model type."""

    # The job spec's [model] type this role serves (JobProposal.model).
    model_type: ClassVar[str]
    # The protocol it serves; its capability is what the bank's trainer requires.
    protocol: ClassVar[ProtocolDeclaration]
    # What to call the model in refusals ("logistic regression not set up").
    title: ClassVar[str]

    def __init__(self, ctx: NodeContext, desk: JobDesk) -> None:
        self.ctx = ctx
        self.desk = desk
        self.models = ModelRegistry(ctx.config.state_dir, ctx.store)
        self.state_key: StateKey[StateT] = StateKey(self.model_type)

    @abstractmethod
    def service(self, directory: PeerDirectory) -> Registration:
        """The role's gRPC servicer, registered on the operator's server."""

    @abstractmethod
    def model_part(self, state: StateT) -> ModelPart:
        """The operator's part of the trained model, for its registry."""

    def session_to_set_up(self, peer: Peer, job_id: str) -> JobSession:
        """The peer's approved job, if it was proposed (and approved) for this model
        type: a job approved for another model is refused."""
        session = self.desk.session(peer, job_id)
        kind = self.ctx.store.get_job(job_id).kind
        if kind != self.model_type:
            raise FailedPrecondition(
                f"job {job_id} was approved for model {kind!r}, not {self.model_type!r}"
            )
        return session

    def job(self, peer: Peer, job_id: str) -> tuple[JobSession, StateT]:
        """The peer's approved job and this role's state in it, or a refusal."""
        session = self.desk.session(peer, job_id)
        state = session.state(self.state_key)
        if state is None:
            raise FailedPrecondition(f"job {job_id}: {self.title} not set up")
        return session, state

    def save_model_part(self, peer: Peer, job_id: str, state: StateT) -> ModelRecord:
        return self.models.save(
            job_id=job_id, counterpart=peer.party_id, part=self.model_part(state)
        )
