"""The shapes of the identifiers both parties exchange, defined once.

- hex id: 32 lowercase hex characters (128 random bits); names PSI sessions,
  alignments, the operator's epoch sets and the jobs the bank creates.
- party id: 1-63 lowercase letters, digits, '.' or '-', starting with a letter or
  digit; a node's `party_id` and every counterpart's.
- job id: 8-64 lowercase letters, digits or '-': the bank's hex ids, and readable ids
  in tests and hand-run jobs.

Callers turn a mismatch into their own error (InvalidArgument on the wire, ConfigError
in a config file), each naming the field.
"""

from __future__ import annotations

import re
import secrets

HEX_ID_RE = re.compile(r"^[0-9a-f]{32}$")
PARTY_ID_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{0,62}$")
JOB_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{7,63}$")


def new_hex_id() -> str:
    """A fresh hex id from the OS CSPRNG: unguessable, so it also names a secret."""
    return secrets.token_hex(16)


def is_hex_id(value: str) -> bool:
    return HEX_ID_RE.match(value) is not None


def is_party_id(value: str) -> bool:
    return PARTY_ID_RE.match(value) is not None


def is_job_id(value: str) -> bool:
    return JOB_ID_RE.match(value) is not None
