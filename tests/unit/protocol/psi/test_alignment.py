"""The Alignment contract: same order from either side, persistence, fingerprints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from protocol.psi.alignment import (
    Alignment,
    align,
    data_fingerprint,
    load_alignment,
    save_alignment,
)
from protocol.psi.matching import as_items

SESSION = "0123456789abcdef0123456789abcdef"


def _alignment(rows: int = 20) -> Alignment:
    values = as_items(np.random.default_rng(1).bytes(32 * rows))
    return align(SESSION, "operator", values, np.arange(rows) * 3, "memory:rows=60")


def test_align_gives_same_keys_and_rows_if_inputs_permuted() -> None:
    # Prepare
    values = as_items(np.random.default_rng(1).bytes(32 * 20))
    rows = np.arange(20) * 3
    shuffle = np.random.default_rng(2).permutation(20)
    # Execute
    first = align(SESSION, "operator", values, rows, "f")
    second = align(SESSION, "bank-a", values[shuffle], rows[shuffle], "g")
    # Assert
    assert np.array_equal(first.row_keys, second.row_keys)
    assert np.array_equal(first.local_rows, second.local_rows)
    assert first.digest() == second.digest()


def test_alignment_round_trips_if_saved_and_loaded(tmp_path: Path) -> None:
    # Prepare
    alignment = _alignment()
    # Execute
    path = save_alignment(tmp_path, alignment)
    back = load_alignment(tmp_path, SESSION)
    # Assert
    assert path == tmp_path / "alignments" / f"{SESSION}.npz"
    assert np.array_equal(back.row_keys, alignment.row_keys)
    assert back.local_rows.dtype == np.int64
    assert np.array_equal(back.local_rows, alignment.local_rows)
    assert (back.fingerprint, back.counterpart) == ("memory:rows=60", "operator")
    assert back.digest() == alignment.digest()


def test_load_alignment_refused_if_id_is_not_a_session_id(tmp_path: Path) -> None:
    # Execute
    with pytest.raises(ValueError) as info:
        load_alignment(tmp_path, "../../etc/passwd")
    # Assert
    assert str(info.value) == "alignment id must be 32 lowercase hex characters"


def test_alignment_refused_if_rows_do_not_match_keys() -> None:
    # Execute
    with pytest.raises(ValueError) as info:
        Alignment(SESSION, np.zeros((3, 16), np.uint8), np.arange(2), "f", "operator")
    # Assert
    assert str(info.value) == "local_rows must have one entry per row key"


def test_data_fingerprint_changes_if_file_changes(tmp_path: Path) -> None:
    # Prepare
    path = tmp_path / "data.csv"
    path.write_text("phone\n13800138000\n")
    before = data_fingerprint(path, 1)
    # Execute
    path.write_text("phone\n13800138001\n")
    after = data_fingerprint(path, 1)
    # Assert
    assert before != after
    assert before.startswith("sha256:") and before.endswith(":rows=1")
