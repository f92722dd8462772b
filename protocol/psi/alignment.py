"""Training alignment from a mode-both PSI session: the contract later protocols use.

After a session in mode both, each party holds an `Alignment` for the same m rows:

- `alignment_id`: the PSI session id (32 hex characters); both parties use the same.
- `row_keys`: (m, 16) uint8, one pseudonymous key per aligned person, equal on both
  sides: SHA-256("duet-psi-v1|row-key|" | session id | "|" | X25519(ab, H(x)))[:16].
  Not linkable across sessions (fresh scalars, session id in the hash). Rows are in
  the *shared order*: ascending lexicographic byte order of the keys.
- `local_rows`: (m,) int64, for shared position p the index of that person in this
  party's accepted `Dataset` rows (node_core.ingest.load_dataset of its source).
- `fingerprint`: this party's data fingerprint ("sha256:<hex of source file>:rows=<n
  accepted>"); a later job refuses an alignment whose data has changed since.
- `counterpart`: the other party's id.

Later protocols refer to rows only by shared positions 0..m-1, never by a phone
number; `digest()` lets the two parties confirm they hold the same alignment without
sending the keys. Persisted in the node's state dir as `alignments/<id>.npz`
(numpy arrays and plain strings, `allow_pickle=False`, mode 0600: it says which people
are in the intersection), by the same code on both sides, and deleted after the node's
`psi.retention_days` (node_core/retention.py).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from protocol.ids import is_hex_id
from protocol.psi.matching import ROW_KEY_BYTES, key_order, row_keys

ALIGNMENTS_DIR = "alignments"


@dataclass(frozen=True)
class Alignment:
    alignment_id: str
    row_keys: np.ndarray  # (m, 16) uint8, ascending byte order
    local_rows: np.ndarray  # (m,) int64 into this party's accepted dataset rows
    fingerprint: str
    counterpart: str

    def __post_init__(self) -> None:
        if not is_hex_id(self.alignment_id):
            raise ValueError("alignment id must be 32 lowercase hex characters")
        if self.row_keys.ndim != 2 or self.row_keys.shape[1] != ROW_KEY_BYTES:
            raise ValueError(f"row_keys must have shape (m, {ROW_KEY_BYTES})")
        if self.local_rows.shape != (self.row_keys.shape[0],):
            raise ValueError("local_rows must have one entry per row key")

    @property
    def size(self) -> int:
        return int(self.row_keys.shape[0])

    def digest(self) -> str:
        """SHA-256 over the id and the ordered keys: equal on both sides."""
        h = hashlib.sha256(self.alignment_id.encode() + b"|")
        h.update(np.ascontiguousarray(self.row_keys, dtype=np.uint8).tobytes())
        return h.hexdigest()


def data_fingerprint(path: Path, accepted_rows: int) -> str:
    """Identifies the data an alignment refers to: the file's bytes and row count."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}:rows={accepted_rows}"


def alignment_path(state_dir: Path, alignment_id: str) -> Path:
    if not is_hex_id(alignment_id):
        raise ValueError("alignment id must be 32 lowercase hex characters")
    return state_dir / ALIGNMENTS_DIR / f"{alignment_id}.npz"


def save_alignment(state_dir: Path, alignment: Alignment) -> Path:
    """Write `alignments/<id>.npz` atomically (temp file, then rename)."""
    path = alignment_path(state_dir, alignment.alignment_id)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.stem + ".tmp.npz")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        np.savez(
            fh,
            row_keys=np.ascontiguousarray(alignment.row_keys, dtype=np.uint8),
            local_rows=np.ascontiguousarray(alignment.local_rows, dtype=np.int64),
            fingerprint=np.array(alignment.fingerprint),
            counterpart=np.array(alignment.counterpart),
        )
    tmp.replace(path)
    return path


def load_alignment(state_dir: Path, alignment_id: str) -> Alignment:
    """Read an alignment saved by either party; FileNotFoundError if absent."""
    path = alignment_path(state_dir, alignment_id)
    with np.load(path, allow_pickle=False) as data:
        return Alignment(
            alignment_id=alignment_id,
            row_keys=data["row_keys"],
            local_rows=data["local_rows"],
            fingerprint=str(data["fingerprint"]),
            counterpart=str(data["counterpart"]),
        )


def align(
    session_id: str,
    counterpart: str,
    double_blinded: np.ndarray,
    local_rows: np.ndarray,
    fingerprint: str,
) -> Alignment:
    """Both parties' construction: keys from the matched double-blinded values, sorted.

    `double_blinded[k]` is the X25519(ab, H(x)) of the k-th matched person and
    `local_rows[k]` its row in this party's dataset; the order of the inputs does not
    matter, the result is in the shared order.
    """
    keys = row_keys(session_id, double_blinded)
    order = key_order(keys)
    return Alignment(
        alignment_id=session_id,
        row_keys=keys[order],
        local_rows=np.asarray(local_rows, dtype=np.int64)[order],
        fingerprint=fingerprint,
        counterpart=counterpart,
    )
