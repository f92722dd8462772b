"""The SplitNn service's messages: validated on arrival, carrying exactly what
protocol/split_nn/__init__.py says each party learns, and light to import."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from protocol.errors import InvalidArgument
from protocol.proto.duet.v1 import split_nn_pb2 as pb
from protocol.split_nn import messages as m
from protocol.split_nn import serde

JOB = "0123456789abcdef0123456789abcdef"
KEY = b"-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"


def _fields(message: Any) -> set[str]:
    return set(message.DESCRIPTOR.fields_by_name)


def test_prepare_reply_tells_the_bank_only_width_key_and_rows_if_defined() -> None:
    # Execute
    fields = _fields(pb.NnPrepareReply)
    # Assert: "the number of columns ..., its node's public key ... and the rows"
    assert fields == {
        "operator_columns", "node_public_key", "train_rows", "validation_rows"
    }  # fmt: skip


def test_requests_tell_the_operator_only_features_rounds_and_superlink_if_defined() -> (
    None
):
    # Execute
    prepare, start = _fields(pb.NnPrepareRequest), _fields(pb.NnStartRequest)
    complete = _fields(pb.NnCompleteRequest)
    # Assert
    assert prepare == {"job_id", "operator_features", "rounds"}
    assert start == {"job_id", "superlink_host", "superlink_port"}
    assert complete == {"job_id"}
    assert _fields(pb.NnCompleteReply) == {"model_name", "model_version"}


def test_messages_round_trip_if_valid() -> None:
    # Prepare
    prepare = m.NnPrepare(JOB, (0, 3, 2), 10)
    reply = m.NnPrepareReply(12, KEY, 400, 171)
    start = m.NnStart(JOB, "127.0.0.1", 9093)
    # Execute / Assert
    assert serde.prepare_from_proto(serde.prepare_to_proto(prepare)) == prepare
    assert serde.prepare_reply_from_proto(serde.prepare_reply_to_proto(reply)) == reply
    assert serde.start_from_proto(serde.start_to_proto(start)) == start


@pytest.mark.parametrize(
    ("message", "named"),
    [
        (pb.NnPrepareRequest(job_id="x", operator_features=[0], rounds=1), "job_id"),
        (pb.NnPrepareRequest(job_id=JOB, rounds=1), "operator_features: none"),
        (
            pb.NnPrepareRequest(job_id=JOB, operator_features=[1, 1], rounds=1),
            "operator_features: indexes repeat",
        ),
        (pb.NnPrepareRequest(job_id=JOB, operator_features=[1]), "rounds"),
        (
            pb.NnPrepareRequest(job_id=JOB, operator_features=[1], rounds=1001),
            "rounds",
        ),
    ],
)
def test_prepare_refuses_naming_the_field_if_malformed(
    message: pb.NnPrepareRequest, named: str
) -> None:
    # Execute / Assert
    with pytest.raises(InvalidArgument, match=named):
        serde.prepare_from_proto(message)


def test_start_refuses_if_port_or_host_is_missing() -> None:
    # Execute / Assert
    with pytest.raises(InvalidArgument, match="superlink_port"):
        serde.start_from_proto(pb.NnStartRequest(job_id=JOB, superlink_host="h"))
    with pytest.raises(InvalidArgument, match="superlink_host"):
        serde.start_from_proto(pb.NnStartRequest(job_id=JOB, superlink_port=1))


def test_prepare_reply_refuses_if_key_is_not_pem_or_width_is_zero() -> None:
    # Execute / Assert
    with pytest.raises(InvalidArgument, match="node_public_key"):
        serde.prepare_reply_from_proto(
            pb.NnPrepareReply(operator_columns=3, node_public_key=b"ssh-rsa AAAA")
        )
    with pytest.raises(InvalidArgument, match="operator_columns"):
        serde.prepare_reply_from_proto(pb.NnPrepareReply(node_public_key=KEY))


def test_protocol_list_imports_neither_torch_nor_flower_if_loaded() -> None:
    # Execute: every node imports protocol.version (and so this service)
    code = (
        "import sys, protocol.version;"
        "print(sorted(m for m in ('torch', 'flwr') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    # Assert
    assert out.strip() == "[]"


def test_service_has_no_call_beyond_set_up_and_end_if_defined() -> None:
    # Execute: scoring adds no message (the scores come from the final embeddings)
    methods = set(pb.DESCRIPTOR.services_by_name["SplitNn"].methods_by_name)
    # Assert
    assert methods == {"Prepare", "Start", "Complete"}
