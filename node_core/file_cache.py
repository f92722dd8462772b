"""Values derived from a file, kept until the file changes (one cache for every loader).

A file's stamp is its (size, modification time in ns); a value is reloaded when the
stamp differs from the one it was loaded under, so an edited data source is read again
on next use while an unchanged one is read once per process. The load runs under the
cache's lock: two callers never load the same file at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class FileStamp:
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileStamp:
        """The file's stamp; a missing file has its own (the loader reports it)."""
        try:
            stat = path.stat()
        except OSError:
            return cls(-1, -1)
        return cls(stat.st_size, stat.st_mtime_ns)


class FileCache(Generic[T]):
    """Per-name values loaded from a file, reloaded when the file's stamp changes."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[FileStamp, T]] = {}
        self._lock = threading.Lock()

    def get(self, name: str, path: Path, load: Callable[[], T]) -> T:
        stamp = FileStamp.of(path)
        with self._lock:
            cached = self._entries.get(name)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            value = load()
            self._entries[name] = (stamp, value)
            return value
