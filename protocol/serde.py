"""Proto <-> domain conversion: the only module that builds or reads `_pb2` messages.

Symmetric `x_to_proto` / `x_from_proto` pairs (a round-trip test covers each). The
`_from_proto` side validates what the peer sent and raises InvalidArgument naming the
field, so servicers never act on a malformed message.
"""

from __future__ import annotations

import re

from protocol.domain import (
    Hello,
    JobBinding,
    JobDecision,
    JobOutcome,
    JobProposal,
    OperatorFeature,
    StreamHeader,
    TransferSummary,
)
from protocol.errors import InvalidArgument
from protocol.ids import is_job_id, is_party_id
from protocol.proto.duet.v1 import common_pb2, diagnostics_pb2, jobs_pb2, session_pb2

_CAPABILITY_RE = re.compile(r"^[a-z0-9-]+/[a-z0-9.-]+/[0-9]+$")
_KIND_RE = re.compile(r"^[a-z0-9_.-]{1,64}$")


def check_party_id(value: str, field: str) -> str:
    if not is_party_id(value):
        raise InvalidArgument(
            f"{field}: party id must be 1-63 lowercase letters, digits, '.' or '-'"
            f" (got {len(value)} characters)"
        )
    return value


def _hello_fields(msg: session_pb2.HelloRequest | session_pb2.HelloReply, name: str):
    party_id = check_party_id(msg.party_id, f"{name}.party_id")
    if msg.protocol_version == 0:
        raise InvalidArgument(f"{name}.protocol_version: missing (must be >= 1)")
    for i, cap in enumerate(msg.capabilities):
        if not _CAPABILITY_RE.match(cap):
            raise InvalidArgument(
                f"{name}.capabilities[{i}]: not of the form protocol/suite/version"
            )
    return party_id, int(msg.protocol_version), tuple(msg.capabilities)


def hello_request_to_proto(hello: Hello) -> session_pb2.HelloRequest:
    return session_pb2.HelloRequest(
        party_id=hello.party_id,
        protocol_version=hello.protocol_version,
        capabilities=list(hello.capabilities),
        software_version=hello.software_version,
    )


def hello_request_from_proto(msg: session_pb2.HelloRequest) -> Hello:
    party_id, version, caps = _hello_fields(msg, "HelloRequest")
    return Hello(party_id, version, caps, msg.software_version)


def hello_reply_to_proto(hello: Hello) -> session_pb2.HelloReply:
    return session_pb2.HelloReply(
        party_id=hello.party_id,
        protocol_version=hello.protocol_version,
        capabilities=list(hello.capabilities),
        software_version=hello.software_version,
        shared_capabilities=list(hello.shared_capabilities),
    )


def hello_reply_from_proto(msg: session_pb2.HelloReply) -> Hello:
    party_id, version, caps = _hello_fields(msg, "HelloReply")
    return Hello(
        party_id, version, caps, msg.software_version, tuple(msg.shared_capabilities)
    )


def stream_header_to_proto(header: StreamHeader) -> common_pb2.StreamHeader:
    return common_pb2.StreamHeader(
        kind=header.kind,
        session_id=header.session_id,
        total_bytes=header.total_bytes,
        item_bytes=header.item_bytes,
        params=dict(header.params),
    )


def stream_header_from_proto(msg: common_pb2.StreamHeader) -> StreamHeader:
    if not _KIND_RE.match(msg.kind):
        raise InvalidArgument("StreamHeader.kind: missing or not a payload kind name")
    if msg.item_bytes and msg.total_bytes % msg.item_bytes:
        raise InvalidArgument(
            f"StreamHeader: total_bytes {msg.total_bytes} is not a multiple of"
            f" item_bytes {msg.item_bytes}"
        )
    return StreamHeader(
        kind=msg.kind,
        total_bytes=int(msg.total_bytes),
        session_id=msg.session_id,
        item_bytes=int(msg.item_bytes),
        params=dict(msg.params),
    )


def chunk_header_to_proto(header: StreamHeader) -> common_pb2.Chunk:
    return common_pb2.Chunk(header=stream_header_to_proto(header))


def chunk_data_to_proto(data: bytes | memoryview) -> common_pb2.Chunk:
    return common_pb2.Chunk(data=bytes(data))


def transfer_summary_to_proto(summary: TransferSummary) -> common_pb2.TransferSummary:
    return common_pb2.TransferSummary(
        total_bytes=summary.total_bytes, chunks=summary.chunks, sha256=summary.sha256
    )


def transfer_summary_from_proto(msg: common_pb2.TransferSummary) -> TransferSummary:
    return TransferSummary(int(msg.total_bytes), int(msg.chunks), bytes(msg.sha256))


def download_request_to_proto(
    total_bytes: int, chunk_bytes: int
) -> diagnostics_pb2.DownloadRequest:
    return diagnostics_pb2.DownloadRequest(
        total_bytes=total_bytes, chunk_bytes=chunk_bytes
    )


