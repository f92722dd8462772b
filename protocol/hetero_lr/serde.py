"""HeteroLr messages: proto <-> domain (the only place that touches hetero_lr_pb2)."""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from protocol.errors import InvalidArgument
from protocol.hetero_lr import messages as m
from protocol.proto.duet.v1 import hetero_lr_pb2 as pb
from protocol.serde import check_job_id, split_from_proto, split_to_proto

OPTIMIZERS = ("sgd", "momentum", "nesterov")
MAX_DIM = 2048  # weights per party: bounds the work a peer can ask for
MAX_INT_BYTES = 80  # signed integers on the wire: masks and step sums (< 2^639)
MAX_LEVEL = 8


def int_to_bytes(value: int) -> bytes:
    """A signed integer as minimal big-endian two's complement."""
    return value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True)


def int_from_bytes(data: bytes, field: str) -> int:
    if not 0 < len(data) <= MAX_INT_BYTES:
        raise InvalidArgument(
            f"{field}: expected a signed integer of 1..{MAX_INT_BYTES} bytes"
        )
    return int.from_bytes(data, "big", signed=True)


def _rows_to_bytes(rows: tuple[int, ...]) -> bytes:
    return np.asarray(rows, dtype="<u4").tobytes()


def _rows_from(data: bytes, field: str) -> tuple[int, ...]:
    if not data or len(data) % 4:
        raise InvalidArgument(f"{field}: expected a non-empty array of uint32")
    return tuple(int(r) for r in np.frombuffer(data, dtype="<u4"))


def _nonempty(items: Iterable[bytes], field: str) -> tuple[bytes, ...]:
    out = tuple(bytes(b) for b in items)
    if any(not b for b in out):
        raise InvalidArgument(f"{field}: empty ciphertext")
    return out


def setup_to_proto(s: m.LrSetup) -> pb.LrSetupRequest:
    return pb.LrSetupRequest(
        job_id=s.job_id,
        bank_context=s.bank_context,
        bank_dim=s.bank_dim,
        operator_features=list(s.operator_features),
        learning_rate=s.learning_rate,
        optimizer=s.optimizer,
        momentum=s.momentum,
        lr_decay=s.lr_decay,
        l2=s.l2,
        batch_size=s.batch_size,
        sigmoid_terms=s.sigmoid_terms,
        sigmoid_range=s.sigmoid_range,
        sigmoid_period=s.sigmoid_period,
        clip=s.clip,
    )


def setup_from_proto(msg: pb.LrSetupRequest) -> m.LrSetup:
    check_job_id(msg.job_id, "LrSetupRequest.job_id")
    if not msg.bank_context:
        raise InvalidArgument("LrSetupRequest.bank_context: missing")
    if not 0 < msg.bank_dim <= MAX_DIM:
        raise InvalidArgument(f"LrSetupRequest.bank_dim: must be 1..{MAX_DIM}")
    if len(msg.operator_features) > MAX_DIM:
        raise InvalidArgument(
            f"LrSetupRequest.operator_features: at most {MAX_DIM} features"
        )
    numbers = (msg.learning_rate, msg.momentum, msg.lr_decay, msg.l2, msg.clip,
               msg.sigmoid_range, msg.sigmoid_period)  # fmt: skip
    if not all(np.isfinite(numbers)):
        raise InvalidArgument("LrSetupRequest: every number must be finite")
    if msg.sigmoid_terms > 32 or msg.sigmoid_period > 1000:
        raise InvalidArgument(
            "LrSetupRequest.sigmoid_*: at most 32 terms and a period <= 1000"
        )
    if not msg.operator_features:
        raise InvalidArgument("LrSetupRequest.operator_features: none selected")
    if msg.optimizer not in OPTIMIZERS:
        raise InvalidArgument(
            f"LrSetupRequest.optimizer: must be one of {', '.join(OPTIMIZERS)}"
        )
    if not msg.learning_rate > 0:
        raise InvalidArgument("LrSetupRequest.learning_rate: must be > 0")
    if msg.sigmoid_terms == 0 or not 0 < msg.sigmoid_range < msg.sigmoid_period / 2:
        raise InvalidArgument("LrSetupRequest.sigmoid_*: invalid Fourier parameters")
    if msg.l2 < 0 or msg.lr_decay < 0 or not 0 <= msg.momentum < 1 or msg.clip < 0:
        raise InvalidArgument(
            "LrSetupRequest: l2, lr_decay, clip >= 0; momentum in [0, 1)"
        )
    return m.LrSetup(
        job_id=msg.job_id,
        bank_context=bytes(msg.bank_context),
        bank_dim=int(msg.bank_dim),
        operator_features=tuple(int(i) for i in msg.operator_features),
        learning_rate=msg.learning_rate,
        optimizer=msg.optimizer,
        momentum=msg.momentum,
        lr_decay=msg.lr_decay,
        l2=msg.l2,
        batch_size=int(msg.batch_size),
        sigmoid_terms=int(msg.sigmoid_terms),
        sigmoid_range=msg.sigmoid_range,
        sigmoid_period=msg.sigmoid_period,
        clip=msg.clip,
    )


