"""HeteroLr messages: every to/from pair round-trips through the wire, and every
malformed field is refused with its message."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from protocol.domain import Split
from protocol.errors import InvalidArgument
from protocol.hetero_lr import messages as m
from protocol.hetero_lr import serde
from protocol.proto.duet.v1 import common_pb2
from protocol.proto.duet.v1 import hetero_lr_pb2 as pb
from tests.unit.protocol.wire import through_wire, with_fields

JOB = "a1b2c3d4e5f6a7b8"
SETUP = m.LrSetup(
    JOB, b"ctx", 4, (0, 3, 5), 0.5, "momentum", 0.9, 0.01, 0.001, 1024, 8, 8.0,
    40.0, 8.0,
)  # fmt: skip
FORWARD = m.LrForward(JOB, 2, Split.VALIDATION, (4, 0, 9), b"z", (b"s1", b"s2"), 1,
                      evaluation=True)  # fmt: skip


@pytest.mark.parametrize(
    ("value", "to_proto", "from_proto"),
    [
        (SETUP, serde.setup_to_proto, serde.setup_from_proto),
        (m.LrSetupReply(b"op-ctx", 7, 700, 300),
         serde.setup_reply_to_proto, serde.setup_reply_from_proto),
        (FORWARD, serde.forward_to_proto, serde.forward_from_proto),
        (m.LrForward(JOB, 0, Split.TRAIN, (1, 2), b"z", (), 0, range_level=2),
         serde.forward_to_proto, serde.forward_from_proto),
        (m.LrForwardReply(b"logits"),
         serde.forward_reply_to_proto, serde.forward_reply_from_proto),
        (m.LrSigmoid(JOB, (b"sin", b"cos")),
         serde.sigmoid_to_proto, serde.sigmoid_from_proto),
        (m.LrSigmoidReply(b"masked", b"-u", -(1 << 200) + 7),
         serde.sigmoid_reply_to_proto, serde.sigmoid_reply_from_proto),
        (m.LrBackward(JOB, 3, b"e+u", (b"p1", b"p2")),
         serde.backward_to_proto, serde.backward_from_proto),
        (m.LrBackwardReply((b"o1",), (b"b1", b"b2")),
         serde.backward_reply_to_proto, serde.backward_reply_from_proto),
        (m.LrLoss(JOB, (b"P", b"Q")), serde.loss_to_proto, serde.loss_from_proto),
        (m.LrLossReply(b"loss", (1 << 156) - 1, -255),
         serde.loss_reply_to_proto, serde.loss_reply_from_proto),
        (m.LrKeepBest(JOB, 4),
         serde.keep_best_to_proto, serde.keep_best_from_proto),
        (m.LrReveal(JOB, (0, -1, 1 << 300)),
         serde.reveal_to_proto, serde.reveal_from_proto),
        (m.LrRevealReply((-(1 << 140) - 3,)),
         serde.reveal_reply_to_proto, serde.reveal_reply_from_proto),
    ],
    ids=["setup", "setup_reply", "forward_evaluation", "forward_training",
         "forward_reply", "sigmoid", "sigmoid_reply", "backward", "backward_reply",
         "loss", "loss_reply", "keep_best", "reveal", "reveal_reply"],
)  # fmt: skip
def test_hetero_lr_message_round_trips_if_valid(
    value: Any, to_proto: Callable[[Any], Any], from_proto: Callable[[Any], Any]
) -> None:
    # Execute
    back = from_proto(through_wire(to_proto(value)))
    # Assert
    assert back == value


def test_ack_round_trips_if_empty() -> None:
    # Execute / Assert
    assert serde.ack_from_proto(through_wire(serde.ack_to_proto())) is None


SETUP_PB = serde.setup_to_proto(SETUP)
FORWARD_PB = serde.forward_to_proto(FORWARD)
BAD_JOB = "job id must be 8-64 lowercase letters, digits or '-'"
SIGMOID = "LrSetupRequest.sigmoid_*: invalid Fourier parameters"
RANGES = "LrSetupRequest: l2, lr_decay, clip >= 0; momentum in [0, 1)"
EMPTY = "empty ciphertext"


@pytest.mark.parametrize(
    ("from_proto", "msg", "message"),
    [
        # LrSetupRequest
        (serde.setup_from_proto, with_fields(SETUP_PB, job_id="x"),
         f"LrSetupRequest.job_id: {BAD_JOB}"),
        (serde.setup_from_proto, with_fields(SETUP_PB, bank_context=b""),
         "LrSetupRequest.bank_context: missing"),
        (serde.setup_from_proto, with_fields(SETUP_PB, bank_dim=0),
         "LrSetupRequest.bank_dim: must be 1..2048"),
        (serde.setup_from_proto, with_fields(SETUP_PB, bank_dim=2049),
         "LrSetupRequest.bank_dim: must be 1..2048"),
        (serde.setup_from_proto, with_fields(SETUP_PB, operator_features=[0] * 2049),
         "LrSetupRequest.operator_features: at most 2048 features"),
        (serde.setup_from_proto, with_fields(SETUP_PB, operator_features=[]),
         "LrSetupRequest.operator_features: none selected"),
        (serde.setup_from_proto, with_fields(SETUP_PB, learning_rate=math.nan),
         "LrSetupRequest: every number must be finite"),
        (serde.setup_from_proto, with_fields(SETUP_PB, clip=math.inf),
         "LrSetupRequest: every number must be finite"),
        (serde.setup_from_proto, with_fields(SETUP_PB, sigmoid_terms=33),
         "LrSetupRequest.sigmoid_*: at most 32 terms and a period <= 1000"),
        (serde.setup_from_proto, with_fields(SETUP_PB, sigmoid_period=1001.0),
         "LrSetupRequest.sigmoid_*: at most 32 terms and a period <= 1000"),
        (serde.setup_from_proto, with_fields(SETUP_PB, optimizer="adam"),
         "LrSetupRequest.optimizer: must be one of sgd, momentum, nesterov"),
        (serde.setup_from_proto, with_fields(SETUP_PB, learning_rate=0.0),
         "LrSetupRequest.learning_rate: must be > 0"),
        (serde.setup_from_proto, with_fields(SETUP_PB, sigmoid_terms=0), SIGMOID),
        (serde.setup_from_proto, with_fields(SETUP_PB, sigmoid_range=25.0), SIGMOID),
        (serde.setup_from_proto, with_fields(SETUP_PB, l2=-0.1), RANGES),
        (serde.setup_from_proto, with_fields(SETUP_PB, lr_decay=-1.0), RANGES),
        (serde.setup_from_proto, with_fields(SETUP_PB, momentum=1.0), RANGES),
        (serde.setup_from_proto, with_fields(SETUP_PB, clip=-8.0), RANGES),
        # LrSetupReply
        (serde.setup_reply_from_proto, pb.LrSetupReply(operator_dim=3),
         "LrSetupReply: missing operator context, or dimension not 1..2048"),
        (serde.setup_reply_from_proto,
         pb.LrSetupReply(operator_context=b"c", operator_dim=2049),
         "LrSetupReply: missing operator context, or dimension not 1..2048"),
        # LrForwardRequest
        (serde.forward_from_proto, with_fields(FORWARD_PB, job_id=""),
         f"LrForwardRequest.job_id: {BAD_JOB}"),
        (serde.forward_from_proto, with_fields(FORWARD_PB, bank_logits=b""),
         "LrForwardRequest.bank_logits: missing"),
        (serde.forward_from_proto,
         with_fields(FORWARD_PB, split=common_pb2.DATA_SPLIT_UNSPECIFIED),
         "LrForwardRequest.split: must be train or validation"),
        (serde.forward_from_proto, with_fields(FORWARD_PB, rows=b""),
         "LrForwardRequest.rows: expected a non-empty array of uint32"),
        (serde.forward_from_proto, with_fields(FORWARD_PB, rows=b"\x01\x00\x00"),
         "LrForwardRequest.rows: expected a non-empty array of uint32"),
        (serde.forward_from_proto, with_fields(FORWARD_PB, operator_step=[b"s", b""]),
         f"LrForwardRequest.operator_step: {EMPTY}"),
        # replies and the other requests
        (serde.forward_reply_from_proto, pb.LrForwardReply(),
         "LrForwardReply.operator_logits: missing"),
        (serde.sigmoid_from_proto, pb.LrSigmoidRequest(job_id="-"),
         f"LrSigmoidRequest.job_id: {BAD_JOB}"),
        (serde.sigmoid_from_proto,
         pb.LrSigmoidRequest(job_id=JOB, bank_harmonics=[b""]),
         f"LrSigmoidRequest.bank_harmonics: {EMPTY}"),
        (serde.sigmoid_reply_from_proto, pb.LrSigmoidReply(masked_sigmoid=b"m"),
         "LrSigmoidReply: missing ciphertext"),
        (serde.sigmoid_reply_from_proto,
         pb.LrSigmoidReply(masked_sigmoid=b"m", negated_mask=b"u"),
         "LrSigmoidReply.zone_mask: expected a signed integer of 1..80 bytes"),
        (serde.forward_from_proto,
         pb.LrForwardRequest(job_id=JOB, bank_logits=b"z", range_level=9),
         "LrForwardRequest.range_level: at most 8"),
        (serde.sigmoid_reply_from_proto, pb.LrSigmoidReply(negated_mask=b"u"),
         "LrSigmoidReply: missing ciphertext"),
        (serde.backward_from_proto,
         pb.LrBackwardRequest(job_id="Z" * 9, residual_share=b"e"),
         f"LrBackwardRequest.job_id: {BAD_JOB}"),
        (serde.backward_from_proto, pb.LrBackwardRequest(job_id=JOB),
         "LrBackwardRequest.residual_share: missing"),
        (serde.backward_from_proto,
         pb.LrBackwardRequest(job_id=JOB, residual_share=b"e", bank_products=[b""]),
         f"LrBackwardRequest.bank_products: {EMPTY}"),
        (serde.backward_reply_from_proto,
         pb.LrBackwardReply(operator_products=[b""]),
         f"LrBackwardReply.operator_products: {EMPTY}"),
        (serde.backward_reply_from_proto, pb.LrBackwardReply(bank_step=[b""]),
         f"LrBackwardReply.bank_step: {EMPTY}"),
        (serde.loss_from_proto, pb.LrLossRequest(job_id="a"),
         f"LrLossRequest.job_id: {BAD_JOB}"),
        (serde.loss_from_proto, pb.LrLossRequest(job_id=JOB, loss_terms=[b""]),
         f"LrLossRequest.loss_terms: {EMPTY}"),
        (serde.loss_reply_from_proto, pb.LrLossReply(mask_constant=b"\x01"),
         "LrLossReply: missing ciphertext"),
        (serde.loss_reply_from_proto,
         pb.LrLossReply(masked_loss=b"l", mask_constant=b"\x01" * 81, zone_mask=b"1"),
         "LrLossReply.mask_constant: expected a signed integer of 1..80 bytes"),
        (serde.keep_best_from_proto, pb.LrKeepBestRequest(job_id=""),
         f"LrKeepBestRequest.job_id: {BAD_JOB}"),
        (serde.reveal_from_proto, pb.LrRevealRequest(job_id="b"),
         f"LrRevealRequest.job_id: {BAD_JOB}"),
        (serde.reveal_from_proto, pb.LrRevealRequest(job_id=JOB),
         "LrRevealRequest.operator_step_units: expected 1..2048 integers"),
        (serde.reveal_from_proto,
         pb.LrRevealRequest(job_id=JOB, operator_step_units=[b"\x01", b""]),
         "LrRevealRequest.operator_step_units: expected a signed integer of 1..80"
         " bytes"),
        (serde.reveal_reply_from_proto, pb.LrRevealReply(bank_step_units=[]),
         "LrRevealReply.bank_step_units: expected 1..2048 integers"),
    ],
)  # fmt: skip
def test_hetero_lr_message_from_proto_raises_if_field_malformed(
    from_proto: Callable[[Any], Any], msg: Any, message: str
) -> None:
    # Execute
    with pytest.raises(InvalidArgument) as info:
        from_proto(msg)
    # Assert
    assert str(info.value) == message
