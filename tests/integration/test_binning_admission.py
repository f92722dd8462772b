"""BinSums authorises the request before it reads the labels: an unknown job or an
announced size other than the job's rows is refused from the header (nothing is
allocated from the announcement), and a malformed upload leaves the once-per-job step
free for a well-formed retry."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from bank_node.iv import operator_iv
from bank_node.job_runner import validation_mask
from bank_node.jobspec import SplitSection
from bank_node.psi import run_psi
from protocol.binning import serde
from protocol.binning.messages import LABELS_KIND, BinSumsParams
from protocol.binning.party import encrypt_labels
from protocol.binning.service import request_bin_sums
from protocol.crypto.paillier_keys import generate_keypair
from protocol.domain import Split, StreamHeader
from protocol.errors import PeerCallError
from protocol.jobs.messages import JobBinding, JobProposal, split_positions
from protocol.jobs.service import JobsClient
from protocol.proto.duet.v1 import binning_pb2_grpc
from protocol.psi.messages import PsiMode
from protocol.serde import chunk_header_to_proto
from protocol.streams import chunk_stream
from tests.joint import JointSetup, joint_setup
from tests.nodes import Pki

JOB = "b1a5b1a5b1a5b1a5"


@pytest.fixture(scope="module")
def bound(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[JointSetup, grpc.Channel, np.ndarray]]:
    """An approved job bound to an alignment; yields the train rows' labels."""
    root = Path(tmp_path_factory.mktemp("binning-admission"))
    with joint_setup(root, pki) as setup:
        ctx = setup.bank
        dataset = ctx.dataset("customers")
        with ctx.channel("operator") as channel:
            jobs = JobsClient(channel, 10)
            jobs.propose(
                JobProposal(JOB, "credit_risk", ("o_*",), "hetero_lr", 569, 128)
            )
            psi = run_psi(
                ctx, "operator", dataset, PsiMode.BOTH, channel=channel, job_id=JOB
            )
            assert psi.alignment is not None
            rows = psi.alignment.local_rows
            labels = dataset.label[rows].astype(np.int64)
            validation = validation_mask(labels, SplitSection(0.3, 42), rows)
            jobs.bind(JobBinding(JOB, psi.alignment.alignment_id, validation))
            train = split_positions(validation)[Split.TRAIN]
            yield setup, channel, labels[train]


@pytest.fixture(scope="module")
def keys() -> tuple[Any, Any]:
    return generate_keypair(2048)


def _stalled_upload(params: BinSumsParams, announced: int) -> Iterator[Any]:
    """The request and a header announcing `announced` bytes, then nothing."""
    yield from serde.upload_to_proto(
        params, [chunk_header_to_proto(StreamHeader(LABELS_KIND, announced, JOB))]
    )
    threading.Event().wait(20)


def _refusal(channel: grpc.Channel, upload: Iterator[Any]) -> tuple[str, str, float]:
    stub = binning_pb2_grpc.BinningStub(channel)
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        list(stub.BinSums(upload, timeout=30))
    error: Any = info.value
    return error.code().name, error.details(), time.monotonic() - started


def test_bin_sums_refused_from_the_header_if_job_is_unknown(bound, keys) -> None:
    # Prepare
    _, channel, _ = bound
    params = BinSumsParams("0000aaaa0000aaaa", keys[0], (0, 1), 5, "quantile")
    # Execute
    code, details, seconds = _refusal(channel, _stalled_upload(params, 1 << 30))
    # Assert
    assert (code, details) == ("NOT_FOUND", "no job 0000aaaa0000aaaa")
    assert seconds < 10  # refused before the (never coming) labels


def test_bin_sums_refused_from_the_header_if_size_is_not_the_jobs_rows(
    bound, keys
) -> None:
    # Prepare
    _, channel, labels = bound
    params = BinSumsParams(JOB, keys[0], (0, 1), 5, "quantile")
    expected = serde.labels_wire_bytes(keys[0], len(labels))
    # Execute
    code, details, seconds = _refusal(channel, _stalled_upload(params, 1 << 30))
    # Assert
    assert code == "INVALID_ARGUMENT"
    assert details == (
        f"BinSumsUpload.labels: the stream announces {1 << 30} bytes; the job's"
        f" {len(labels)} training rows need {expected}"
    )
    assert seconds < 10


def test_bin_sums_serves_a_retry_if_an_earlier_upload_was_malformed(
    bound, keys
) -> None:
    # Prepare: one ciphertext short, well-sized garbage, then the real labels.
    _, channel, labels = bound
    public, private = keys
    params = BinSumsParams(JOB, public, (0, 1), 5, "quantile")
    size = serde.labels_wire_bytes(public, len(labels))
    garbage = serde.upload_to_proto(
        params,
        chunk_stream(StreamHeader(LABELS_KIND, size, JOB), [b"\x07" * size], 1 << 16),
    )
    # Execute
    with pytest.raises(PeerCallError) as short:
        request_bin_sums(
            channel, params, encrypt_labels(private, labels[:-1]), 1 << 16, 60
        )
    code, details, _ = _refusal(channel, garbage)
    ivs, _ = operator_iv(
        channel, JOB, labels, [0, 1], bins=5, method="quantile",
        chunk_bytes=1 << 16, deadline_s=60,
    )  # fmt: skip
    with pytest.raises(PeerCallError) as again:
        request_bin_sums(channel, params, encrypt_labels(private, labels), 1 << 16, 60)
    # Assert
    assert short.value.code == "INVALID_ARGUMENT"
    assert short.value.details.startswith("BinSumsUpload.labels: the stream announces")
    assert code == "INVALID_ARGUMENT"
    assert details.startswith("BinSumsUpload.labels: not a Paillier ciphertext vector")
    assert [iv.index for iv in ivs] == [0, 1]
    assert again.value.code == "FAILED_PRECONDITION"
    assert again.value.details == f"job {JOB}: information value was already done"