def setup_reply_to_proto(r: m.LrSetupReply) -> pb.LrSetupReply:
    return pb.LrSetupReply(
        operator_context=r.operator_context,
        operator_dim=r.operator_dim,
        train_rows=r.train_rows,
        validation_rows=r.validation_rows,
    )


def setup_reply_from_proto(msg: pb.LrSetupReply) -> m.LrSetupReply:
    if not msg.operator_context or not 0 < msg.operator_dim <= MAX_DIM:
        raise InvalidArgument(
            f"LrSetupReply: missing operator context, or dimension not 1..{MAX_DIM}"
        )
    return m.LrSetupReply(
        bytes(msg.operator_context),
        int(msg.operator_dim),
        int(msg.train_rows),
        int(msg.validation_rows),
    )


def forward_to_proto(f: m.LrForward) -> pb.LrForwardRequest:
    return pb.LrForwardRequest(
        job_id=f.job_id,
        epoch=f.epoch,
        split=split_to_proto(f.split),
        rows=_rows_to_bytes(f.rows),
        bank_logits=f.bank_logits,
        operator_step=list(f.operator_step),
        step_epoch=f.step_epoch,
        evaluation=f.evaluation,
        range_level=f.range_level,
    )


def forward_from_proto(msg: pb.LrForwardRequest) -> m.LrForward:
    check_job_id(msg.job_id, "LrForwardRequest.job_id")
    if not msg.bank_logits:
        raise InvalidArgument("LrForwardRequest.bank_logits: missing")
    if msg.range_level > MAX_LEVEL:
        raise InvalidArgument(f"LrForwardRequest.range_level: at most {MAX_LEVEL}")
    return m.LrForward(
        job_id=msg.job_id,
        epoch=int(msg.epoch),
        split=split_from_proto(msg.split, "LrForwardRequest.split"),
        rows=_rows_from(msg.rows, "LrForwardRequest.rows"),
        bank_logits=bytes(msg.bank_logits),
        operator_step=_nonempty(msg.operator_step, "LrForwardRequest.operator_step"),
        step_epoch=int(msg.step_epoch),
        evaluation=bool(msg.evaluation),
        range_level=int(msg.range_level),
    )


def forward_reply_to_proto(r: m.LrForwardReply) -> pb.LrForwardReply:
    return pb.LrForwardReply(operator_logits=r.operator_logits)


def forward_reply_from_proto(msg: pb.LrForwardReply) -> m.LrForwardReply:
    if not msg.operator_logits:
        raise InvalidArgument("LrForwardReply.operator_logits: missing")
    return m.LrForwardReply(bytes(msg.operator_logits))


def sigmoid_to_proto(s: m.LrSigmoid) -> pb.LrSigmoidRequest:
    return pb.LrSigmoidRequest(job_id=s.job_id, bank_harmonics=list(s.bank_harmonics))


def sigmoid_from_proto(msg: pb.LrSigmoidRequest) -> m.LrSigmoid:
    check_job_id(msg.job_id, "LrSigmoidRequest.job_id")
    return m.LrSigmoid(
        msg.job_id, _nonempty(msg.bank_harmonics, "LrSigmoidRequest.bank_harmonics")
    )


