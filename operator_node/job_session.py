"""An approved job's working state on the operator (in memory, one per job).

The job desk creates a session when it approves a job and binds it to an alignment at
Jobs.Bind; later services (binning, each model type's passive role) look it up with
`JobDesk.session(peer, job_id)`. Each protocol keeps its own state in the session
under a typed key (`StateKey[T]`), attached once, so a new model type adds its state
without editing this class and nobody reads another protocol's state by a string.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

import numpy as np
import pandas as pd

from node_core.ingest import Dataset
from protocol.domain import Split
from protocol.errors import FailedPrecondition
from protocol.jobs.messages import FeatureKind, split_positions

T = TypeVar("T")


@dataclass(frozen=True)
class StateKey(Generic[T]):
    """Names one protocol's per-job state; `T` is its type."""

    name: str


@dataclass
class JobSession:
    job_id: str
    counterpart: str
    columns: list[str]  # operator columns, in OperatorFeature index order
    kinds: list[FeatureKind]
    rows: np.ndarray | None = None  # dataset row per aligned position (after Bind)
    validation: np.ndarray | None = None  # bool per aligned position
    # The data the alignment was made on, pinned at Bind for the rest of the job.
    dataset: Dataset | None = None
    claimed: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _state: dict[str, Any] = field(default_factory=dict, repr=False)

    def claim(self, step: str) -> None:
        """Mark a once-per-job step as taken, atomically; refuse a second time."""
        with self.lock:
            if step in self.claimed:
                raise FailedPrecondition(f"job {self.job_id}: {step} was already done")
            self.claimed.add(step)

    def taken(self, step: str) -> bool:
        """Whether a once-per-job step was claimed (checked before a request's data
        is read; claim() stays the atomic test)."""
        with self.lock:
            return step in self.claimed

    def release(self, step: str) -> None:
        """Undo a claim whose step failed before it revealed anything."""
        with self.lock:
            self.claimed.discard(step)

    # ---- per-protocol state ----------------------------------------------------
    def attach(self, key: StateKey[T], value: T) -> None:
        """Attach a protocol's state, once per job (a second set-up is refused)."""
        with self.lock:
            if key.name in self._state:
                raise FailedPrecondition(f"job {self.job_id}: already set up")
            self._state[key.name] = value

    def state(self, key: StateKey[T]) -> T | None:
        with self.lock:
            return cast(T | None, self._state.get(key.name))

    def close(self) -> None:
        """Drop every protocol's state (keys, weights) when the job ends; a state with
        a `close()` (e.g. processes it started) is closed first."""
        with self.lock:
            states = list(self._state.values())
            self._state.clear()
        for value in states:
            closer = getattr(value, "close", None)
            if callable(closer):
                closer()

    # ---- the bound data ----------------------------------------------------------
    def positions(self) -> dict[Split, np.ndarray]:
        """The aligned positions of each split, as bound; refused before Bind."""
        if self.validation is None:
            raise FailedPrecondition(f"job {self.job_id} is not bound to an alignment")
        return split_positions(self.validation)

    def display_name(self, index: int, disclose: bool) -> str:
        """The name the bank sees: the real column or a stable alias."""
        return self.columns[index] if disclose else f"f{index + 1:03d}"

    def features(self) -> pd.DataFrame:
        """The job's operator features for the aligned rows, in aligned order."""
        if self.rows is None or self.dataset is None:
            raise FailedPrecondition(f"job {self.job_id} is not bound to an alignment")
        frame = self.dataset.features.iloc[self.rows][self.columns]
        return frame.reset_index(drop=True)

    def kind(self, column: str) -> str:
        types = self.dataset.feature_types if self.dataset else {}
        return types.get(column, "numeric")
