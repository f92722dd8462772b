"""Field bounds of received messages: refused naming the field and the limit, without
echoing the value; messages within bounds pass."""

from __future__ import annotations

import pytest
from google.protobuf.message import Message

from protocol.errors import InvalidArgument
from protocol.message_limits import check_message
from protocol.proto.duet.v1 import (
    binning_pb2,
    common_pb2,
    evaluation_pb2,
    jobs_pb2,
    secureboost_pb2,
    session_pb2,
)


def _proposal(**fields: object) -> jobs_pb2.JobProposal:
    base: dict[str, object] = {
        "job_id": "a1b2c3d4e5f6a7b8",
        "purpose": "credit_risk",
        "features": ["o_*"],
        "model": "hetero_lr",
        "max_rows": 1000,
        "batch_size": 512,
        "description": "a model",
    }
    return jobs_pb2.JobProposal(**{**base, **fields})


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (_proposal(purpose="p" * 70_000),
         "JobProposal.purpose: 70000 characters, over the limit of 64 characters"),
        (_proposal(description="d" * (20 << 20)),
         "JobProposal.description: 20971520 characters, over the limit of 4096"
         " characters"),
        (_proposal(features=["*"] * 60_000),
         "JobProposal.features: 60000 items, over the limit of 256 items"),
        (_proposal(features=["o_" + "x" * 200]),
         "JobProposal.features: 202 characters, over the limit of 128 characters"),
        (session_pb2.HelloRequest(party_id="b" * 300),
         "HelloRequest.party_id: 300 characters, over the limit of 256 characters"),
        (binning_pb2.BinSumsUpload(
            labels=common_pb2.Chunk(header=common_pb2.StreamHeader(kind="k" * 65))),
         "StreamHeader.kind: 65 characters, over the limit of 64 characters"),
        (binning_pb2.BinSumsUpload(
            request=binning_pb2.BinSumsRequest(public_key=b"\0" * 4096)),
         "BinSumsRequest.public_key: 4096 bytes, over the limit of 2048 bytes"),
        (evaluation_pb2.EvaluateUpload(
            request=evaluation_pb2.EvaluateRequest(public_key=b"\0" * 4096)),
         "EvaluateRequest.public_key: 4096 bytes, over the limit of 2048 bytes"),
    ],
)  # fmt: skip
def test_check_message_refuses_naming_field_and_limit_if_a_field_is_oversized(
    message: Message, error: str
) -> None:
    # Execute
    with pytest.raises(InvalidArgument) as info:
        check_message(message)
    # Assert
    assert str(info.value) == error


def test_check_message_accepts_if_every_field_is_within_bounds() -> None:
    # Prepare: payload bytes are bounded by the message size, not here.
    messages = [
        _proposal(description="d" * 4096, features=["f" * 128] * 256),
        common_pb2.Chunk(data=b"\0" * (8 << 20)),
    ]
    # Execute / Assert: no exception
    for message in messages:
        check_message(message)


def test_check_message_bounds_secureboost_fields_at_the_protocol_limits() -> None:
    # Prepare: the largest requests a depth-16 model of 640,000 trees makes, and one
    # item or byte more.
    def done(splits: int) -> secureboost_pb2.SbtTreeDone:
        nodes = [secureboost_pb2.SbtInternalNode(node=i) for i in range(splits)]
        return secureboost_pb2.SbtTreeDone(job_id="a1b2c3d4e5f6a7b8", splits=nodes)

    def leaf_sets(trees: int) -> secureboost_pb2.SbtLeafSetsRequest:
        return secureboost_pb2.SbtLeafSetsRequest(trees=range(trees))

    def histograms(total: int) -> secureboost_pb2.SbtHistogramRequest:
        node = secureboost_pb2.SbtNodeRequest(total=b"\0" * total)
        return secureboost_pb2.SbtHistogramRequest(nodes=[node] * (1 << 15))

    # Execute
    for message in (done(65535), leaf_sets(640_000), histograms(2048)):
        check_message(message)
    errors = []
    for message in (done(65536), leaf_sets(640_001), histograms(2049)):
        with pytest.raises(InvalidArgument) as info:
            check_message(message)
        errors.append(str(info.value))
    # Assert
    assert errors == [
        "SbtTreeDone.splits: 65536 items, over the limit of 65535 items",
        "SbtLeafSetsRequest.trees: 640001 items, over the limit of 640000 items",
        "SbtNodeRequest.total: 2049 bytes, over the limit of 2048 bytes",
    ]
