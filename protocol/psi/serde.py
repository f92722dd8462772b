"""Proto <-> domain conversion for the Psi service: the only PSI module touching _pb2.

The rules of protocol/serde.py: symmetric pairs with a round-trip test, and
`_from_proto` validates what the peer sent, raising InvalidArgument naming the field.
"""

from __future__ import annotations

import re

from protocol.errors import InvalidArgument
from protocol.proto.duet.v1 import psi_pb2
from protocol.psi.messages import PsiFinished, PsiMode, PsiOpen, PsiOpened
from protocol.serde import check_hex_id, check_job_id

_SUITE_RE = re.compile(r"^[a-z0-9-]{1,64}$")

_MODE_TO_PROTO = {
    PsiMode.INTERSECTION: psi_pb2.PSI_MODE_INTERSECTION,
    PsiMode.BOTH: psi_pb2.PSI_MODE_BOTH,
    PsiMode.CARDINALITY: psi_pb2.PSI_MODE_CARDINALITY,
}
_MODE_FROM_PROTO = {v: k for k, v in _MODE_TO_PROTO.items()}


def check_session_id(value: str, field: str) -> str:
    return check_hex_id(value, field, "a session id")


def _check_set_id(value: str, field: str) -> str:
    return check_hex_id(value, field, "a set id") if value else value


def _check_suite(value: str, field: str) -> str:
    if not _SUITE_RE.match(value):
        raise InvalidArgument(f"{field}: missing or not a suite name")
    return value


def psi_open_to_proto(request: PsiOpen) -> psi_pb2.PsiOpenRequest:
    return psi_pb2.PsiOpenRequest(
        mode=_MODE_TO_PROTO[request.mode],
        bank_set_size=request.bank_set_size,
        unbalanced=request.unbalanced,
        cached_set_id=request.cached_set_id,
        suite=request.suite,
        job_id=request.job_id,
    )


def psi_open_from_proto(msg: psi_pb2.PsiOpenRequest) -> PsiOpen:
    mode = _MODE_FROM_PROTO.get(msg.mode)
    if mode is None:
        raise InvalidArgument("PsiOpenRequest.mode: missing or unknown mode")
    if msg.bank_set_size == 0:
        raise InvalidArgument("PsiOpenRequest.bank_set_size: must be > 0")
    if msg.cached_set_id and not msg.unbalanced:
        raise InvalidArgument(
            "PsiOpenRequest.cached_set_id: only allowed with unbalanced = true"
        )
    return PsiOpen(
        mode=mode,
        bank_set_size=int(msg.bank_set_size),
        suite=_check_suite(msg.suite, "PsiOpenRequest.suite"),
        unbalanced=bool(msg.unbalanced),
        cached_set_id=_check_set_id(msg.cached_set_id, "PsiOpenRequest.cached_set_id"),
        job_id=(
            check_job_id(msg.job_id, "PsiOpenRequest.job_id") if msg.job_id else ""
        ),
    )


def psi_opened_to_proto(reply: PsiOpened) -> psi_pb2.PsiOpenReply:
    return psi_pb2.PsiOpenReply(
        session_id=reply.session_id,
        operator_set_size=reply.operator_set_size,
        suite=reply.suite,
        operator_set_id=reply.operator_set_id,
        operator_set_follows=reply.operator_set_follows,
        operator_set_expires_at=int(reply.operator_set_expires_at),
    )


def psi_opened_from_proto(msg: psi_pb2.PsiOpenReply) -> PsiOpened:
    return PsiOpened(
        session_id=check_session_id(msg.session_id, "PsiOpenReply.session_id"),
        operator_set_size=int(msg.operator_set_size),
        suite=_check_suite(msg.suite, "PsiOpenReply.suite"),
        operator_set_id=_check_set_id(
            msg.operator_set_id, "PsiOpenReply.operator_set_id"
        ),
        operator_set_follows=bool(msg.operator_set_follows),
        operator_set_expires_at=float(msg.operator_set_expires_at),
    )


def session_ref_to_proto(session_id: str) -> psi_pb2.PsiSessionRef:
    return psi_pb2.PsiSessionRef(session_id=session_id)


def session_ref_from_proto(msg: psi_pb2.PsiSessionRef) -> str:
    return check_session_id(msg.session_id, "PsiSessionRef.session_id")


def upload_receipt_to_proto(items: int) -> psi_pb2.PsiUploadReceipt:
    return psi_pb2.PsiUploadReceipt(items=items)


def upload_receipt_from_proto(msg: psi_pb2.PsiUploadReceipt) -> int:
    return int(msg.items)


def psi_finished_to_proto(reply: PsiFinished) -> psi_pb2.PsiFinishReply:
    return psi_pb2.PsiFinishReply(
        intersection_size=reply.intersection_size, alignment_id=reply.alignment_id
    )


def psi_finished_from_proto(msg: psi_pb2.PsiFinishReply) -> PsiFinished:
    if msg.alignment_id:
        check_session_id(msg.alignment_id, "PsiFinishReply.alignment_id")
    return PsiFinished(int(msg.intersection_size), msg.alignment_id)
