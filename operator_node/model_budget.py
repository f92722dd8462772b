"""The operator's budget of models per set of rows (policy.max_models_per_rows).

Two models evaluated on the same rows give the bank two score vectors of the same
people; with the operator's parts of them linear in the same features (two jobs on the
same two features with different learning rates), two such vectors can be solved for
the features row by row. So at most `max_models_per_rows` jobs of a counterpart per
`model_budget_days` may be evaluated on sets of rows that share at least
`min_batch_size` rows (the operator's dataset rows, which stay the same whatever order
a PSI session aligned them in).

A job spends its place at its first evaluation (protocol/evaluation), when the bank
first learns something from the job's scores; Jobs.Bind checks the budget first, so a
job that cannot be evaluated is refused before any training. The ledger is one file per
evaluated job, `<state>/evaluated_rows/<counterpart>/<unix time>-<job id>.npy`, holding
the job's sorted dataset rows.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from node_core.config import CounterpartPolicy
from protocol.errors import PermissionDenied

_DAY_S = 86_400


@dataclass(frozen=True)
class _Entry:
    job_id: str
    at: float
    path: Path


class ModelBudget:
    def __init__(self, state_dir: Path) -> None:
        self._root = state_dir / "evaluated_rows"
        self._lock = threading.Lock()

    def _folder(self, counterpart: str) -> Path:
        return self._root / counterpart

    def _entries(self, counterpart: str) -> list[_Entry]:
        out = []
        for path in sorted(self._folder(counterpart).glob("*-*.npy")):
            at, _, job_id = path.stem.partition("-")
            if at.isdigit():
                out.append(_Entry(job_id, float(at), path))
        return out

    def _overlapping(
        self,
        counterpart: str,
        job_id: str,
        rows: np.ndarray,
        policy: CounterpartPolicy,
        now: float,
    ) -> list[_Entry]:
        since = now - policy.model_budget_days * _DAY_S
        mine = np.unique(np.asarray(rows, dtype=np.int64))
        out = []
        for entry in self._entries(counterpart):
            if entry.job_id == job_id or entry.at < since:
                continue
            earlier = np.load(entry.path, allow_pickle=False)
            common = len(np.intersect1d(earlier, mine, assume_unique=True))
            if common >= policy.min_batch_size:
                out.append(entry)
        return out

    def _refuse_if_spent(
        self,
        counterpart: str,
        job_id: str,
        rows: np.ndarray,
        policy: CounterpartPolicy,
        now: float,
    ) -> None:
        earlier = self._overlapping(counterpart, job_id, rows, policy, now)
        if len(earlier) >= policy.max_models_per_rows:
            raise PermissionDenied(
                f"{len(earlier)} earlier jobs of {counterpart} were evaluated on"
                f" rows this job shares (at least {policy.min_batch_size} in common)"
                f" in the last {policy.model_budget_days} days, the budget"
                f" (policy.max_models_per_rows = {policy.max_models_per_rows});"
                f" the latest: job {earlier[-1].job_id}"
            )

    def check(
        self,
        counterpart: str,
        job_id: str,
        rows: np.ndarray,
        policy: CounterpartPolicy,
    ) -> None:
        """Refuse a job whose rows have no budget left (at Jobs.Bind)."""
        with self._lock:
            self._refuse_if_spent(counterpart, job_id, rows, policy, time.time())

    def spend(
        self,
        counterpart: str,
        job_id: str,
        rows: np.ndarray,
        policy: CounterpartPolicy,
    ) -> None:
        """Record the job's rows at its first evaluation, or refuse if the budget is
        spent (another job may have been evaluated since the bind)."""
        with self._lock:
            if any(e.job_id == job_id for e in self._entries(counterpart)):
                return
            now = time.time()
            self._refuse_if_spent(counterpart, job_id, rows, policy, now)
            folder = self._folder(counterpart)
            folder.mkdir(parents=True, exist_ok=True)
            np.save(
                folder / f"{int(now)}-{job_id}.npy",
                np.unique(np.asarray(rows, dtype=np.int64)),
                allow_pickle=False,
            )
