"""How long a node keeps per-person PSI results at rest (`psi.retention_days`).

An alignment (`alignments/<id>.npz`, protocol/psi/alignment.py) lists, for every person
in an intersection, that person's row in this node's data: on the operator, which of
its subscribers are the bank's customers; on the bank, which customers are subscribers.
It is needed only while its job runs (a job binds its own alignment, never another
job's), so both nodes delete alignments older than `psi.retention_days`, as the bank
does with the per-row files of `bank-node psi` (bank_node/psi_outputs.py). Files are
written 0600 in 0700 folders. Each deletion pass is audited as `retention.deleted`
with counts only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from protocol.psi.alignment import ALIGNMENTS_DIR

DAY_S = 86_400.0


def expired(paths: Iterable[Path], retention_days: float, now: float) -> list[Path]:
    """The files among `paths` last written more than `retention_days` ago."""
    cutoff = now - retention_days * DAY_S
    old = []
    for path in paths:
        try:
            if path.stat().st_mtime < cutoff:
                old.append(path)
        except FileNotFoundError:
            continue
    return old


def purge_alignments(state_dir: Path, retention_days: float, now: float) -> int:
    """Delete alignments older than the retention period; how many were deleted."""
    folder = state_dir / ALIGNMENTS_DIR
    old = expired(folder.glob("*.npz"), retention_days, now)
    for path in old:
        path.unlink(missing_ok=True)
    return len(old)


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by this user only (0600), replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    tmp.replace(path)
