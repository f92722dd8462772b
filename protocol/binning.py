"""Federated binning: per-bin label counts of the operator's features, under Paillier.

Flow: the bank encrypts, for each training row in aligned order, the packed pair
(y, 1 - y) under its Paillier key (owner CRT encryption) and streams the ciphertexts;
the operator bins each requested feature locally, multiplies the ciphertexts of each
bin together (a homomorphic sum), re-randomizes every sum and streams them back; the
bank decrypts one (positives, negatives) pair per bin and computes WOE and IV.

What each party learns: the operator, nothing about the labels (it only ever holds
ciphertexts under the bank's key, re-randomized before they leave); the bank, the
positive and negative counts per bin of each operator feature (the bin labels only if
the operator discloses feature names), nothing per row.

Why Paillier and not CKKS: the operator must add ciphertexts along its own, secret,
per-feature partition of the rows. With Paillier that is one modular multiplication per
row and feature on one ciphertext per row. CKKS packs 4096 labels per ciphertext, but a
bin's sum then needs a per-slot mask and a decryption per (feature, bin, chunk) or
rotations with 35 MB Galois keys; scripts/bench_lr.py measures both paths.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import grpc

from protocol.auth import PeerDirectory
from protocol.crypto import wire
from protocol.crypto.fixedpoint import PackingSpec
from protocol.crypto.paillier_keys import PaillierPublicKey
from protocol.crypto.paillier_vector import CiphertextVector
from protocol.domain import Peer, StreamHeader
from protocol.errors import InvalidArgument
from protocol.proto.duet.v1 import binning_pb2_grpc
from protocol.rpc import iterate_peer
from protocol.serde import check_job_id
from protocol.streams import IncomingStream, chunk_stream, open_stream

LABELS_KIND = "binning.labels"
SUMS_KIND = "binning.sums"
METHODS = ("quantile", "width")
# The reply holds a few packed ciphertexts per feature; anything near this is hostile.
MAX_REPLY_BYTES = 256 << 20


def label_packing(rows: int) -> PackingSpec:
    """Two 1-bit slots (positive, negative) with headroom for `rows` additions."""
    return PackingSpec(value_bits=1, n_slots=2, max_summands=max(rows, 1))


@dataclass(frozen=True)
class BinSumsRequest:
    job_id: str
    public_key: PaillierPublicKey
    features: tuple[int, ...]
    bins: int
    method: str
    labels: CiphertextVector  # one packed ciphertext per training row


@dataclass(frozen=True)
class FeatureBins:
    feature: int
    name: str
    bins: int
    labels: tuple[str, ...]


@dataclass(frozen=True)
class BinSumsReply:
    layout: tuple[FeatureBins, ...]
    sums: CiphertextVector  # (positives, negatives) per bin, layout order, packed


def _request_header(req: BinSumsRequest, total: int) -> StreamHeader:
    return StreamHeader(
        kind=LABELS_KIND,
        total_bytes=total,
        session_id=req.job_id,
        params={
            "public_key": format(int(req.public_key.n), "x"),
            "features": ",".join(str(f) for f in req.features),
            "bins": str(req.bins),
            "method": req.method,
        },
    )


def _parse_request(incoming: IncomingStream) -> BinSumsRequest:
    header = incoming.header
    job_id = check_job_id(header.session_id, "binning.labels.session_id")
    params = header.params
    try:
        n = int(params["public_key"], 16)
        features = tuple(int(f) for f in params["features"].split(","))
        bins = int(params["bins"])
        method = params["method"]
    except (KeyError, ValueError):
        raise InvalidArgument(
            "binning.labels: params need public_key (hex), features, bins, method"
        ) from None
    if method not in METHODS:
        raise InvalidArgument(f"binning.labels: method must be one of {METHODS}")
    if not 2 <= bins <= 64:
        raise InvalidArgument("binning.labels: bins must be between 2 and 64")
    try:
        # Refuses keys below 2048 bits (no test-only flag crosses the wire).
        public_key = PaillierPublicKey(n)
    except ValueError as exc:
        raise InvalidArgument(f"binning.labels: public_key: {exc}") from None
    try:
        labels = wire.vector_from_bytes(bytes(incoming.read_all()), public_key)
    except ValueError as exc:
        raise InvalidArgument(f"binning.labels: {exc}") from None
    return BinSumsRequest(job_id, public_key, features, bins, method, labels)


def _reply_chunks(reply: BinSumsReply, chunk_bytes: int) -> Iterator[Any]:
    payload = wire.vector_to_bytes(reply.sums)
    layout = json.dumps([vars(f) | {"labels": list(f.labels)} for f in reply.layout])
    header = StreamHeader(SUMS_KIND, len(payload), params={"layout": layout})
    return chunk_stream(header, [payload], chunk_bytes)


def _parse_reply(
    incoming: IncomingStream, public_key: PaillierPublicKey
) -> BinSumsReply:
    try:
        layout = tuple(
            FeatureBins(int(f["feature"]), str(f["name"]), int(f["bins"]),
                        tuple(str(x) for x in f["labels"]))
            for f in json.loads(incoming.header.params["layout"])
        )  # fmt: skip
    except (KeyError, ValueError, TypeError):
        raise InvalidArgument("binning.sums: malformed layout") from None
    sums = wire.vector_from_bytes(bytes(incoming.read_all()), public_key)
    if len(sums) != 2 * sum(f.bins for f in layout):
        raise InvalidArgument("binning.sums: value count does not match the layout")
    return BinSumsReply(layout, sums)


class BinningHandler(Protocol):
    def bin_sums(self, peer: Peer, request: BinSumsRequest) -> BinSumsReply: ...


class _Servicer(binning_pb2_grpc.BinningServicer):
    def __init__(
        self,
        directory: PeerDirectory,
        handler: BinningHandler,
        max_bytes: Callable[[Peer], int],
        chunk_bytes: int,
    ) -> None:
        self._directory = directory
        self._handler = handler
        self._max_bytes = max_bytes
        self._chunk_bytes = chunk_bytes

    def BinSums(self, request_iterator, context):
        from protocol.rpc import serve_stream

        def work(peer: Peer) -> Iterator[Any]:
            incoming = open_stream(
                request_iterator,
                expected_kinds=[LABELS_KIND],
                max_bytes=self._max_bytes(peer),
            )
            request = _parse_request(incoming)
            reply = self._handler.bin_sums(peer, request)
            yield from _reply_chunks(reply, self._chunk_bytes)

        return serve_stream(context, self._directory, "Binning/BinSums", work)


def binning_service(
    directory: PeerDirectory,
    handler: BinningHandler,
    max_bytes: Callable[[Peer], int],
    chunk_bytes: int,
) -> Callable[[grpc.Server], None]:
    servicer = _Servicer(directory, handler, max_bytes, chunk_bytes)
    return lambda server: binning_pb2_grpc.add_BinningServicer_to_server(
        servicer, server
    )


def request_bin_sums(
    channel: grpc.Channel,
    request: BinSumsRequest,
    chunk_bytes: int,
    deadline_s: float,
) -> BinSumsReply:
    """The bank's call: stream the encrypted labels, receive the per-bin sums."""
    stub = binning_pb2_grpc.BinningStub(channel)
    payload = wire.vector_to_bytes(request.labels)
    chunks = chunk_stream(
        _request_header(request, len(payload)), [payload], chunk_bytes
    )
    responses = iterate_peer(
        "Binning/BinSums", stub.BinSums(chunks, timeout=deadline_s)
    )
    incoming = open_stream(
        responses, expected_kinds=[SUMS_KIND], max_bytes=MAX_REPLY_BYTES
    )
    return _parse_reply(incoming, request.public_key)
