"""Binning messages: proto <-> domain (the only module touching binning_pb2).

Both directions are typed streams: one BinSumsRequest (or BinSumsLayout) first, then
a chunked payload (protocol.streams) in the `labels` (or `sums`) field.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from protocol.binning.messages import (
    MAX_BINS,
    METHODS,
    MIN_BINS,
    BinSumsParams,
    FeatureBins,
    Method,
)
from protocol.crypto import wire
from protocol.crypto.paillier_keys import PaillierPublicKey
from protocol.crypto.paillier_vector import CiphertextVector
from protocol.errors import InvalidArgument
from protocol.proto.duet.v1 import binning_pb2 as pb
from protocol.serde import check_job_id, decode_crypto, opened_stream

_METHOD_TO_PROTO: dict[Method, pb.BinningMethod] = {
    "quantile": pb.BINNING_METHOD_QUANTILE,
    "width": pb.BINNING_METHOD_WIDTH,
}
_METHOD_FROM_PROTO = {int(v): k for k, v in _METHOD_TO_PROTO.items()}
# A feature's bins: up to MAX_BINS plus one for missing values.
_MAX_LAYOUT_BINS = MAX_BINS + 1


def params_to_proto(p: BinSumsParams) -> pb.BinSumsRequest:
    return pb.BinSumsRequest(
        job_id=p.job_id,
        public_key=wire.public_key_to_bytes(p.public_key),
        features=list(p.features),
        bins=p.bins,
        method=_METHOD_TO_PROTO[p.method],
    )


def params_from_proto(msg: pb.BinSumsRequest) -> BinSumsParams:
    check_job_id(msg.job_id, "BinSumsRequest.job_id")
    # Refuses keys below 2048 bits (no test-only flag crosses the wire).
    public_key = decode_crypto(
        "BinSumsRequest.public_key",
        lambda: wire.public_key_from_bytes(bytes(msg.public_key)),
    )
    if not msg.features:
        raise InvalidArgument("BinSumsRequest.features: none requested")
    if len(set(msg.features)) != len(msg.features):
        raise InvalidArgument("BinSumsRequest.features: a feature repeats")
    if not MIN_BINS <= msg.bins <= MAX_BINS:
        raise InvalidArgument(
            f"BinSumsRequest.bins: must be between {MIN_BINS} and {MAX_BINS}"
        )
    method = _METHOD_FROM_PROTO.get(msg.method)
    if method is None:
        raise InvalidArgument(
            f"BinSumsRequest.method: must be one of {', '.join(METHODS)}"
        )
    return BinSumsParams(
        job_id=msg.job_id,
        public_key=public_key,
        features=tuple(int(f) for f in msg.features),
        bins=int(msg.bins),
        method=method,
    )


def layout_to_proto(layout: tuple[FeatureBins, ...]) -> pb.BinSumsLayout:
    return pb.BinSumsLayout(
        features=[
            pb.FeatureBins(
                feature=f.feature, name=f.name, bins=f.bins, labels=list(f.labels)
            )
            for f in layout
        ]
    )


def layout_from_proto(msg: pb.BinSumsLayout) -> tuple[FeatureBins, ...]:
    out = []
    for i, f in enumerate(msg.features):
        field = f"BinSumsLayout.features[{i}]"
        if not 1 <= f.bins <= _MAX_LAYOUT_BINS:
            raise InvalidArgument(f"{field}.bins: must be 1..{_MAX_LAYOUT_BINS}")
        if len(f.labels) != f.bins:
            raise InvalidArgument(f"{field}.labels: expected one label per bin")
        out.append(FeatureBins(int(f.feature), f.name, int(f.bins), tuple(f.labels)))
    return tuple(out)


def vector_to_bytes(vector: CiphertextVector) -> bytes:
    return wire.vector_to_bytes(vector)


def vector_from_bytes(
    data: bytes, key: PaillierPublicKey, field: str
) -> CiphertextVector:
    return decode_crypto(field, lambda: wire.vector_from_bytes(data, key))


def labels_wire_bytes(key: PaillierPublicKey, rows: int) -> int:
    """Size of the labels stream for `rows` training rows (one ciphertext each)."""
    return wire.vector_wire_bytes(key, rows)


def upload_to_proto(
    params: BinSumsParams, chunks: Iterable[Any]
) -> Iterator[pb.BinSumsUpload]:
    yield pb.BinSumsUpload(request=params_to_proto(params))
    for chunk in chunks:
        yield pb.BinSumsUpload(labels=chunk)


def upload_from_proto(
    messages: Iterable[pb.BinSumsUpload],
) -> tuple[BinSumsParams, Iterator[Any]]:
    """The request and the chunks of the labels that follow it."""
    request, chunks = opened_stream(messages, "request", "labels", "BinSumsUpload")
    return params_from_proto(request), chunks


def download_to_proto(
    layout: tuple[FeatureBins, ...], chunks: Iterable[Any]
) -> Iterator[pb.BinSumsDownload]:
    yield pb.BinSumsDownload(layout=layout_to_proto(layout))
    for chunk in chunks:
        yield pb.BinSumsDownload(sums=chunk)


def download_from_proto(
    messages: Iterable[pb.BinSumsDownload],
) -> tuple[tuple[FeatureBins, ...], Iterator[Any]]:
    """The layout and the chunks of the sums that follow it."""
    layout, chunks = opened_stream(messages, "layout", "sums", "BinSumsDownload")
    return layout_from_proto(layout), chunks
