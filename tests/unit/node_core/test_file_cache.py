"""The file-change cache: one load per file version."""

from __future__ import annotations

import os
from pathlib import Path

from node_core.file_cache import FileCache, FileStamp


def test_file_cache_loads_once_if_the_file_is_unchanged(tmp_path: Path) -> None:
    # Prepare
    path = tmp_path / "data.csv"
    path.write_text("a")
    cache: FileCache[str] = FileCache()
    loads: list[str] = []

    def load() -> str:
        loads.append(path.read_text())
        return loads[-1]

    # Execute
    first = cache.get("data", path, load)
    second = cache.get("data", path, load)
    # Assert
    assert (first, second, loads) == ("a", "a", ["a"])


def test_file_cache_reloads_if_the_file_changes(tmp_path: Path) -> None:
    # Prepare
    path = tmp_path / "data.csv"
    path.write_text("a")
    cache: FileCache[str] = FileCache()
    cache.get("data", path, path.read_text)
    path.write_text("bb")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    # Execute
    value = cache.get("data", path, path.read_text)
    # Assert
    assert value == "bb"


def test_file_stamp_is_distinct_if_the_file_is_missing(tmp_path: Path) -> None:
    # Execute
    stamp = FileStamp.of(tmp_path / "absent.csv")
    # Assert
    assert stamp == FileStamp(-1, -1)
