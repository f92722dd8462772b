"""Peer authentication: mutual TLS identity checked on every call before any logic.

The server's TLS layer already refused peers without a certificate, with an expired
one, or with one no configured counterpart's CA issued (its trust store is the union of
the counterparts' CAs). PeerDirectory then decides *which* counterpart the peer is:

- identity = the certificate's DNS subject alternative names only (the common name is
  never used: a certificate with SAN evil.example and CN bank-a is not bank-a);
- a name is a counterpart's only if that counterpart's pinned CA (`counterparts[].ca`)
  issued the certificate (its signature verifies under one of the pinned
  certificates), so with several banks' CAs trusted, bank-b's CA cannot issue a
  certificate that passes as bank-a;
- a certificate naming several counterparts is refused.
Any failure aborts the call with UNAUTHENTICATED. The client side is pinned the same
way: a channel to a counterpart trusts only that counterpart's CA
(node_core.node.NodeContext.channel) and checks its DNS name, not the address.

The interceptor wraps every handler so the check precedes deserialisation-dependent
logic, and turns an undecodable request into INVALID_ARGUMENT with the message type's
name instead of gRPC's generic INTERNAL error.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from protocol.domain import Peer
from protocol.errors import InvalidArgument, Unauthenticated

log = logging.getLogger(__name__)
_CACHE_SIZE = 256  # verified certificates remembered (a node has few counterparts)


def dns_names(cert: x509.Certificate) -> list[str]:
    """The certificate's DNS subject alternative names (the only identities used)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return list(san.value.get_values_for_type(x509.DNSName))


@dataclass(frozen=True)
class PeerTrust:
    """A configured counterpart: its party id and the CA certificates pinned for it
    (its issuing CA, or an intermediate that issues its certificates)."""

    party_id: str
    issuers: tuple[x509.Certificate, ...]

    def issued(self, cert: x509.Certificate) -> bool:
        """True if one of the pinned certificates directly issued `cert`."""
        for issuer in self.issuers:
            try:
                cert.verify_directly_issued_by(issuer)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return True
        return False


class PeerDirectory:
    """Maps a peer's certificate to a configured counterpart (see module docstring)."""

    def __init__(self, peers: Mapping[str, PeerTrust], local_party: str) -> None:
        self._by_identity = dict(peers)  # DNS name -> counterpart
        self.local_party = local_party
        self._cache: OrderedDict[bytes, Peer | Unauthenticated] = OrderedDict()
        self._lock = threading.Lock()

    def authenticate(self, context: grpc.ServicerContext) -> Peer:
        pems = context.auth_context().get("x509_pem_cert", [])
        if not pems:
            raise Unauthenticated(
                f"{self.local_party} accepts only mutually authenticated TLS peers"
                " with a certificate identity"
            )
        pem = pems[0]
        with self._lock:
            known = self._cache.get(pem)
            if known is not None:
                self._cache.move_to_end(pem)
        if known is None:
            known = self._identify(pem)
            with self._lock:
                self._cache[pem] = known
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        if isinstance(known, Unauthenticated):
            raise Unauthenticated(str(known))
        return known

    def _identify(self, pem: bytes) -> Peer | Unauthenticated:
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError:
            return Unauthenticated("the peer's certificate could not be read")
        names = dns_names(cert)
        if not names:
            return Unauthenticated(
                f"{self.local_party} identifies peers by the DNS subject alternative"
                " name of their certificate, and this certificate has none"
            )
        matched: dict[str, str] = {}
        not_pinned: list[str] = []
        for name in names:
            trust = self._by_identity.get(name)
            if trust is None:
                continue
            if trust.issued(cert):
                matched.setdefault(trust.party_id, name)
            else:
                not_pinned.append(name)
        if len(matched) > 1:
            return Unauthenticated(
                "certificate names several counterparts"
                f" ({', '.join(sorted(matched))}); each needs its own certificate"
            )
        if matched:
            party, name = next(iter(matched.items()))
            return Peer(party_id=party, identity=name)
        if not_pinned:
            return Unauthenticated(
                f"certificate for {not_pinned[0]!r} was not issued by the CA"
                f" {self.local_party} pins for that counterpart"
            )
        return Unauthenticated(
            f"certificate identity {names[0]!r} is not a configured counterpart of"
            f" {self.local_party}"
        )


class _Malformed:
    """Stands in for a request that failed to decode."""

    def __init__(self, type_name: str, error: Exception) -> None:
        self.message = f"malformed {type_name} message: {type(error).__name__}"


def _safe_deserializer(
    deserializer: Callable[[bytes], Any] | None, method: str
) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None
    type_name = getattr(getattr(deserializer, "__self__", None), "__name__", method)

    def decode(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as exc:  # any decode failure is the caller's fault
            return _Malformed(type_name, exc)

    return decode


def _checked_iterator(
    requests: Iterator[Any], context: grpc.ServicerContext
) -> Iterator[Any]:
    # Raised, not aborted: an abort mid-stream reaches the servicer's error mapping
    # (protocol.rpc) as a bare exception and would turn into INTERNAL.
    for request in requests:
        if isinstance(request, _Malformed):
            raise InvalidArgument(request.message)
        yield request


class PeerAuthInterceptor(grpc.ServerInterceptor):
    """Runs PeerDirectory.authenticate before every handler of every service."""

    def __init__(self, directory: PeerDirectory) -> None:
        self._directory = directory

    def _admit(self, context: grpc.ServicerContext, method: str) -> None:
        try:
            self._directory.authenticate(context)
        except Unauthenticated as exc:
            log.warning("refused unauthenticated call", extra={"method": method})
            context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        admit = self._admit
        decode = _safe_deserializer(handler.request_deserializer, method)
        encode = handler.response_serializer

        if handler.unary_unary or handler.unary_stream:
            inner = handler.unary_unary or handler.unary_stream

            def unary_behavior(request: Any, context: grpc.ServicerContext) -> Any:
                admit(context, method)
                if isinstance(request, _Malformed):
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)
                return inner(request, context)

            factory = (
                grpc.unary_unary_rpc_method_handler
                if handler.unary_unary
                else grpc.unary_stream_rpc_method_handler
            )
            return factory(unary_behavior, decode, encode)

        inner_stream = handler.stream_unary or handler.stream_stream

        def stream_behavior(
            requests: Iterator[Any], context: grpc.ServicerContext
        ) -> Any:
            admit(context, method)
            return inner_stream(_checked_iterator(requests, context), context)

        factory = (
            grpc.stream_unary_rpc_method_handler
            if handler.stream_unary
            else grpc.stream_stream_rpc_method_handler
        )
        return factory(stream_behavior, decode, encode)
