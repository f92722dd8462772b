"""The Psi service: servicer adapter (operator side) and client calls (bank side).

The servicer stays thin: authenticate (protocol.rpc), convert, delegate to a PsiHandler
that the operator node implements, convert back. Streams use protocol.streams, so an
over-limit upload is refused from its header before any data is read. What each party
learns is stated in protocol/psi/__init__.py; the wire contract in psi.proto.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import grpc

from protocol.auth import PeerDirectory
from protocol.domain import Peer, ProtocolDeclaration, StreamHeader
from protocol.errors import InvalidArgument
from protocol.proto.duet.v1 import psi_pb2_grpc
from protocol.psi import serde
from protocol.psi.group import CAPABILITY, ITEM_BYTES
from protocol.psi.messages import (
    BANK_BLINDED,
    BANK_REBLINDED,
    MATCH_ITEM_BYTES,
    MATCHES,
    OPERATOR_BLINDED,
    PsiFinished,
    PsiOpen,
    PsiOpened,
)
from protocol.rpc import call_peer, iterate_peer, serve_stream, serve_unary
from protocol.streams import IncomingStream, chunk_stream, open_stream

# DownloadReblinded only reads session state, so a retry (before any response) is
# harmless. DownloadOperatorSet is not retried: it is computed as it is consumed.
PROTOCOL = ProtocolDeclaration(
    capability=CAPABILITY, service="duet.v1.Psi", idempotent=("DownloadReblinded",)
)

Outgoing = tuple[StreamHeader, Iterable[Any]]


class PsiHandler(Protocol):
    """The operator's side of a session, called with the authenticated peer."""

    def open(self, peer: Peer, request: PsiOpen) -> PsiOpened: ...

    def upload(self, peer: Peer, incoming: IncomingStream) -> int: ...

    def download_reblinded(
        self, peer: Peer, session_id: str, alive: Callable[[], bool]
    ) -> Outgoing: ...

    def download_operator_set(
        self, peer: Peer, session_id: str, alive: Callable[[], bool]
    ) -> Outgoing: ...

    def finish(self, peer: Peer, incoming: IncomingStream) -> PsiFinished: ...


class _PsiServicer(psi_pb2_grpc.PsiServicer):
    def __init__(
        self,
        directory: PeerDirectory,
        handler: PsiHandler,
        max_transfer_bytes: Callable[[Peer], int],
        chunk_bytes: int,
    ) -> None:
        self._directory = directory
        self._handler = handler
        self._max_transfer = max_transfer_bytes
        self._chunk_bytes = chunk_bytes

    def Open(self, request, context):
        def work(peer: Peer):
            opened = self._handler.open(peer, serde.psi_open_from_proto(request))
            return serde.psi_opened_to_proto(opened)

        return serve_unary(context, self._directory, "Psi/Open", work)

    def UploadBankSet(self, request_iterator, context):
        def work(peer: Peer):
            incoming = open_stream(
                request_iterator,
                expected_kinds=[BANK_BLINDED],
                max_bytes=self._max_transfer(peer),
            )
            items = self._handler.upload(peer, incoming)
            return serde.upload_receipt_to_proto(items)

        return serve_unary(context, self._directory, "Psi/UploadBankSet", work)

    def _download(self, request, context, method: str, pick) -> Iterator[Any]:
        def work(peer: Peer) -> Iterator[Any]:
            session_id = serde.session_ref_from_proto(request)
            header, parts = pick(peer, session_id, context.is_active)
            yield from chunk_stream(header, parts, self._chunk_bytes)

        return serve_stream(context, self._directory, method, work)

    def DownloadReblinded(self, request, context):
        return self._download(
            request,
            context,
            "Psi/DownloadReblinded",
            self._handler.download_reblinded,
        )

    def DownloadOperatorSet(self, request, context):
        return self._download(
            request,
            context,
            "Psi/DownloadOperatorSet",
            self._handler.download_operator_set,
        )

    def Finish(self, request_iterator, context):
        def work(peer: Peer):
            incoming = open_stream(
                request_iterator,
                expected_kinds=[MATCHES],
                max_bytes=self._max_transfer(peer),
            )
            return serde.psi_finished_to_proto(self._handler.finish(peer, incoming))

        return serve_unary(context, self._directory, "Psi/Finish", work)


