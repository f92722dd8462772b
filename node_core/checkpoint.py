"""Checkpoints of a job's training state, one folder per job in each node's state dir.

Each party writes its own checkpoint at every epoch boundary, holding exactly its own
state: `state_dir/checkpoints/<job id>/epoch-NNNNNN.npz` (arrays and byte strings,
loaded with allow_pickle=False; the JSON part is one uint8 array "meta.json") and,
once both parties hold that epoch, `epoch-NNNNNN.json`: the agreement. A checkpoint's
commitment is the SHA-256 of its .npz file; both parties agree on the digest

    SHA-256 of the canonical JSON {"job", "epoch", "bank", "operator"}

(the two commitments), exchanged at the boundary (HeteroLr.Checkpoint). Only an epoch
whose agreement a party holds counts, and a resume starts from an epoch both hold with
the same digest; a file whose hash differs from its recorded commitment is refused.
Files are 0600 in 0700 folders, written atomically; the two most recent agreed epochs
are kept (the peer may have agreed one more than we have), older ones pruned, and the
whole folder is deleted when the job ends (succeeded, failed) or when it is older
than the node's retention period (`purge_checkpoints`).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from node_core.retention import DAY_S, write_private

KEEP = 2  # agreed epochs kept per job
_EPOCH = re.compile(r"epoch-(\d{6})\.json")
_JOB_ID = re.compile(r"[a-z0-9-]{8,64}")


class CheckpointError(ValueError):
    """A checkpoint that is missing, altered or does not match the peer's."""


def checkpoint_digest(job_id: str, epoch: int, bank: str, operator: str) -> str:
    """The digest both parties agree on at an epoch boundary."""
    canonical = json.dumps(
        {"bank": bank, "epoch": int(epoch), "job": job_id, "operator": operator},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Agreement:
    """An epoch both parties checkpointed, as one party recorded it."""

    epoch: int
    digest: str
    own: str  # this party's commitment
    peer: str  # the peer's commitment


@dataclass(frozen=True)
class Checkpoint:
    epoch: int
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]

    def blob(self, name: str) -> bytes:
        return self.arrays[name].tobytes()


