"""Psi wire messages: round trips and rejection of malformed fields."""

from __future__ import annotations

import pytest

from protocol.errors import InvalidArgument
from protocol.proto.duet.v1 import psi_pb2
from protocol.psi import serde
from protocol.psi.messages import PsiFinished, PsiMode, PsiOpen, PsiOpened

SESSION = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("mode", list(PsiMode))
def test_psi_open_round_trips_if_valid(mode: PsiMode) -> None:
    # Prepare
    request = PsiOpen(mode, 1000, "x25519-sha512-v1", True, "ab" * 16, "job-0001")
    # Execute
    back = serde.psi_open_from_proto(
        psi_pb2.PsiOpenRequest.FromString(
            serde.psi_open_to_proto(request).SerializeToString()
        )
    )
    # Assert
    assert back == request


def test_psi_opened_round_trips_if_valid() -> None:
    # Prepare
    reply = PsiOpened(
        SESSION, 29_000_000, "x25519-sha512-v1", "cd" * 16, False, 1_790_035_200.0
    )
    # Execute
    back = serde.psi_opened_from_proto(
        psi_pb2.PsiOpenReply.FromString(
            serde.psi_opened_to_proto(reply).SerializeToString()
        )
    )
    # Assert
    assert back == reply


def test_small_messages_round_trip_if_valid() -> None:
    # Prepare
    finished = PsiFinished(42, SESSION)
    # Execute
    ref = serde.session_ref_from_proto(serde.session_ref_to_proto(SESSION))
    items = serde.upload_receipt_from_proto(serde.upload_receipt_to_proto(7))
    back = serde.psi_finished_from_proto(serde.psi_finished_to_proto(finished))
    # Assert
    assert (ref, items, back) == (SESSION, 7, finished)


@pytest.mark.parametrize(
    ("msg", "message"),
    [
        (
            psi_pb2.PsiOpenRequest(bank_set_size=5, suite="x25519-sha512-v1"),
            "PsiOpenRequest.mode: missing or unknown mode",
        ),
        (
            psi_pb2.PsiOpenRequest(mode=7, bank_set_size=5, suite="x25519-sha512-v1"),
            "PsiOpenRequest.mode: missing or unknown mode",
        ),
        (
            psi_pb2.PsiOpenRequest(mode=1, suite="x25519-sha512-v1"),
            "PsiOpenRequest.bank_set_size: must be > 0",
        ),
        (
            psi_pb2.PsiOpenRequest(mode=1, bank_set_size=5, suite=""),
            "PsiOpenRequest.suite: missing or not a suite name",
        ),
        (
            psi_pb2.PsiOpenRequest(
                mode=1, bank_set_size=5, suite="s", cached_set_id="ab" * 16
            ),
            "PsiOpenRequest.cached_set_id: only allowed with unbalanced = true",
        ),
        (
            psi_pb2.PsiOpenRequest(
                mode=1, bank_set_size=5, suite="s", unbalanced=True, cached_set_id="x"
            ),
            "PsiOpenRequest.cached_set_id: not a set id (32 lowercase hex characters)",
        ),
        (
            psi_pb2.PsiOpenRequest(mode=1, bank_set_size=5, suite="s", job_id="../x"),
            "PsiOpenRequest.job_id: job id must be 8-64 lowercase letters, digits or"
            " '-'",
        ),
    ],
)
def test_psi_open_refused_if_field_malformed(
    msg: psi_pb2.PsiOpenRequest, message: str
) -> None:
    # Execute
    with pytest.raises(InvalidArgument) as info:
        serde.psi_open_from_proto(msg)
    # Assert
    assert str(info.value) == message


def test_session_ref_refused_if_not_a_session_id() -> None:
    # Execute
    with pytest.raises(InvalidArgument) as info:
        serde.session_ref_from_proto(psi_pb2.PsiSessionRef(session_id="../x"))
    # Assert
    assert str(info.value) == (
        "PsiSessionRef.session_id: not a session id (32 lowercase hex characters)"
    )


@pytest.mark.parametrize(
    ("msg", "message"),
    [
        (psi_pb2.PsiOpenReply(session_id="xyz", suite="s"),
         "PsiOpenReply.session_id: not a session id (32 lowercase hex characters)"),
        (psi_pb2.PsiOpenReply(session_id=SESSION, suite="No Suite"),
         "PsiOpenReply.suite: missing or not a suite name"),
        (psi_pb2.PsiOpenReply(session_id=SESSION, suite="s", operator_set_id="AB"),
         "PsiOpenReply.operator_set_id: not a set id (32 lowercase hex"
         " characters)"),
    ],
)  # fmt: skip
def test_psi_opened_refused_if_field_malformed(
    msg: psi_pb2.PsiOpenReply, message: str
) -> None:
    # Execute
    with pytest.raises(InvalidArgument) as info:
        serde.psi_opened_from_proto(msg)
    # Assert
    assert str(info.value) == message


def test_psi_finished_refused_if_alignment_id_malformed() -> None:
    # Execute
    with pytest.raises(InvalidArgument) as info:
        serde.psi_finished_from_proto(
            psi_pb2.PsiFinishReply(intersection_size=3, alignment_id="nope")
        )
    # Assert
    assert str(info.value) == (
        "PsiFinishReply.alignment_id: not a session id (32 lowercase hex characters)"
    )


def test_psi_finished_round_trips_if_not_mode_both() -> None:
    # Execute
    back = serde.psi_finished_from_proto(
        psi_pb2.PsiFinishReply.FromString(
            serde.psi_finished_to_proto(PsiFinished()).SerializeToString()
        )
    )
    # Assert
    assert back == PsiFinished()
