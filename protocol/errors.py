"""Domain errors that cross the wire as gRPC status codes.

Node code raises these; the servicer adapters in protocol/ turn them into
`context.abort(code, message)` and the client side turns a peer's status back into
PeerCallError. Messages are shown to the other party: they name the problem (field,
rule, limit) but never contain a phone number, resident ID or name.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base class; `code` is a grpc.StatusCode name."""

    code = "INTERNAL"


class InvalidArgument(ProtocolError):
    code = "INVALID_ARGUMENT"


class MalformedCiphertext(InvalidArgument):
    """Ciphertexts, keys or a crypto context from the peer that do not decode, or
    decode out of range: the sender's malformed input, never an internal error.
    protocol.serde.decode_crypto turns any decoder failure into this."""


class FailedPrecondition(ProtocolError):
    code = "FAILED_PRECONDITION"


class PermissionDenied(ProtocolError):
    code = "PERMISSION_DENIED"


class Unauthenticated(ProtocolError):
    code = "UNAUTHENTICATED"


class ResourceExhausted(ProtocolError):
    code = "RESOURCE_EXHAUSTED"


class NotFound(ProtocolError):
    code = "NOT_FOUND"


class PeerCallError(ProtocolError):
    """A call to the peer failed; carries the peer's status code and message."""

    def __init__(self, method: str, code: str, details: str) -> None:
        super().__init__(f"{method} failed: {code}: {details}")
        self.method = method
        self.code = code
        self.details = details
