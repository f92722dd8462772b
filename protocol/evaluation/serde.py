"""Evaluation messages: proto <-> domain (the only module touching evaluation_pb2).

Both directions are typed streams: one EvaluateRequest (or EvaluateLayout) first, then
a chunked payload (protocol.streams) in the `values` (or `pairs`) field. Vectors are
checked against the encoding their ScoreKind prescribes (protocol/evaluation/party.py),
so a handler never sees ciphertexts it cannot add its addends to.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

from protocol.crypto import wire
from protocol.crypto.paillier_keys import PaillierPublicKey
from protocol.crypto.paillier_vector import CiphertextVector
from protocol.errors import InvalidArgument
from protocol.evaluation.messages import EvaluationParams, ScoreKind
from protocol.evaluation.party import pair_packing, value_bits
from protocol.proto.duet.v1 import evaluation_pb2 as pb
from protocol.serde import (
    check_job_id,
    opened_stream,
    split_from_proto,
    split_to_proto,
)

_KIND_TO_PROTO = {
    ScoreKind.PARTIAL: pb.SCORE_KIND_PARTIAL,
    ScoreKind.SHARE: pb.SCORE_KIND_SHARE,
}
_KIND_FROM_PROTO = {int(v): k for k, v in _KIND_TO_PROTO.items()}
# Far above any split a policy allows (max_rows), far below what would not fit memory.
MAX_ROWS = 1 << 24
MAX_ROUND = 1 << 20


def params_to_proto(p: EvaluationParams) -> pb.EvaluateRequest:
    return pb.EvaluateRequest(
        job_id=p.job_id,
        split=split_to_proto(p.split),
        round=p.round,
        kind=_KIND_TO_PROTO[p.kind],
        public_key=wire.public_key_to_bytes(p.public_key),
        rows=p.rows,
        modulus=p.modulus,
        bank_spread=p.bank_spread,
    )


def params_from_proto(msg: pb.EvaluateRequest) -> EvaluationParams:
    check_job_id(msg.job_id, "EvaluateRequest.job_id")
    split = split_from_proto(msg.split, "EvaluateRequest.split")
    kind = _KIND_FROM_PROTO.get(msg.kind)
    if kind is None:
        raise InvalidArgument("EvaluateRequest.kind: must be partial or share")
    if msg.round > MAX_ROUND:
        raise InvalidArgument(f"EvaluateRequest.round: must be at most {MAX_ROUND}")
    if not 1 <= msg.rows <= MAX_ROWS:
        raise InvalidArgument(f"EvaluateRequest.rows: must be 1..{MAX_ROWS}")
    if kind is ScoreKind.SHARE:
        if not (math.isfinite(msg.modulus) and 0 < msg.modulus <= 1e6):
            raise InvalidArgument(
                "EvaluateRequest.modulus: shares need a modulus in (0, 1e6]"
            )
        if msg.bank_spread != 0:
            raise InvalidArgument(
                "EvaluateRequest.bank_spread: only partial scores have one"
            )
    else:
        if msg.modulus != 0:
            raise InvalidArgument("EvaluateRequest.modulus: only shares have a modulus")
        if not (math.isfinite(msg.bank_spread) and 0 <= msg.bank_spread <= 1e6):
            raise InvalidArgument(
                "EvaluateRequest.bank_spread: must be a number in [0, 1e6]"
            )
    try:
        # Refuses keys below 2048 bits (no test-only flag crosses the wire).
        public_key = wire.public_key_from_bytes(bytes(msg.public_key))
    except ValueError as exc:
        raise InvalidArgument(f"EvaluateRequest.public_key: {exc}") from None
    return EvaluationParams(
        job_id=msg.job_id,
        split=split,
        round=int(msg.round),
        kind=kind,
        public_key=public_key,
        rows=int(msg.rows),
        modulus=float(msg.modulus),
        bank_spread=float(msg.bank_spread),
    )


def vector_to_bytes(vector: CiphertextVector) -> bytes:
    return wire.vector_to_bytes(vector)


def values_wire_bytes(key: PaillierPublicKey, rows: int) -> int:
    """Size of the values stream for a split of `rows` rows (one ciphertext each)."""
    return wire.vector_wire_bytes(key, rows)


def _vector(data: bytes, key: PaillierPublicKey, field: str) -> CiphertextVector:
    try:
        return wire.vector_from_bytes(data, key)
    except ValueError as exc:
        raise InvalidArgument(f"{field}: {exc}") from None


def values_from_bytes(data: bytes, params: EvaluationParams) -> CiphertextVector:
    """The bank's ciphertexts: one unpacked value per row, at the kind's bound."""
    field = "EvaluateUpload.values"
    vec = _vector(data, params.public_key, field)
    enc = vec.encoding
    if enc.packing is not None or enc.scale_bits != 0:
        raise InvalidArgument(f"{field}: expected unpacked integers")
    if enc.value_bits != value_bits(params.kind):
        raise InvalidArgument(
            f"{field}: expected value_bits {value_bits(params.kind)} for"
            f" {params.kind.value} scores, got {enc.value_bits}"
        )
    if len(vec) != params.rows:
        raise InvalidArgument(f"{field}: {len(vec)} ciphertexts for {params.rows} rows")
    return vec


def pairs_from_bytes(data: bytes, params: EvaluationParams) -> CiphertextVector:
    """The operator's packed pairs: the kind's packing, one pair per row."""
    field = "EvaluateDownload.pairs"
    vec = _vector(data, params.public_key, field)
    expected = pair_packing(params.kind, params.public_key.n_bits)
    if vec.encoding.packing != expected or vec.encoding.scale_bits != 0:
        raise InvalidArgument(f"{field}: not packed as {params.kind.value} pairs")
    if len(vec) != params.rows:
        raise InvalidArgument(f"{field}: {len(vec)} pairs for {params.rows} rows")
    return vec


def upload_to_proto(
    params: EvaluationParams, chunks: Iterable[Any]
) -> Iterator[pb.EvaluateUpload]:
    yield pb.EvaluateUpload(request=params_to_proto(params))
    for chunk in chunks:
        yield pb.EvaluateUpload(values=chunk)


def upload_from_proto(
    messages: Iterable[pb.EvaluateUpload],
) -> tuple[EvaluationParams, Iterator[Any]]:
    """The request and the chunks of the values that follow it."""
    request, chunks = opened_stream(messages, "request", "values", "EvaluateUpload")
    return params_from_proto(request), chunks


def download_to_proto(
    rows: int, chunks: Iterable[Any]
) -> Iterator[pb.EvaluateDownload]:
    yield pb.EvaluateDownload(layout=pb.EvaluateLayout(rows=rows))
    for chunk in chunks:
        yield pb.EvaluateDownload(pairs=chunk)


def download_from_proto(
    messages: Iterable[pb.EvaluateDownload],
) -> tuple[int, Iterator[Any]]:
    """The layout's row count and the chunks of the pairs that follow it."""
    layout, chunks = opened_stream(messages, "layout", "pairs", "EvaluateDownload")
    return int(layout.rows), chunks
