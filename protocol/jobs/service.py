"""The Jobs service: servicer adapter (operator side) and client (bank side)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import grpc

from protocol.auth import PeerDirectory
from protocol.domain import Peer, ProtocolDeclaration
from protocol.jobs import serde
from protocol.jobs.messages import (
    FeatureQuery,
    JobBinding,
    JobDecision,
    JobOutcome,
    JobProposal,
    OperatorFeature,
)
from protocol.proto.duet.v1 import jobs_pb2_grpc
from protocol.rpc import call_peer, serve_converted

# Propose is idempotent for the same job id and proposal; GetStatus and ListFeatures
# only read.
PROTOCOL = ProtocolDeclaration(
    capability="jobs/policy/1",
    service="duet.v1.Jobs",
    idempotent=("Propose", "GetStatus", "ListFeatures"),
)


class JobsHandler(Protocol):
    """The operator's side of the Jobs service, on domain types."""

    def propose(self, peer: Peer, proposal: JobProposal) -> JobDecision: ...
    def status(self, peer: Peer, job_id: str) -> JobDecision: ...
    def bind(self, peer: Peer, binding: JobBinding) -> JobDecision: ...
    def finish(self, peer: Peer, outcome: JobOutcome) -> JobDecision: ...
    def features(
        self, peer: Peer, query: FeatureQuery
    ) -> tuple[OperatorFeature, ...]: ...


class _JobsServicer(jobs_pb2_grpc.JobsServicer):
    def __init__(self, directory: PeerDirectory, handler: JobsHandler) -> None:
        self._directory = directory
        self._handler = handler

    def Propose(self, request, context):
        return serve_converted(
            context, self._directory, "Jobs/Propose", request,
            serde.job_proposal_from_proto, self._handler.propose,
            serde.job_decision_to_proto,
        )  # fmt: skip

    def GetStatus(self, request, context):
        return serve_converted(
            context, self._directory, "Jobs/GetStatus", request,
            serde.job_ref_from_proto, self._handler.status,
            serde.job_decision_to_proto,
        )  # fmt: skip

    def Bind(self, request, context):
        return serve_converted(
            context, self._directory, "Jobs/Bind", request,
            serde.job_binding_from_proto, self._handler.bind,
            serde.job_decision_to_proto,
        )  # fmt: skip

    def Finish(self, request, context):
        return serve_converted(
            context, self._directory, "Jobs/Finish", request,
            serde.job_outcome_from_proto, self._handler.finish,
            serde.job_decision_to_proto,
        )  # fmt: skip

    def ListFeatures(self, request, context):
        return serve_converted(
            context, self._directory, "Jobs/ListFeatures", request,
            serde.feature_query_from_proto, self._handler.features,
            serde.feature_catalog_to_proto,
        )  # fmt: skip


def jobs_service(
    directory: PeerDirectory, handler: JobsHandler
) -> Callable[[grpc.Server], None]:
    servicer = _JobsServicer(directory, handler)
    return lambda server: jobs_pb2_grpc.add_JobsServicer_to_server(servicer, server)


class JobsClient:
    """The bank's side: typed calls with a deadline on each."""

    def __init__(self, channel: grpc.Channel, deadline_s: float) -> None:
        self._stub = jobs_pb2_grpc.JobsStub(channel)
        self._deadline = deadline_s

    def propose(self, proposal: JobProposal) -> JobDecision:
        msg = serde.job_proposal_to_proto(proposal)
        reply = call_peer(
            "Jobs/Propose", lambda: self._stub.Propose(msg, timeout=self._deadline)
        )
        return serde.job_decision_from_proto(reply)

    def status(self, job_id: str) -> JobDecision:
        msg = serde.job_ref_to_proto(job_id)
        reply = call_peer(
            "Jobs/GetStatus", lambda: self._stub.GetStatus(msg, timeout=self._deadline)
        )
        return serde.job_decision_from_proto(reply)

    def bind(self, binding: JobBinding) -> JobDecision:
        msg = serde.job_binding_to_proto(binding)
        reply = call_peer(
            "Jobs/Bind", lambda: self._stub.Bind(msg, timeout=self._deadline)
        )
        return serde.job_decision_from_proto(reply)

    def finish(self, outcome: JobOutcome) -> JobDecision:
        msg = serde.job_outcome_to_proto(outcome)
        reply = call_peer(
            "Jobs/Finish", lambda: self._stub.Finish(msg, timeout=self._deadline)
        )
        return serde.job_decision_from_proto(reply)

    def features(self, query: FeatureQuery) -> tuple[OperatorFeature, ...]:
        msg = serde.feature_query_to_proto(query)
        reply = call_peer(
            "Jobs/ListFeatures",
            lambda: self._stub.ListFeatures(msg, timeout=self._deadline),
        )
        return serde.feature_catalog_from_proto(reply)
