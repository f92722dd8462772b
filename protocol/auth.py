"""Peer authentication: mutual TLS identity checked on every call before any logic.

The server's TLS layer already refused peers without a certificate from our CA, with an
expired one, or from another CA. This interceptor then maps the certificate's identity
(DNS subject alternative name, else common name) to a configured counterpart and aborts
with UNAUTHENTICATED when there is none; it wraps every handler so the check precedes
deserialisation-dependent logic, and turns an undecodable request into INVALID_ARGUMENT
with the message type's name instead of gRPC's generic INTERNAL error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import grpc

from protocol.domain import Peer
from protocol.errors import InvalidArgument, Unauthenticated

log = logging.getLogger(__name__)


def certificate_identities(context: grpc.ServicerContext) -> list[str]:
    """The identities the peer's verified certificate proves (SANs first, then CN)."""
    auth = context.auth_context()
    names = [v.decode() for v in auth.get("x509_subject_alternative_name", [])]
    names += [v.decode() for v in auth.get("x509_common_name", [])]
    return names


class PeerDirectory:
    """Maps certificate identities to the party ids of configured counterparts."""

    def __init__(self, identities: Mapping[str, str], local_party: str) -> None:
        self._by_identity = dict(identities)
        self.local_party = local_party

    def authenticate(self, context: grpc.ServicerContext) -> Peer:
        names = certificate_identities(context)
        if not names:
            raise Unauthenticated(
                f"{self.local_party} accepts only mutually authenticated TLS peers"
                " with a certificate identity"
            )
        for name in names:
            party = self._by_identity.get(name)
            if party is not None:
                return Peer(party_id=party, identity=name)
        raise Unauthenticated(
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
