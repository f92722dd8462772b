"""SplitNn messages: proto <-> domain (the only place that touches split_nn_pb2).

Light on purpose (no torch, no Flower): every node imports it through
protocol/version.py. Flower records are parsed in records.py.
"""

from __future__ import annotations

from protocol.errors import InvalidArgument
from protocol.proto.duet.v1 import split_nn_pb2 as pb
from protocol.serde import check_job_id
from protocol.split_nn.messages import (
    NnComplete,
    NnCompleteReply,
    NnPrepare,
    NnPrepareReply,
    NnStart,
)

# The bottom model's input width (models.split_nn.MAX_FEATURES, without torch).
MAX_FEATURES = 4096


MAX_OPERATOR_FEATURES = 1024
MAX_ROUNDS = 1000
MAX_PUBLIC_KEY_BYTES = 1024


def prepare_to_proto(p: NnPrepare) -> pb.NnPrepareRequest:
    return pb.NnPrepareRequest(
        job_id=p.job_id, operator_features=list(p.operator_features), rounds=p.rounds
    )


def prepare_from_proto(msg: pb.NnPrepareRequest) -> NnPrepare:
    check_job_id(msg.job_id, "NnPrepareRequest.job_id")
    features = tuple(int(f) for f in msg.operator_features)
    if not features:
        raise InvalidArgument("NnPrepareRequest.operator_features: none selected")
    if len(features) > MAX_OPERATOR_FEATURES:
        raise InvalidArgument(
            "NnPrepareRequest.operator_features: at most"
            f" {MAX_OPERATOR_FEATURES} features"
        )
    if len(set(features)) != len(features):
        raise InvalidArgument("NnPrepareRequest.operator_features: indexes repeat")
    if not 1 <= msg.rounds <= MAX_ROUNDS:
        raise InvalidArgument(f"NnPrepareRequest.rounds: must be 1..{MAX_ROUNDS}")
    return NnPrepare(msg.job_id, features, int(msg.rounds))


def prepare_reply_to_proto(r: NnPrepareReply) -> pb.NnPrepareReply:
    return pb.NnPrepareReply(
        operator_columns=r.operator_columns,
        node_public_key=r.node_public_key,
        train_rows=r.train_rows,
        validation_rows=r.validation_rows,
    )


def prepare_reply_from_proto(msg: pb.NnPrepareReply) -> NnPrepareReply:
    if not 1 <= msg.operator_columns <= MAX_FEATURES:
        raise InvalidArgument(
            f"NnPrepareReply.operator_columns: must be 1..{MAX_FEATURES}"
        )
    key = bytes(msg.node_public_key)
    if not key.startswith(b"-----BEGIN PUBLIC KEY-----"):
        raise InvalidArgument("NnPrepareReply.node_public_key: not a PEM public key")
    return NnPrepareReply(
        int(msg.operator_columns), key, int(msg.train_rows), int(msg.validation_rows)
    )


def start_to_proto(s: NnStart) -> pb.NnStartRequest:
    return pb.NnStartRequest(
        job_id=s.job_id,
        superlink_host=s.superlink_host,
        superlink_port=s.superlink_port,
    )


def start_from_proto(msg: pb.NnStartRequest) -> NnStart:
    check_job_id(msg.job_id, "NnStartRequest.job_id")
    if not msg.superlink_host:
        raise InvalidArgument("NnStartRequest.superlink_host: missing")
    if not 1 <= msg.superlink_port <= 65535:
        raise InvalidArgument("NnStartRequest.superlink_port: must be 1..65535")
    return NnStart(msg.job_id, msg.superlink_host, int(msg.superlink_port))


def start_reply_to_proto(_: None) -> pb.NnStartReply:
    return pb.NnStartReply()


def complete_to_proto(c: NnComplete) -> pb.NnCompleteRequest:
    return pb.NnCompleteRequest(job_id=c.job_id)


def complete_from_proto(msg: pb.NnCompleteRequest) -> NnComplete:
    return NnComplete(check_job_id(msg.job_id, "NnCompleteRequest.job_id"))


def complete_reply_to_proto(r: NnCompleteReply) -> pb.NnCompleteReply:
    return pb.NnCompleteReply(model_name=r.model_name, model_version=r.model_version)


def complete_reply_from_proto(msg: pb.NnCompleteReply) -> NnCompleteReply:
    return NnCompleteReply(msg.model_name, int(msg.model_version))
