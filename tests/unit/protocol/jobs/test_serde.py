"""Jobs messages: round trips and rejection of each malformed field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from protocol.domain import JobStatus
from protocol.errors import InvalidArgument
from protocol.jobs import serde
from protocol.jobs.messages import (
    LOOKALIKE_TASK,
    PSI_JOB,
    FeatureQuery,
    JobBinding,
    JobDecision,
    JobOutcome,
    JobProposal,
    OperatorFeature,
)
from protocol.proto.duet.v1 import jobs_pb2
from protocol.psi.messages import PsiMode
from tests.unit.protocol.wire import through_wire

JOB = "a1b2c3d4e5f6a7b8"
ALIGNMENT = "0123456789abcdef" * 2


@pytest.mark.parametrize(
    ("value", "to_proto", "from_proto"),
    [
        (JobProposal(JOB, "credit_risk", ("usage_*", "age"), "hetero_lr", 569, 256,
                     "a model"),
         serde.job_proposal_to_proto, serde.job_proposal_from_proto),
        (JobProposal(JOB, "marketing", ("app_*",), "split_nn", 15000, 1024,
                     "lookalike", task=LOOKALIKE_TASK),
         serde.job_proposal_to_proto, serde.job_proposal_from_proto),
        (JobProposal(JOB, "marketing", (), PSI_JOB, 38844, 0, "sizing",
                     PsiMode.CARDINALITY),
         serde.job_proposal_to_proto, serde.job_proposal_from_proto),
        (JOB, serde.job_ref_to_proto, serde.job_ref_from_proto),
        (JobDecision(JOB, JobStatus.APPROVED, "", (
            OperatorFeature(0, "age", "numeric"),
            OperatorFeature(1, "f002", "categorical"),
         ), 512),
         serde.job_decision_to_proto, serde.job_decision_from_proto),
        (JobOutcome(JOB, True, "model trained"),
         serde.job_outcome_to_proto, serde.job_outcome_from_proto),
        (JobOutcome(JOB, False, "PeerCallError"),
         serde.job_outcome_to_proto, serde.job_outcome_from_proto),
        (FeatureQuery(("usage_*", "age")),
         serde.feature_query_to_proto, serde.feature_query_from_proto),
        (FeatureQuery(), serde.feature_query_to_proto, serde.feature_query_from_proto),
        ((OperatorFeature(0, "age", "numeric"),
          OperatorFeature(1, "plan", "categorical")),
         serde.feature_catalog_to_proto, serde.feature_catalog_from_proto),
    ],
    ids=["proposal", "lookalike_proposal", "psi_proposal", "ref", "decision",
         "outcome", "failed_outcome", "query", "query_all", "catalog"],
)  # fmt: skip
def test_jobs_message_round_trips_if_valid(
    value: Any, to_proto: Callable[[Any], Any], from_proto: Callable[[Any], Any]
) -> None:
    # Execute
    back = from_proto(through_wire(to_proto(value)))
    # Assert
    assert back == value


@pytest.mark.parametrize("status", list(JobStatus))
def test_job_decision_round_trips_every_status(status: JobStatus) -> None:
    # Prepare
    decision = JobDecision(JOB, status, "why")
    # Execute
    back = serde.job_decision_from_proto(
        through_wire(serde.job_decision_to_proto(decision))
    )
    # Assert
    assert back.status is status


def test_job_proposal_reads_an_empty_task_as_credit() -> None:
    # Execute: a bank built before tasks sends none
    proposal = serde.job_proposal_from_proto(_proposal())
    # Assert
    assert proposal.task == "credit"


@pytest.mark.parametrize("rows", [1, 8, 9, 1000])
def test_job_binding_round_trips_the_validation_mask(rows: int) -> None:
    # Prepare
    validation = np.random.default_rng(rows).random(rows) < 0.3
    binding = JobBinding(JOB, ALIGNMENT, validation)
    # Execute
    back = serde.job_binding_from_proto(
        through_wire(serde.job_binding_to_proto(binding))
    )
    # Assert
    assert (back.job_id, back.alignment_id, back.rows) == (JOB, ALIGNMENT, rows)
    assert back.validation.dtype == bool
    assert np.array_equal(back.validation, validation)


def _proposal(**fields: Any) -> jobs_pb2.JobProposal:
    base = {"job_id": JOB, "purpose": "p", "features": ["f"], "model": "hetero_lr"}
    return jobs_pb2.JobProposal(**{**base, **fields})


def _decision(**fields: Any) -> jobs_pb2.JobDecision:
    base = {"job_id": JOB, "status": jobs_pb2.JOB_STATUS_APPROVED}
    return jobs_pb2.JobDecision(**{**base, **fields})


def _binding(**fields: Any) -> jobs_pb2.JobBinding:
    base = {"job_id": JOB, "alignment_id": ALIGNMENT, "rows": 9,
            "validation_bitmap": b"\x00\x01"}  # fmt: skip
    return jobs_pb2.JobBinding(**{**base, **fields})


BAD_JOB_ID = "job id must be 8-64 lowercase letters, digits or '-'"


@pytest.mark.parametrize(
    ("from_proto", "msg", "message"),
    [
        (serde.job_proposal_from_proto, _proposal(job_id="x"),
         f"JobProposal.job_id: {BAD_JOB_ID}"),
        (serde.job_proposal_from_proto, _proposal(purpose=""),
         "JobProposal.purpose: missing"),
        (serde.job_proposal_from_proto, _proposal(features=[]),
         "JobProposal.features: at least one feature is required"),
        (serde.job_proposal_from_proto, _proposal(model=""),
         "JobProposal.model: missing"),
        (serde.job_proposal_from_proto, _proposal(psi_mode="both"),
         "JobProposal.psi_mode: only for model 'psi' (a model job aligns in mode"
         " both)"),
        (serde.job_proposal_from_proto,
         _proposal(model="psi", features=[], psi_mode="all"),
         "JobProposal.psi_mode: must be one of intersection, both, cardinality for a"
         " PSI job"),
        (serde.job_proposal_from_proto, _proposal(model="psi", psi_mode="both"),
         "JobProposal.features: a PSI job requests no features"),
        (serde.job_proposal_from_proto, _proposal(task="audience"),
         "JobProposal.task: must be one of credit, lookalike, got 'audience'"),
        (serde.job_proposal_from_proto,
         _proposal(model="psi", features=[], psi_mode="both", task="lookalike"),
         "JobProposal.task: a PSI job has no task"),
        (serde.job_ref_from_proto, jobs_pb2.JobRef(job_id="../etc"),
         f"JobRef.job_id: {BAD_JOB_ID}"),
        (serde.job_decision_from_proto, _decision(job_id=""),
         f"JobDecision.job_id: {BAD_JOB_ID}"),
        (serde.job_decision_from_proto,
         _decision(status=jobs_pb2.JOB_STATUS_UNSPECIFIED),
         "JobDecision.status: missing or unknown status"),
        (serde.job_decision_from_proto, _decision(status=42),
         "JobDecision.status: missing or unknown status"),
        (serde.job_decision_from_proto,
         _decision(features=[jobs_pb2.OperatorFeature(index=1, kind="numeric")]),
         "JobDecision.features[0].index: must be 0"),
        (serde.job_decision_from_proto,
         _decision(features=[jobs_pb2.OperatorFeature(index=0, kind="text")]),
         "JobDecision.features[0].kind: unknown kind"),
        (serde.job_binding_from_proto, _binding(job_id="UPPER-CASE"),
         f"JobBinding.job_id: {BAD_JOB_ID}"),
        (serde.job_binding_from_proto, _binding(alignment_id=""),
         "JobBinding.alignment_id: not an alignment id (32 lowercase hex"
         " characters)"),
        (serde.job_binding_from_proto, _binding(rows=0, validation_bitmap=b""),
         "JobBinding.rows: must be > 0"),
        (serde.job_binding_from_proto, _binding(validation_bitmap=b"\x00"),
         "JobBinding.validation_bitmap: expected 2 bytes for 9 rows, got 1"),
        (serde.job_outcome_from_proto, jobs_pb2.JobOutcome(job_id="a b"),
         f"JobOutcome.job_id: {BAD_JOB_ID}"),
        (serde.feature_query_from_proto, jobs_pb2.FeatureQuery(patterns=["a"] * 257),
         "FeatureQuery.patterns: at most 256 patterns"),
        (serde.feature_query_from_proto, jobs_pb2.FeatureQuery(patterns=["a", ""]),
         "FeatureQuery.patterns[1]: must be 1 to 256 characters"),
        (serde.feature_query_from_proto,
         jobs_pb2.FeatureQuery(patterns=["x" * 257]),
         "FeatureQuery.patterns[0]: must be 1 to 256 characters"),
        (serde.feature_catalog_from_proto,
         jobs_pb2.FeatureCatalog(
             features=[jobs_pb2.OperatorFeature(index=0, kind="text")]),
         "FeatureCatalog.features[0].kind: unknown kind"),
    ],
)  # fmt: skip
def test_jobs_message_from_proto_raises_if_field_malformed(
    from_proto: Callable[[Any], Any], msg: Any, message: str
) -> None:
    # Execute
    with pytest.raises(InvalidArgument) as info:
        from_proto(msg)
    # Assert
    assert str(info.value) == message
