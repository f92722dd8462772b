"""Jobs messages: proto <-> domain (the only module touching jobs_pb2)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from protocol.domain import JobStatus
from protocol.errors import InvalidArgument
from protocol.jobs.messages import (
    CREDIT_TASK,
    FEATURE_KINDS,
    PSI_JOB,
    TASKS,
    FeatureQuery,
    JobBinding,
    JobDecision,
    JobOutcome,
    JobProposal,
    OperatorFeature,
)
from protocol.proto.duet.v1 import jobs_pb2
from protocol.psi.messages import PsiMode
from protocol.serde import check_hex_id, check_job_id

_STATUS_TO_PROTO = {
    JobStatus.CREATED: jobs_pb2.JOB_STATUS_CREATED,
    JobStatus.PENDING_APPROVAL: jobs_pb2.JOB_STATUS_PENDING_APPROVAL,
    JobStatus.APPROVED: jobs_pb2.JOB_STATUS_APPROVED,
    JobStatus.REFUSED: jobs_pb2.JOB_STATUS_REFUSED,
    JobStatus.RUNNING: jobs_pb2.JOB_STATUS_RUNNING,
    JobStatus.SUCCEEDED: jobs_pb2.JOB_STATUS_SUCCEEDED,
    JobStatus.FAILED: jobs_pb2.JOB_STATUS_FAILED,
    JobStatus.CANCELLED: jobs_pb2.JOB_STATUS_CANCELLED,
}
_STATUS_FROM_PROTO = {int(v): k for k, v in _STATUS_TO_PROTO.items()}


def job_proposal_to_proto(p: JobProposal) -> jobs_pb2.JobProposal:
    return jobs_pb2.JobProposal(
        job_id=p.job_id,
        purpose=p.purpose,
        features=list(p.features),
        model=p.model,
        max_rows=p.max_rows,
        batch_size=p.batch_size,
        description=p.description,
        psi_mode=p.psi_mode.value if p.psi_mode is not None else "",
        task="" if p.is_psi else p.task,
    )


def _psi_mode(msg: jobs_pb2.JobProposal) -> PsiMode | None:
    if msg.model != PSI_JOB:
        if msg.psi_mode:
            raise InvalidArgument(
                f"JobProposal.psi_mode: only for model {PSI_JOB!r} (a model job aligns"
                " in mode both)"
            )
        return None
    modes = {m.value: m for m in PsiMode}
    if msg.psi_mode not in modes:
        raise InvalidArgument(
            f"JobProposal.psi_mode: must be one of {', '.join(modes)} for a PSI job"
        )
    if msg.features:
        raise InvalidArgument("JobProposal.features: a PSI job requests no features")
    return modes[msg.psi_mode]


def _task(msg: jobs_pb2.JobProposal) -> str:
    """The task of a model job ("" = credit, as banks built before it send)."""
    if msg.model == PSI_JOB:
        if msg.task:
            raise InvalidArgument("JobProposal.task: a PSI job has no task")
        return CREDIT_TASK
    task = msg.task or CREDIT_TASK
    if task not in TASKS:
        raise InvalidArgument(
            f"JobProposal.task: must be one of {', '.join(TASKS)}, got {task!r}"
        )
    return task


def job_proposal_from_proto(msg: jobs_pb2.JobProposal) -> JobProposal:
    check_job_id(msg.job_id, "JobProposal.job_id")
    if not msg.purpose:
        raise InvalidArgument("JobProposal.purpose: missing")
    if not msg.model:
        raise InvalidArgument("JobProposal.model: missing")
    psi_mode = _psi_mode(msg)
    if not msg.features and psi_mode is None:
        raise InvalidArgument("JobProposal.features: at least one feature is required")
    task = _task(msg)
    return JobProposal(
        job_id=msg.job_id,
        purpose=msg.purpose,
        features=tuple(msg.features),
        model=msg.model,
        max_rows=int(msg.max_rows),
        batch_size=int(msg.batch_size),
        description=msg.description,
        psi_mode=psi_mode,
        task=task,
    )


def job_ref_to_proto(job_id: str) -> jobs_pb2.JobRef:
    return jobs_pb2.JobRef(job_id=job_id)


def job_ref_from_proto(msg: jobs_pb2.JobRef) -> str:
    return check_job_id(msg.job_id, "JobRef.job_id")


def _features_to_proto(
    features: tuple[OperatorFeature, ...],
) -> list[jobs_pb2.OperatorFeature]:
    return [
        jobs_pb2.OperatorFeature(
            index=f.index, display_name=f.display_name, kind=f.kind
        )
        for f in features
    ]


def _features_from_proto(
    items: Iterable[jobs_pb2.OperatorFeature], field: str
) -> tuple[OperatorFeature, ...]:
    features = []
    for i, f in enumerate(items):
        if f.index != i:
            raise InvalidArgument(f"{field}[{i}].index: must be {i}")
        kind = next((k for k in FEATURE_KINDS if k == f.kind), None)
        if kind is None:
            raise InvalidArgument(f"{field}[{i}].kind: unknown kind")
        features.append(OperatorFeature(int(f.index), f.display_name, kind))
    return tuple(features)


def job_decision_to_proto(d: JobDecision) -> jobs_pb2.JobDecision:
    return jobs_pb2.JobDecision(
        job_id=d.job_id,
        status=_STATUS_TO_PROTO[d.status],
        message=d.message,
        features=_features_to_proto(d.features),
        min_batch_size=d.min_batch_size,
    )


def job_decision_from_proto(msg: jobs_pb2.JobDecision) -> JobDecision:
    check_job_id(msg.job_id, "JobDecision.job_id")
    status = _STATUS_FROM_PROTO.get(msg.status)
    if status is None:
        raise InvalidArgument("JobDecision.status: missing or unknown status")
    return JobDecision(
        job_id=msg.job_id,
        status=status,
        message=msg.message,
        features=_features_from_proto(msg.features, "JobDecision.features"),
        min_batch_size=int(msg.min_batch_size),
    )


# A catalog query names features the way a proposal does; these bounds keep a query
# from being a way to make the operator match a huge pattern list.
MAX_QUERY_PATTERNS = 256
MAX_PATTERN_CHARS = 256


def feature_query_to_proto(q: FeatureQuery) -> jobs_pb2.FeatureQuery:
    return jobs_pb2.FeatureQuery(patterns=list(q.patterns))


def feature_query_from_proto(msg: jobs_pb2.FeatureQuery) -> FeatureQuery:
    if len(msg.patterns) > MAX_QUERY_PATTERNS:
        raise InvalidArgument(
            f"FeatureQuery.patterns: at most {MAX_QUERY_PATTERNS} patterns"
        )
    for i, pattern in enumerate(msg.patterns):
        if not pattern or len(pattern) > MAX_PATTERN_CHARS:
            raise InvalidArgument(
                f"FeatureQuery.patterns[{i}]: must be 1 to {MAX_PATTERN_CHARS}"
                " characters"
            )
    return FeatureQuery(tuple(msg.patterns))


def feature_catalog_to_proto(
    features: tuple[OperatorFeature, ...],
) -> jobs_pb2.FeatureCatalog:
    return jobs_pb2.FeatureCatalog(features=_features_to_proto(features))


def feature_catalog_from_proto(
    msg: jobs_pb2.FeatureCatalog,
) -> tuple[OperatorFeature, ...]:
    return _features_from_proto(msg.features, "FeatureCatalog.features")


def job_binding_to_proto(b: JobBinding) -> jobs_pb2.JobBinding:
    bitmap = np.packbits(np.asarray(b.validation, dtype=bool), bitorder="little")
    return jobs_pb2.JobBinding(
        job_id=b.job_id,
        alignment_id=b.alignment_id,
        rows=b.rows,
        validation_bitmap=bitmap.tobytes(),
    )


def job_binding_from_proto(msg: jobs_pb2.JobBinding) -> JobBinding:
    check_job_id(msg.job_id, "JobBinding.job_id")
    check_hex_id(msg.alignment_id, "JobBinding.alignment_id", "an alignment id")
    if msg.rows == 0:
        raise InvalidArgument("JobBinding.rows: must be > 0")
    if len(msg.validation_bitmap) != (msg.rows + 7) // 8:
        raise InvalidArgument(
            f"JobBinding.validation_bitmap: expected {(msg.rows + 7) // 8} bytes for"
            f" {msg.rows} rows, got {len(msg.validation_bitmap)}"
        )
    bits = np.frombuffer(msg.validation_bitmap, dtype=np.uint8)
    validation = np.unpackbits(bits, bitorder="little")[: msg.rows].astype(bool)
    return JobBinding(msg.job_id, msg.alignment_id, validation)


def job_outcome_to_proto(o: JobOutcome) -> jobs_pb2.JobOutcome:
    return jobs_pb2.JobOutcome(
        job_id=o.job_id, succeeded=o.succeeded, message=o.message
    )


def job_outcome_from_proto(msg: jobs_pb2.JobOutcome) -> JobOutcome:
    check_job_id(msg.job_id, "JobOutcome.job_id")
    return JobOutcome(msg.job_id, bool(msg.succeeded), msg.message)
