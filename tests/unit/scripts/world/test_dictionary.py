"""The data dictionary documents every column of every generated file."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from scripts.world.column_docs import column_doc
from scripts.world.dictionary import DICTIONARY_PATH

REPO = Path(__file__).resolve().parents[4]


def test_every_column_has_documentation_if_world_generated(world_dir: Path) -> None:
    # Prepare
    files = sorted(world_dir.rglob("*.parquet"))

    # Execute
    missing = [
        (str(path.relative_to(world_dir)), column)
        for path in files
        for column in pq.read_schema(path).names
        if column_doc(str(path.relative_to(world_dir)), column) is None
    ]

    # Assert
    assert files and missing == []


def test_dictionary_file_mentions_every_documented_column_if_regenerated(
    world_dir: Path,
) -> None:
    # Prepare
    text = (REPO / DICTIONARY_PATH).read_text(encoding="utf-8")

    # Execute
    absent = [
        column
        for path in sorted(world_dir.rglob("*.parquet"))
        for column in pq.read_schema(path).names
        if f"`{column_doc(str(path.relative_to(world_dir)), column).name}`" not in text
    ]

    # Assert
    assert absent == []
