"""Thin plumbing shared by every servicer adapter and client in protocol/.

Servicers stay thin: authenticate, convert, delegate to a domain handler, convert back,
and `context.abort(code, clear message)` on error. Clients turn a peer's gRPC status
into PeerCallError and put a deadline on every call.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from protocol.auth import PeerDirectory
from protocol.domain import Peer
from protocol.errors import PeerCallError, ProtocolError

log = logging.getLogger(__name__)
T = TypeVar("T")


def _abort_for(exc: BaseException, context: grpc.ServicerContext, method: str) -> None:
    if type(exc) is Exception and not exc.args and context.code() is not None:
        raise exc  # a context.abort() deeper down already set the status
    if isinstance(exc, ProtocolError):
        log.info("call refused", extra={"method": method, "code": exc.code})
        context.abort(grpc.StatusCode[exc.code], str(exc))
    reference = uuid.uuid4().hex[:12]
    # The traceback stays in our log (redacted); the peer only gets a reference.
    log.exception("internal error", extra={"method": method, "reference": reference})
    context.abort(grpc.StatusCode.INTERNAL, f"internal error (reference {reference})")


def serve_unary(
    context: grpc.ServicerContext,
    directory: PeerDirectory,
    method: str,
    work: Callable[[Peer], T],
) -> T:
    """Run a unary handler body with the authenticated peer; map errors to statuses."""
    try:
        return work(directory.authenticate(context))
    except grpc.RpcError:
        raise
    except Exception as exc:
        _abort_for(exc, context, method)
        raise  # unreachable: abort raises


def serve_converted(
    context: grpc.ServicerContext,
    directory: PeerDirectory,
    method: str,
    request: Any,
    convert_in: Callable[[Any], Any],
    handle: Callable[[Peer, Any], Any],
    convert_out: Callable[[Any], T],
) -> T:
    """The whole of a thin unary servicer method: authenticate, convert the request,
    delegate to the domain handler, convert its answer back."""
    return serve_unary(
        context,
        directory,
        method,
        lambda peer: convert_out(handle(peer, convert_in(request))),
    )


def serve_stream(
    context: grpc.ServicerContext,
    directory: PeerDirectory,
    method: str,
    work: Callable[[Peer], Iterator[T]],
) -> Iterator[T]:
    """Like serve_unary for server-streaming handlers (errors may occur mid-stream)."""
    try:
        yield from work(directory.authenticate(context))
    except grpc.RpcError:
        raise
    except Exception as exc:
        _abort_for(exc, context, method)


def call_peer(method: str, call: Callable[[], T]) -> T:
    """Invoke a stub call, turning a gRPC error into PeerCallError."""
    try:
        return call()
    except grpc.RpcError as exc:
        code = exc.code().name if exc.code() is not None else "UNKNOWN"
        raise PeerCallError(method, code, exc.details() or "") from None


def iterate_peer(method: str, responses: Iterator[Any]) -> Iterator[Any]:
    """Iterate a server stream, turning a gRPC error into PeerCallError."""
    try:
        yield from responses
    except grpc.RpcError as exc:
        code = exc.code().name if exc.code() is not None else "UNKNOWN"
        raise PeerCallError(method, code, exc.details() or "") from None