def sigmoid_reply_to_proto(r: m.LrSigmoidReply) -> pb.LrSigmoidReply:
    return pb.LrSigmoidReply(
        masked_sigmoid=r.masked_sigmoid,
        negated_mask=r.negated_mask,
        zone_mask=int_to_bytes(r.zone_mask),
    )


def sigmoid_reply_from_proto(msg: pb.LrSigmoidReply) -> m.LrSigmoidReply:
    if not msg.masked_sigmoid or not msg.negated_mask:
        raise InvalidArgument("LrSigmoidReply: missing ciphertext")
    return m.LrSigmoidReply(
        bytes(msg.masked_sigmoid),
        bytes(msg.negated_mask),
        int_from_bytes(msg.zone_mask, "LrSigmoidReply.zone_mask"),
    )


def backward_to_proto(b: m.LrBackward) -> pb.LrBackwardRequest:
    return pb.LrBackwardRequest(
        job_id=b.job_id,
        epoch=b.epoch,
        residual_share=b.residual_share,
        bank_products=list(b.bank_products),
    )


def backward_from_proto(msg: pb.LrBackwardRequest) -> m.LrBackward:
    check_job_id(msg.job_id, "LrBackwardRequest.job_id")
    if not msg.residual_share:
        raise InvalidArgument("LrBackwardRequest.residual_share: missing")
    return m.LrBackward(
        msg.job_id,
        int(msg.epoch),
        bytes(msg.residual_share),
        _nonempty(msg.bank_products, "LrBackwardRequest.bank_products"),
    )


def backward_reply_to_proto(r: m.LrBackwardReply) -> pb.LrBackwardReply:
    return pb.LrBackwardReply(
        operator_products=list(r.operator_products), bank_step=list(r.bank_step)
    )


def backward_reply_from_proto(msg: pb.LrBackwardReply) -> m.LrBackwardReply:
    return m.LrBackwardReply(
        _nonempty(msg.operator_products, "LrBackwardReply.operator_products"),
        _nonempty(msg.bank_step, "LrBackwardReply.bank_step"),
    )


def loss_to_proto(loss: m.LrLoss) -> pb.LrLossRequest:
    return pb.LrLossRequest(job_id=loss.job_id, loss_terms=list(loss.loss_terms))


def loss_from_proto(msg: pb.LrLossRequest) -> m.LrLoss:
    check_job_id(msg.job_id, "LrLossRequest.job_id")
    return m.LrLoss(msg.job_id, _nonempty(msg.loss_terms, "LrLossRequest.loss_terms"))


def loss_reply_to_proto(r: m.LrLossReply) -> pb.LrLossReply:
    return pb.LrLossReply(
        masked_loss=r.masked_loss,
        mask_constant=int_to_bytes(r.mask_constant),
        zone_mask=int_to_bytes(r.zone_mask),
    )


def loss_reply_from_proto(msg: pb.LrLossReply) -> m.LrLossReply:
    if not msg.masked_loss:
        raise InvalidArgument("LrLossReply: missing ciphertext")
    return m.LrLossReply(
        bytes(msg.masked_loss),
        int_from_bytes(msg.mask_constant, "LrLossReply.mask_constant"),
        int_from_bytes(msg.zone_mask, "LrLossReply.zone_mask"),
    )


def keep_best_to_proto(k: m.LrKeepBest) -> pb.LrKeepBestRequest:
    return pb.LrKeepBestRequest(job_id=k.job_id, epoch=k.epoch)


def keep_best_from_proto(msg: pb.LrKeepBestRequest) -> m.LrKeepBest:
    check_job_id(msg.job_id, "LrKeepBestRequest.job_id")
    return m.LrKeepBest(msg.job_id, int(msg.epoch))


def _ints(values: Iterable[bytes], field: str) -> tuple[int, ...]:
    out = tuple(int_from_bytes(bytes(v), field) for v in values)
    if not out or len(out) > MAX_DIM:
        raise InvalidArgument(f"{field}: expected 1..{MAX_DIM} integers")
    return out


def reveal_to_proto(r: m.LrReveal) -> pb.LrRevealRequest:
    return pb.LrRevealRequest(
        job_id=r.job_id,
        operator_step_units=[int_to_bytes(v) for v in r.operator_step_units],
    )


