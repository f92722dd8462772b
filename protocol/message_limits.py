"""Size bounds on every field of every message a node receives, checked before any
handler sees the message.

gRPC bounds a whole message (`transport.max_message_mb`); within it a peer could still
send a 20 MB job description, 60,000 feature patterns or an oversized purpose that
the refusal then echoed back. Every string field is bounded in characters, every
repeated field in items, and the bytes fields that are not payloads in bytes: the
defaults below, tightened per field in SIZES and ITEMS. A message over a bound is
refused with INVALID_ARGUMENT naming the field and the limit, never echoing the value.
Payload bytes (chunks, ciphertexts) are bounded by the message size and by each
protocol's own checks.
"""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from protocol.errors import InvalidArgument

# Characters of any string field (ids, names, versions, kinds, suites).
DEFAULT_STRING_CHARS = 256
# Items of any repeated field (features, capabilities, ciphertext lists).
DEFAULT_REPEATED_ITEMS = 4096

# Per-field bounds: characters (strings) or bytes (bytes fields), per item of a
# repeated field. Keys are "<Message>.<field>".
SIZES: dict[str, int] = {
    "JobProposal.purpose": 64,
    "JobProposal.model": 64,
    "JobProposal.task": 32,
    "JobProposal.features": 128,
    "JobProposal.description": 4096,
    "JobOutcome.message": 1024,
    "HelloRequest.capabilities": 128,
    "HelloRequest.software_version": 64,
    "StreamHeader.kind": 64,
    "StreamHeader.session_id": 64,
    "PsiOpenRequest.suite": 64,
    "PsiOpenRequest.cached_set_id": 64,
    # A Paillier public key: 4096-bit n and its header fit easily.
    "BinSumsRequest.public_key": 2048,
    "EvaluateRequest.public_key": 2048,
    "SbtSetupRequest.public_key": 2048,
    # One ciphertext under a key of up to 4096 bits (1024 bytes) and its header.
    "SbtNodeRequest.total": 2048,
    # An EC P-256 public key in PEM is under 200 bytes.
    "NnPrepareReply.node_public_key": 1024,
    # Scoring: a consent record's fields (protocol/scoring/consent.py checks
    # their shapes).
    "ConsentProof.consent_id": 32,
    "ConsentProof.phone": 11,
    "ConsentProof.purpose": 64,
    "ConsentProof.scope": 64,
    "ConsentProof.bank_id": 63,
    "ConsentProof.document_sha256": 64,
    "ConsentProof.signature": 64,  # Ed25519
    "ScoreRequest.request_id": 32,
    "ScoreRequest.job_id": 64,
    "ConsentRevocation.consent_id": 32,
}
# Per-field bounds on the number of items of a repeated field.
ITEMS: dict[str, int] = {
    "JobProposal.features": 256,
    "HelloRequest.capabilities": 64,
    "BinSumsRequest.features": 1024,
    # SecureBoost: a level's nodes (depth <= 16, protocol/secureboost/serde.py), a
    # tree's internal nodes, rounds x classes of a model.
    "SbtHistogramRequest.nodes": 1 << 15,
    "SbtSplitRequest.splits": 1 << 15,
    "SbtTreeDone.splits": (1 << 16) - 1,
    "SbtLeafSetsRequest.trees": 10_000 * 64,
    "NnPrepareRequest.operator_features": 1024,
    "ConsentProof.scope": 16,
}

_STRING = FieldDescriptor.TYPE_STRING
_BYTES = FieldDescriptor.TYPE_BYTES
_MESSAGE = FieldDescriptor.TYPE_MESSAGE


def _check_size(key: str, kind: int, value: str | bytes) -> None:
    limit = SIZES.get(key, DEFAULT_STRING_CHARS if kind == _STRING else None)
    if limit is not None and len(value) > limit:
        unit = "characters" if kind == _STRING else "bytes"
        raise InvalidArgument(
            f"{key}: {len(value)} {unit}, over the limit of {limit} {unit}"
        )


def check_message(message: Message) -> None:
    """Raise InvalidArgument naming the first field over its bound (recursively)."""
    name = message.DESCRIPTOR.name
    for field, value in message.ListFields():
        key = f"{name}.{field.name}"
        if field.is_repeated:
            limit = ITEMS.get(key, DEFAULT_REPEATED_ITEMS)
            if len(value) > limit:
                raise InvalidArgument(
                    f"{key}: {len(value)} items, over the limit of {limit} items"
                )
            items = value
        else:
            items = (value,)
        if field.type in (_STRING, _BYTES):
            for item in items:
                _check_size(key, field.type, item)
        elif field.type == _MESSAGE and not field.message_type.GetOptions().map_entry:
            for item in items:
                check_message(item)