def psi_service(
    directory: PeerDirectory,
    handler: PsiHandler,
    max_transfer_bytes: Callable[[Peer], int],
    chunk_bytes: int,
) -> Callable[[grpc.Server], None]:
    """Registration for start_server (the operator node provides the handler)."""
    servicer = _PsiServicer(directory, handler, max_transfer_bytes, chunk_bytes)
    return lambda server: psi_pb2_grpc.add_PsiServicer_to_server(servicer, server)


# ---- client side (the bank) ------------------------------------------------------
def open_session(
    channel: grpc.Channel, request: PsiOpen, deadline_s: float
) -> PsiOpened:
    stub = psi_pb2_grpc.PsiStub(channel)
    reply = call_peer(
        "Psi/Open",
        lambda: stub.Open(serde.psi_open_to_proto(request), timeout=deadline_s),
    )
    return serde.psi_opened_from_proto(reply)


def upload_bank_set(
    channel: grpc.Channel,
    session_id: str,
    items: int,
    parts: Iterable[Any],
    chunk_bytes: int,
    deadline_s: float,
) -> int:
    """Stream the bank's blinded set (parts: packed 32-byte items, in order)."""
    stub = psi_pb2_grpc.PsiStub(channel)
    header = StreamHeader(BANK_BLINDED, items * ITEM_BYTES, session_id, ITEM_BYTES)
    chunks = chunk_stream(header, parts, chunk_bytes)
    receipt = call_peer(
        "Psi/UploadBankSet", lambda: stub.UploadBankSet(chunks, timeout=deadline_s)
    )
    return serde.upload_receipt_from_proto(receipt)


def _expect(incoming: IncomingStream, session_id: str, items: int, width: int) -> None:
    header = incoming.header
    if header.session_id != session_id:
        raise InvalidArgument(f"stream {header.kind!r}: belongs to another session")
    if header.item_bytes != width or header.total_bytes != items * width:
        raise InvalidArgument(
            f"stream {header.kind!r}: announced {header.total_bytes} bytes of"
            f" {header.item_bytes}-byte items, expected {items} items of {width} bytes"
        )


def _download(
    method: str,
    call: Callable[[], Iterator[Any]],
    kind: str,
    session_id: str,
    items: int,
    batch_items: int,
) -> Iterator[bytes]:
    incoming = open_stream(
        iterate_peer(method, call()),
        expected_kinds=[kind],
        max_bytes=items * ITEM_BYTES,
    )
    _expect(incoming, session_id, items, ITEM_BYTES)
    return incoming.iter_items(batch_items)


def download_reblinded(
    channel: grpc.Channel,
    session_id: str,
    items: int,
    batch_items: int,
    deadline_s: float,
) -> Iterator[bytes]:
    """The bank's items re-blinded by the operator, in batches of whole items."""
    stub = psi_pb2_grpc.PsiStub(channel)
    request = serde.session_ref_to_proto(session_id)
    return _download(
        "Psi/DownloadReblinded",
        lambda: stub.DownloadReblinded(request, timeout=deadline_s),
        BANK_REBLINDED,
        session_id,
        items,
        batch_items,
    )


def download_operator_set(
    channel: grpc.Channel,
    session_id: str,
    items: int,
    batch_items: int,
    deadline_s: float,
) -> Iterator[bytes]:
    """The operator's blinded set, in batches of whole items."""
    stub = psi_pb2_grpc.PsiStub(channel)
    request = serde.session_ref_to_proto(session_id)
    return _download(
        "Psi/DownloadOperatorSet",
        lambda: stub.DownloadOperatorSet(request, timeout=deadline_s),
        OPERATOR_BLINDED,
        session_id,
        items,
        batch_items,
    )


def finish(
    channel: grpc.Channel,
    session_id: str,
    matches: bytes,
    chunk_bytes: int,
    deadline_s: float,
) -> PsiFinished:
    """Close the session; `matches`: the packed pairs (empty outside mode both)."""
    stub = psi_pb2_grpc.PsiStub(channel)
    header = StreamHeader(MATCHES, len(matches), session_id, MATCH_ITEM_BYTES)
    chunks = chunk_stream(header, [matches], chunk_bytes)
    reply = call_peer("Psi/Finish", lambda: stub.Finish(chunks, timeout=deadline_s))
    return serde.psi_finished_from_proto(reply)
