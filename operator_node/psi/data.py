"""The operator's PSI view of a data source: its accepted numbers, packed, cached.

Loaded through node_core.ingest, so PSI sees exactly the accepted rows (and row order)
a joint job sees, and alignment row indices mean the same rows. Only the canonical
numbers are kept (11 bytes each); the load is audited with the validation counts and
repeated only when the file's modification time or size changes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from node_core.config import NodeConfig
from node_core.file_cache import FileCache
from node_core.ingest import IngestionError, load_dataset
from node_core.store import StateStore
from protocol.errors import FailedPrecondition
from protocol.psi.alignment import data_fingerprint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Subscribers:
    """The phone numbers of one data source, as packed 11-byte canonical strings."""

    name: str
    phones: np.ndarray  # 'S11', in accepted-row order
    fingerprint: str


class SubscriberSources:
    def __init__(self, config: NodeConfig, store: StateStore) -> None:
        self._config = config
        self._store = store
        self._loaded: FileCache[Subscribers] = FileCache()

    def get(self, name: str) -> Subscribers:
        src = self._config.data_source(name)

        def load() -> Subscribers:
            try:
                dataset = load_dataset(name, src)
            except IngestionError as exc:  # the bank's call names the source only
                log.error(
                    "PSI data unusable", extra={"source": name, "error": str(exc)}
                )
                raise FailedPrecondition(
                    f"the operator's data source {name!r} fails validation"
                ) from None
            report = dataset.report
            loaded = Subscribers(
                name=name,
                phones=dataset.ids.astype("S11"),
                fingerprint=data_fingerprint(src.path, report.rows_accepted),
            )
            del dataset  # features are not needed here; free them now
            self._store.append_audit(
                "psi.data.loaded",
                subject=name,
                detail=report.counts(),
            )
            log.info(
                "PSI data loaded", extra={"source": name, "rows": len(loaded.phones)}
            )
            return loaded

        return self._loaded.get(name, src.path, load)