def reveal_from_proto(msg: pb.LrRevealRequest) -> m.LrReveal:
    check_job_id(msg.job_id, "LrRevealRequest.job_id")
    return m.LrReveal(
        msg.job_id,
        _ints(msg.operator_step_units, "LrRevealRequest.operator_step_units"),
    )


def reveal_reply_to_proto(r: m.LrRevealReply) -> pb.LrRevealReply:
    return pb.LrRevealReply(
        bank_step_units=[int_to_bytes(v) for v in r.bank_step_units]
    )


def reveal_reply_from_proto(msg: pb.LrRevealReply) -> m.LrRevealReply:
    return m.LrRevealReply(_ints(msg.bank_step_units, "LrRevealReply.bank_step_units"))


def ack_to_proto() -> pb.LrAck:
    return pb.LrAck()


def ack_from_proto(msg: pb.LrAck) -> None:
    """An empty acknowledgement: nothing to convert or check."""


MAX_RESUME_CANDIDATES = m.MAX_RESUME_CANDIDATES
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _hash_hex(value: str, field: str) -> str:
    if not _HEX64.fullmatch(value):
        raise InvalidArgument(f"{field}: expected 64 lowercase hex characters")
    return value


def checkpoint_to_proto(c: m.LrCheckpoint) -> pb.LrCheckpointRequest:
    return pb.LrCheckpointRequest(
        job_id=c.job_id, epoch=c.epoch, bank_commitment=c.bank_commitment
    )


def checkpoint_from_proto(msg: pb.LrCheckpointRequest) -> m.LrCheckpoint:
    check_job_id(msg.job_id, "LrCheckpointRequest.job_id")
    if msg.epoch < 1:
        raise InvalidArgument("LrCheckpointRequest.epoch: must be >= 1")
    commitment = _hash_hex(msg.bank_commitment, "LrCheckpointRequest.bank_commitment")
    return m.LrCheckpoint(msg.job_id, int(msg.epoch), commitment)


def checkpoint_reply_to_proto(commitment: str) -> pb.LrCheckpointReply:
    return pb.LrCheckpointReply(operator_commitment=commitment)


def checkpoint_reply_from_proto(msg: pb.LrCheckpointReply) -> str:
    return _hash_hex(msg.operator_commitment, "LrCheckpointReply.operator_commitment")


def _ref_from(msg: pb.LrCheckpointRef, field: str) -> m.CheckpointRef:
    if msg.epoch < 1:
        raise InvalidArgument(f"{field}.epoch: must be >= 1")
    return m.CheckpointRef(int(msg.epoch), _hash_hex(msg.digest, f"{field}.digest"))


def resume_to_proto(r: m.LrResume) -> pb.LrResumeRequest:
    return pb.LrResumeRequest(
        job_id=r.job_id,
        checkpoints=[
            pb.LrCheckpointRef(epoch=c.epoch, digest=c.digest) for c in r.checkpoints
        ],
    )


def resume_from_proto(msg: pb.LrResumeRequest) -> m.LrResume:
    check_job_id(msg.job_id, "LrResumeRequest.job_id")
    if not 0 < len(msg.checkpoints) <= MAX_RESUME_CANDIDATES:
        raise InvalidArgument(
            f"LrResumeRequest.checkpoints: expected 1..{MAX_RESUME_CANDIDATES}"
        )
    return m.LrResume(
        msg.job_id,
        tuple(
            _ref_from(c, f"LrResumeRequest.checkpoints[{i}]")
            for i, c in enumerate(msg.checkpoints)
        ),
    )


def resume_reply_to_proto(r: m.LrResumeReply) -> pb.LrResumeReply:
    return pb.LrResumeReply(
        checkpoint=pb.LrCheckpointRef(
            epoch=r.checkpoint.epoch, digest=r.checkpoint.digest
        ),
        setup=setup_reply_to_proto(r.setup),
    )


def resume_reply_from_proto(msg: pb.LrResumeReply) -> m.LrResumeReply:
    return m.LrResumeReply(
        _ref_from(msg.checkpoint, "LrResumeReply.checkpoint"),
        setup_reply_from_proto(msg.setup),
    )
