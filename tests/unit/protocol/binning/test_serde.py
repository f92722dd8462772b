"""Binning messages and typed streams: round trips and rejection of each malformed
field, with a production-size (2048-bit) key: nothing shorter crosses the wire."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from protocol.binning import serde
from protocol.binning.messages import BinSumsParams, FeatureBins, Method
from protocol.binning.party import encrypt_labels
from protocol.crypto import wire
from protocol.crypto.paillier_keys import (
    PaillierPrivateKey,
    PaillierPublicKey,
    generate_keypair,
)
from protocol.errors import InvalidArgument
from protocol.proto.duet.v1 import binning_pb2 as pb
from protocol.proto.duet.v1 import common_pb2
from tests.unit.protocol.wire import through_wire, with_fields

JOB = "a1b2c3d4e5f6a7b8"
LAYOUT = (
    FeatureBins(0, "age", 3, ("(-inf, 30]", "(30, 50]", "(50, inf)")),
    FeatureBins(2, "f003", 2, ("bin 1", "bin 2")),
)


@pytest.fixture(scope="module")
def keys() -> tuple[PaillierPublicKey, PaillierPrivateKey]:
    return generate_keypair()


@pytest.fixture(scope="module")
def params(keys: tuple[PaillierPublicKey, PaillierPrivateKey]) -> BinSumsParams:
    return BinSumsParams(JOB, keys[0], (0, 2), 10, "width")


def _same_params(a: BinSumsParams, b: BinSumsParams) -> bool:
    return (a.job_id, a.public_key.n, a.features, a.bins, a.method) == (
        b.job_id, b.public_key.n, b.features, b.bins, b.method,
    )  # fmt: skip


@pytest.mark.parametrize("method", ["quantile", "width"])
def test_bin_sums_params_round_trip_if_valid(
    params: BinSumsParams, method: Method
) -> None:
    # Prepare
    sent = BinSumsParams(params.job_id, params.public_key, (5, 1), 64, method)
    # Execute
    back = serde.params_from_proto(through_wire(serde.params_to_proto(sent)))
    # Assert
    assert _same_params(back, sent)


def test_layout_round_trips_if_valid() -> None:
    # Execute
    back = serde.layout_from_proto(through_wire(serde.layout_to_proto(LAYOUT)))
    # Assert
    assert back == LAYOUT


def test_upload_stream_round_trips_request_then_chunks(params: BinSumsParams) -> None:
    # Prepare
    chunks = [common_pb2.Chunk(data=b"ab"), common_pb2.Chunk(data=b"c")]
    # Execute
    messages = [through_wire(m) for m in serde.upload_to_proto(params, chunks)]
    back, rest = serde.upload_from_proto(messages)
    # Assert
    assert _same_params(back, params)
    assert [c.data for c in rest] == [b"ab", b"c"]


def test_download_stream_round_trips_layout_then_chunks() -> None:
    # Prepare
    chunks = [common_pb2.Chunk(data=b"xyz")]
    # Execute
    messages = [through_wire(m) for m in serde.download_to_proto(LAYOUT, chunks)]
    layout, rest = serde.download_from_proto(messages)
    # Assert
    assert layout == LAYOUT and [c.data for c in rest] == [b"xyz"]


def test_ciphertexts_round_trip_if_under_the_expected_key(
    keys: tuple[PaillierPublicKey, PaillierPrivateKey],
) -> None:
    # Prepare
    labels = encrypt_labels(keys[1], np.array([1, 0, 1]))
    # Execute
    back = serde.vector_from_bytes(serde.vector_to_bytes(labels), keys[0], "F")
    # Assert
    assert back.ciphertexts == labels.ciphertexts


def _layout(**fields: Any) -> pb.BinSumsLayout:
    base = {"feature": 0, "name": "age", "bins": 2, "labels": ["a", "b"]}
    return pb.BinSumsLayout(features=[pb.FeatureBins(**{**base, **fields})])


def _short_key() -> bytes:
    public, _ = generate_keypair(1024, allow_insecure_test_key=True)
    return wire.public_key_to_bytes(public)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("job_id", "x", "BinSumsRequest.job_id: job id must be 8-64 lowercase"
         " letters, digits or '-'"),
        ("public_key", b"", "BinSumsRequest.public_key: public key is truncated"),
        ("public_key", "short", "BinSumsRequest.public_key: 1024-bit Paillier keys"
         " are refused; the minimum is 2048 bits (allow_insecure_test_key=True is"
         " for tests only)"),
        ("features", [], "BinSumsRequest.features: none requested"),
        ("features", [1, 1], "BinSumsRequest.features: a feature repeats"),
        ("bins", 1, "BinSumsRequest.bins: must be between 2 and 64"),
        ("bins", 65, "BinSumsRequest.bins: must be between 2 and 64"),
        ("method", pb.BINNING_METHOD_UNSPECIFIED,
         "BinSumsRequest.method: must be one of quantile, width"),
    ],
)  # fmt: skip
def test_bin_sums_params_from_proto_raises_if_field_malformed(
    params: BinSumsParams, field: str, value: Any, message: str
) -> None:
    # Prepare
    msg = with_fields(
        serde.params_to_proto(params),
        **{field: _short_key() if value == "short" else value},
    )
    # Execute
    with pytest.raises(InvalidArgument) as info:
        serde.params_from_proto(msg)
    # Assert
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("msg", "message"),
    [
        (_layout(bins=0, labels=[]),
         "BinSumsLayout.features[0].bins: must be 1..65"),
        (_layout(bins=66, labels=["x"] * 66),
         "BinSumsLayout.features[0].bins: must be 1..65"),
        (_layout(labels=["a"]),
         "BinSumsLayout.features[0].labels: expected one label per bin"),
    ],
)  # fmt: skip
def test_layout_from_proto_raises_if_field_malformed(
    msg: pb.BinSumsLayout, message: str
) -> None:
    # Execute
    with pytest.raises(InvalidArgument) as info:
        serde.layout_from_proto(msg)
    # Assert
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("parse", "messages", "message"),
    [
        (serde.upload_from_proto, [],
         "BinSumsUpload: the stream must start with the request"),
        (serde.upload_from_proto, [pb.BinSumsUpload(labels=common_pb2.Chunk())],
         "BinSumsUpload: the stream must start with the request"),
        (serde.download_from_proto, [pb.BinSumsDownload(sums=common_pb2.Chunk())],
         "BinSumsDownload: the stream must start with the layout"),
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
    params: BinSumsParams,
) -> None:
    # Prepare
    first = pb.BinSumsUpload(request=serde.params_to_proto(params))
    _, rest = serde.upload_from_proto([first, first])
    # Execute
    with pytest.raises(InvalidArgument) as info:
        list(rest)
    # Assert
    assert str(info.value) == (
        "BinSumsUpload: only labels may follow the first message"
    )


def test_vector_from_bytes_raises_naming_field_if_under_another_key(
    keys: tuple[PaillierPublicKey, PaillierPrivateKey],
) -> None:
    # Prepare
    other = generate_keypair(1024, allow_insecure_test_key=True)
    data = serde.vector_to_bytes(encrypt_labels(other[1], np.array([1])))
    # Execute
    with pytest.raises(InvalidArgument) as info:
        serde.vector_from_bytes(data, keys[0], "BinSumsUpload.labels")
    # Assert
    assert str(info.value) == (
        "BinSumsUpload.labels: ciphertext vector is encrypted under a different key"
    )