def download_request_from_proto(
    msg: diagnostics_pb2.DownloadRequest,
) -> tuple[int, int]:
    if msg.total_bytes == 0:
        raise InvalidArgument("DownloadRequest.total_bytes: must be > 0")
    return int(msg.total_bytes), int(msg.chunk_bytes)


# ---- jobs ------------------------------------------------------------------------
JOB_STATUSES = (
    "approved", "pending_approval", "refused", "running", "succeeded", "failed",
)  # fmt: skip
FEATURE_KINDS = ("numeric", "categorical")


def check_job_id(value: str, field: str) -> str:
    if not is_job_id(value):
        raise InvalidArgument(
            f"{field}: job id must be 8-64 lowercase letters, digits or '-'"
        )
    return value


def job_proposal_to_proto(p: JobProposal) -> jobs_pb2.JobProposal:
    return jobs_pb2.JobProposal(
        job_id=p.job_id,
        purpose=p.purpose,
        features=list(p.features),
        model=p.model,
        max_rows=p.max_rows,
        batch_size=p.batch_size,
        description=p.description,
    )


def job_proposal_from_proto(msg: jobs_pb2.JobProposal) -> JobProposal:
    check_job_id(msg.job_id, "JobProposal.job_id")
    if not msg.purpose:
        raise InvalidArgument("JobProposal.purpose: missing")
    if not msg.features:
        raise InvalidArgument("JobProposal.features: at least one feature is required")
    if not msg.model:
        raise InvalidArgument("JobProposal.model: missing")
    return JobProposal(
        job_id=msg.job_id,
        purpose=msg.purpose,
        features=tuple(msg.features),
        model=msg.model,
        max_rows=int(msg.max_rows),
        batch_size=int(msg.batch_size),
        description=msg.description,
    )


def job_ref_to_proto(job_id: str) -> jobs_pb2.JobRef:
    return jobs_pb2.JobRef(job_id=job_id)


def job_ref_from_proto(msg: jobs_pb2.JobRef) -> str:
    return check_job_id(msg.job_id, "JobRef.job_id")


def job_decision_to_proto(d: JobDecision) -> jobs_pb2.JobDecision:
    return jobs_pb2.JobDecision(
        job_id=d.job_id,
        status=d.status,
        message=d.message,
        features=[
            jobs_pb2.OperatorFeature(
                index=f.index, display_name=f.display_name, kind=f.kind
            )
            for f in d.features
        ],
        min_batch_size=d.min_batch_size,
    )


def job_decision_from_proto(msg: jobs_pb2.JobDecision) -> JobDecision:
    check_job_id(msg.job_id, "JobDecision.job_id")
    if msg.status not in JOB_STATUSES:
        raise InvalidArgument(f"JobDecision.status: unknown status {msg.status!r}")
    features = []
    for i, f in enumerate(msg.features):
        if f.index != i:
            raise InvalidArgument(f"JobDecision.features[{i}].index: must be {i}")
        if f.kind not in FEATURE_KINDS:
            raise InvalidArgument(f"JobDecision.features[{i}].kind: unknown kind")
        features.append(OperatorFeature(int(f.index), f.display_name, f.kind))
    return JobDecision(
        job_id=msg.job_id,
        status=msg.status,
        message=msg.message,
        features=tuple(features),
        min_batch_size=int(msg.min_batch_size),
    )


def job_binding_to_proto(b: JobBinding) -> jobs_pb2.JobBinding:
    return jobs_pb2.JobBinding(
        job_id=b.job_id,
        alignment_id=b.alignment_id,
        rows=b.rows,
        validation_bitmap=b.validation_bitmap,
    )


def job_binding_from_proto(msg: jobs_pb2.JobBinding) -> JobBinding:
    check_job_id(msg.job_id, "JobBinding.job_id")
    if not msg.alignment_id:
        raise InvalidArgument("JobBinding.alignment_id: missing")
    if msg.rows == 0:
        raise InvalidArgument("JobBinding.rows: must be > 0")
    if len(msg.validation_bitmap) != (msg.rows + 7) // 8:
        raise InvalidArgument(
            f"JobBinding.validation_bitmap: expected {(msg.rows + 7) // 8} bytes for"
            f" {msg.rows} rows, got {len(msg.validation_bitmap)}"
        )
    return JobBinding(
        msg.job_id, msg.alignment_id, int(msg.rows), bytes(msg.validation_bitmap)
    )


def job_outcome_to_proto(o: JobOutcome) -> jobs_pb2.JobOutcome:
    return jobs_pb2.JobOutcome(
        job_id=o.job_id, succeeded=o.succeeded, message=o.message
    )


def job_outcome_from_proto(msg: jobs_pb2.JobOutcome) -> JobOutcome:
    check_job_id(msg.job_id, "JobOutcome.job_id")
    return JobOutcome(msg.job_id, bool(msg.succeeded), msg.message)