def _encode(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> bytes:
    out = io.BytesIO()
    text = json.dumps(meta, sort_keys=True).encode()
    named: dict[str, Any] = {"meta.json": np.frombuffer(text, np.uint8), **arrays}
    np.savez(out, allow_pickle=False, **named)
    return out.getvalue()


def blob_array(data: bytes) -> np.ndarray:
    """A byte string as an array a checkpoint can hold."""
    return np.frombuffer(data, dtype=np.uint8)


class JobCheckpoints:
    """One job's checkpoints on this node."""

    def __init__(self, state_dir: Path, job_id: str) -> None:
        if not _JOB_ID.fullmatch(job_id):
            raise CheckpointError(f"not a job id: {job_id!r}")
        self.job_id = job_id
        self.folder = state_dir / "checkpoints" / job_id

    def _payload(self, epoch: int) -> Path:
        return self.folder / f"epoch-{epoch:06d}.npz"

    def _agreement(self, epoch: int) -> Path:
        return self.folder / f"epoch-{epoch:06d}.json"

    def write(
        self, epoch: int, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
    ) -> str:
        """Write this party's state at `epoch` (not agreed yet); its commitment."""
        if epoch < 1:
            raise CheckpointError("checkpoints are taken after an epoch (>= 1)")
        data = _encode({**meta, "job": self.job_id, "epoch": epoch}, arrays)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(self._payload(epoch), data)
        return hashlib.sha256(data).hexdigest()

    def agree(self, epoch: int, *, bank: str, operator: str, own: str) -> str:
        """Record that both parties hold `epoch` (`own` names which commitment is
        ours: "bank" or "operator"); prunes older epochs; returns the digest."""
        commitments = {"bank": bank, "operator": operator}
        if own not in commitments:
            raise CheckpointError("own must be 'bank' or 'operator'")
        mine = commitments[own]
        if self._hash(epoch) != mine:
            raise CheckpointError(
                f"job {self.job_id}: the epoch {epoch} checkpoint is not the one"
                " committed to"
            )
        digest = checkpoint_digest(self.job_id, epoch, bank, operator)
        record = {
            "epoch": epoch,
            "digest": digest,
            "own": mine,
            "peer": commitments["operator" if own == "bank" else "bank"],
        }
        write_private(self._agreement(epoch), json.dumps(record).encode())
        self.prune()
        return digest

    def _hash(self, epoch: int) -> str:
        try:
            return hashlib.sha256(self._payload(epoch).read_bytes()).hexdigest()
        except FileNotFoundError:
            raise CheckpointError(
                f"job {self.job_id}: no checkpoint of epoch {epoch}"
            ) from None

    def agreed(self) -> list[Agreement]:
        """The agreed epochs held here, most recent first."""
        out: list[Agreement] = []
        if not self.folder.is_dir():
            return out
        for path in self.folder.glob("epoch-*.json"):
            if not _EPOCH.fullmatch(path.name):
                continue
            try:
                record = json.loads(path.read_text())
                out.append(
                    Agreement(
                        int(record["epoch"]),
                        str(record["digest"]),
                        str(record["own"]),
                        str(record["peer"]),
                    )
                )
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a damaged agreement counts as none
        return sorted(out, key=lambda a: -a.epoch)

    def latest(self) -> Agreement | None:
        agreed = self.agreed()
        return agreed[0] if agreed else None

    def find(self, epoch: int, digest: str) -> Agreement:
        """The agreement of `epoch`, checked against the peer's `digest`."""
        for agreement in self.agreed():
            if agreement.epoch == epoch:
                if agreement.digest != digest:
                    raise CheckpointError(
                        f"job {self.job_id}: the epoch {epoch} checkpoint digests"
                        " differ between the parties"
                    )
                return agreement
        raise CheckpointError(
            f"job {self.job_id}: no agreed checkpoint of epoch {epoch}"
        )

    def load(self, agreement: Agreement) -> Checkpoint:
        """The checkpoint of an agreed epoch, refused if its file was altered."""
        if self._hash(agreement.epoch) != agreement.own:
            raise CheckpointError(
                f"job {self.job_id}: the epoch {agreement.epoch} checkpoint was"
                " altered since it was agreed"
            )
        with np.load(self._payload(agreement.epoch), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(arrays.pop("meta.json").tobytes())
        if meta.get("job") != self.job_id or meta.get("epoch") != agreement.epoch:
            raise CheckpointError(f"job {self.job_id}: checkpoint of another job")
        return Checkpoint(agreement.epoch, meta, arrays)

    def prune(self) -> None:
        """Keep the KEEP most recent agreed epochs (and any newer, unagreed one)."""
        agreed = self.agreed()
        if not agreed:
            return
        kept = {a.epoch for a in agreed[:KEEP]}
        floor = min(kept)
        for path in self.folder.glob("epoch-*"):
            match = re.fullmatch(r"epoch-(\d{6})\.(npz|json)", path.name)
            if match and int(match.group(1)) < floor:
                path.unlink(missing_ok=True)

    def write_extra(self, name: str, data: Mapping[str, Any]) -> None:
        """A JSON file of the job's state outside the epochs (e.g. the bank's
        inputs to training), in the same folder."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(self.folder / f"{name}.json", json.dumps(data).encode())

    def read_extra(self, name: str) -> dict[str, Any]:
        try:
            data = json.loads((self.folder / f"{name}.json").read_text())
        except (OSError, ValueError):
            raise CheckpointError(
                f"job {self.job_id}: its {name} checkpoint is missing or damaged"
            ) from None
        if not isinstance(data, dict):
            raise CheckpointError(
                f"job {self.job_id}: its {name} checkpoint is damaged"
            )
        return data

    def delete(self) -> None:
        """Delete every checkpoint of the job (it ended)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def has_agreed_checkpoint(state_dir: Path, job_id: str) -> bool:
    try:
        return JobCheckpoints(state_dir, job_id).latest() is not None
    except CheckpointError:
        return False


def delete_checkpoints(state_dir: Path, job_id: str) -> None:
    try:
        JobCheckpoints(state_dir, job_id).delete()
    except CheckpointError:
        pass


def purge_checkpoints(
    state_dir: Path,
    retention_days: float,
    now: float | None = None,
    *,
    ended: Iterable[str] = (),
) -> int:
    """Delete the checkpoints of `ended` jobs and any not written for longer than
    the retention period; how many jobs' folders were deleted."""
    now = time.time() if now is None else now
    root = state_dir / "checkpoints"
    if not root.is_dir():
        return 0
    ended = set(ended)
    cutoff = now - retention_days * DAY_S
    deleted = 0
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        newest = max((p.stat().st_mtime for p in folder.iterdir()), default=0.0)
        if folder.name in ended or newest < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            deleted += 1
    return deleted
