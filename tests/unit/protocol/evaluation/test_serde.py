"""Evaluation messages and typed streams: round trips and rejection of each malformed
field, with a production-size (2048-bit) key: nothing shorter crosses the wire."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from protocol.crypto import paillier, wire
from protocol.crypto.fixedpoint import PackingSpec
from protocol.crypto.paillier_keys import (
    PaillierPrivateKey,
    PaillierPublicKey,
    generate_keypair,
)
from protocol.domain import Split
from protocol.errors import InvalidArgument
from protocol.evaluation import serde
from protocol.evaluation.messages import EvaluationParams, ScoreKind
from protocol.evaluation.party import (
    addend_plaintexts,
    encrypt_rows,
    shuffle_and_pack,
)
from protocol.proto.duet.v1 import common_pb2
from protocol.proto.duet.v1 import evaluation_pb2 as pb
from tests.unit.protocol.wire import through_wire, with_fields

JOB = "a1b2c3d4e5f6a7b8"


@pytest.fixture(scope="module")
def keys() -> tuple[PaillierPublicKey, PaillierPrivateKey]:
    return generate_keypair()


@pytest.fixture(scope="module")
def params(keys: tuple[PaillierPublicKey, PaillierPrivateKey]) -> EvaluationParams:
    return EvaluationParams(
        JOB, Split.VALIDATION, 3, ScoreKind.SHARE, keys[0], 4, modulus=40.0
    )


def _same(a: EvaluationParams, b: EvaluationParams) -> bool:
    def fields(p: EvaluationParams) -> tuple[Any, ...]:
        return (
            p.job_id, p.split, p.round, p.kind, p.public_key.n, p.rows, p.modulus,
            p.bank_spread,
        )  # fmt: skip

    return fields(a) == fields(b)


@pytest.mark.parametrize(
    ("kind", "modulus", "spread"),
    [(ScoreKind.PARTIAL, 0.0, 3.25), (ScoreKind.SHARE, 40.0, 0.0)],
)
def test_evaluation_params_round_trip_if_valid(
    params: EvaluationParams, kind: ScoreKind, modulus: float, spread: float
) -> None:
    # Prepare
    sent = EvaluationParams(
        JOB, Split.TRAIN, 0, kind, params.public_key, 11125, modulus, spread
    )
    # Execute
    back = serde.params_from_proto(through_wire(serde.params_to_proto(sent)))
    # Assert
    assert _same(back, sent)


def _short_key() -> bytes:
    public, _ = generate_keypair(1024, allow_insecure_test_key=True)
    return wire.public_key_to_bytes(public)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"job_id": "x"}, "EvaluateRequest.job_id: job id must be 8-64 lowercase"
         " letters, digits or '-'"),
        ({"split": common_pb2.DATA_SPLIT_UNSPECIFIED},
         "EvaluateRequest.split: must be train or validation"),
        ({"kind": pb.SCORE_KIND_UNSPECIFIED},
         "EvaluateRequest.kind: must be partial or share"),
        ({"round": 2**20 + 1}, "EvaluateRequest.round: must be at most 1048576"),
        ({"rows": 0}, "EvaluateRequest.rows: must be 1..16777216"),
        ({"modulus": 0.0},
         "EvaluateRequest.modulus: shares need a modulus in (0, 1e6]"),
        ({"modulus": float("nan")},
         "EvaluateRequest.modulus: shares need a modulus in (0, 1e6]"),
        ({"kind": pb.SCORE_KIND_PARTIAL},
         "EvaluateRequest.modulus: only shares have a modulus"),
        ({"bank_spread": 2.0},
         "EvaluateRequest.bank_spread: only partial scores have one"),
        ({"kind": pb.SCORE_KIND_PARTIAL, "modulus": 0.0, "bank_spread": -1.0},
         "EvaluateRequest.bank_spread: must be a number in [0, 1e6]"),
        ({"kind": pb.SCORE_KIND_PARTIAL, "modulus": 0.0,
          "bank_spread": float("inf")},
         "EvaluateRequest.bank_spread: must be a number in [0, 1e6]"),
        ({"public_key": b""}, "EvaluateRequest.public_key: public key is truncated"),
        ({"public_key": "short"}, "EvaluateRequest.public_key: 1024-bit Paillier"
         " keys are refused; the minimum is 2048 bits (allow_insecure_test_key=True"
         " is for tests only)"),
    ],
)  # fmt: skip
def test_evaluation_params_from_proto_raises_if_field_malformed(
    params: EvaluationParams, fields: dict[str, Any], message: str
) -> None:
    # Prepare
    if fields.get("public_key") == "short":
        fields = {"public_key": _short_key()}
    msg = with_fields(serde.params_to_proto(params), **fields)
    # Execute
    with pytest.raises(InvalidArgument) as info:
        serde.params_from_proto(msg)
    # Assert
    assert str(info.value) == message


def test_upload_stream_round_trips_request_then_chunks(
    params: EvaluationParams,
) -> None:
    # Prepare
    chunks = [common_pb2.Chunk(data=b"ab"), common_pb2.Chunk(data=b"c")]
    # Execute
    messages = [through_wire(m) for m in serde.upload_to_proto(params, chunks)]
    back, rest = serde.upload_from_proto(messages)
    # Assert
    assert _same(back, params)
    assert [c.data for c in rest] == [b"ab", b"c"]


def test_download_stream_round_trips_layout_then_chunks() -> None:
    # Prepare
    chunks = [common_pb2.Chunk(data=b"xyz")]
    # Execute
    messages = [through_wire(m) for m in serde.download_to_proto(7, chunks)]
    rows, rest = serde.download_from_proto(messages)
    # Assert
    assert rows == 7 and [c.data for c in rest] == [b"xyz"]


@pytest.mark.parametrize(
    ("parse", "messages", "message"),
    [
        (serde.upload_from_proto, [],
         "EvaluateUpload: the stream must start with the request"),
        (serde.upload_from_proto, [pb.EvaluateUpload(values=common_pb2.Chunk())],
         "EvaluateUpload: the stream must start with the request"),
        (serde.download_from_proto,
         [pb.EvaluateDownload(pairs=common_pb2.Chunk())],
         "EvaluateDownload: the stream must start with the layout"),
    ],
)  # fmt: skip
def test_stream_from_proto_raises_if_first_message_wrong(
    parse: Callable[[Any], Any], messages: list[Any], message: str
) -> None:
    # Execute
    with pytest.raises(InvalidArgument) as info:
        parse(messages)
    # Assert
    assert str(info.value) == message


def test_upload_from_proto_raises_if_a_second_request_follows(
    params: EvaluationParams,
) -> None:
    # Prepare
    first = pb.EvaluateUpload(request=serde.params_to_proto(params))
    _, rest = serde.upload_from_proto([first, first])
    # Execute
    with pytest.raises(InvalidArgument) as info:
        list(rest)
    # Assert
    assert str(info.value) == "EvaluateUpload: only values may follow the first message"


def test_values_and_pairs_round_trip_if_encoded_as_the_kind_requires(
    keys: tuple[PaillierPublicKey, PaillierPrivateKey], params: EvaluationParams
) -> None:
    # Prepare
    units = np.array([1, 2, 3, 4])
    values = encrypt_rows(keys[1], units, np.array([0, 1, 1, 0]), ScoreKind.SHARE)
    pairs = shuffle_and_pack(
        serde.values_from_bytes(serde.vector_to_bytes(values), params),
        addend_plaintexts(units, ScoreKind.SHARE),
    )
    # Execute
    back = serde.pairs_from_bytes(serde.vector_to_bytes(pairs), params)
    # Assert
    assert back.ciphertexts == pairs.ciphertexts and len(back) == 4


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ("partial", "EvaluateUpload.values: expected value_bits 81 for share"
         " scores, got 33"),
        ("packed", "EvaluateUpload.values: expected unpacked integers"),
        ("short", "EvaluateUpload.values: 3 ciphertexts for 4 rows"),
    ],
)  # fmt: skip
def test_values_from_bytes_raises_if_not_the_kinds_encoding(
    keys: tuple[PaillierPublicKey, PaillierPrivateKey],
    params: EvaluationParams,
    values: str,
    message: str,
) -> None:
    # Prepare
    labels = np.array([0, 1, 1, 0])
    if values == "partial":
        vec = encrypt_rows(keys[1], np.zeros(4), labels, ScoreKind.PARTIAL)
    elif values == "packed":
        vec = paillier.encrypt_packed(keys[0], [0] * 4, PackingSpec(81, 2))
    else:
        vec = encrypt_rows(keys[1], np.zeros(3), labels[:3], ScoreKind.SHARE)
    # Execute
    with pytest.raises(InvalidArgument) as info:
        serde.values_from_bytes(serde.vector_to_bytes(vec), params)
    # Assert
    assert str(info.value) == message


def test_pairs_from_bytes_raises_if_not_packed_as_pairs(
    keys: tuple[PaillierPublicKey, PaillierPrivateKey], params: EvaluationParams
) -> None:
    # Prepare: the bank's own unpacked values sent back as they are
    vec = encrypt_rows(keys[1], np.zeros(4), np.zeros(4), ScoreKind.SHARE)
    # Execute
    with pytest.raises(InvalidArgument) as info:
        serde.pairs_from_bytes(serde.vector_to_bytes(vec), params)
    # Assert
    assert str(info.value) == "EvaluateDownload.pairs: not packed as share pairs"
