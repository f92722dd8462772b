"""The checks each side of the handshake makes (no I/O)."""

from __future__ import annotations

from protocol.domain import Peer
from protocol.errors import FailedPrecondition, PermissionDenied
from protocol.session.messages import Hello


def check_version(local: Hello, remote: Hello) -> None:
    if local.protocol_version != remote.protocol_version:
        raise FailedPrecondition(
            f"protocol version mismatch: {remote.party_id} speaks duet protocol"
            f" v{remote.protocol_version}, {local.party_id} speaks"
            f" v{local.protocol_version}"
        )


def answer_hello(local: Hello, peer: Peer, request: Hello) -> Hello:
    """The responder's side: the claimed id is the certificate's, versions match;
    the reply lists the capabilities both sides share, sorted."""
    if request.party_id != peer.party_id:
        raise PermissionDenied(
            f"claimed party id {request.party_id!r} does not match the certificate's"
            f" party {peer.party_id!r}"
        )
    check_version(local, request)
    shared = tuple(sorted(set(local.capabilities) & set(request.capabilities)))
    return Hello(
        local.party_id,
        local.protocol_version,
        local.capabilities,
        local.software_version,
        shared,
    )


def check_reply(local: Hello, reply: Hello, expected_party: str) -> Hello:
    """The initiator's side: the reply comes from the expected party and version."""
    if reply.party_id != expected_party:
        raise PermissionDenied(
            f"peer answered as {reply.party_id!r}, expected {expected_party!r}"
        )
    check_version(local, reply)
    return reply
