"""Resident IDs: GB 11643-1999 check characters, uniqueness, birth date and gender."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from protocol.identifiers import resident_id_check_char, resident_id_reasons
from scripts.world.identities import (
    MAX_AGE,
    MIN_AGE,
    IdentityRegistry,
    check_characters,
)


def test_check_characters_match_protocol_if_random_first17_digits() -> None:
    # Prepare
    rng = np.random.default_rng(3)
    first17 = rng.integers(10**16, 10**17, size=5_000)

    # Execute
    ours = check_characters(first17)

    # Assert
    expected = [resident_id_check_char(str(v)) for v in first17]
    assert [chr(c) for c in ours] == expected


def test_registry_issues_unique_valid_ids_if_universe_is_large() -> None:
    # Prepare
    registry = IdentityRegistry(seed=5, universe=3_000_000)
    index = np.random.default_rng(1).choice(3_000_000, size=400_000, replace=False)

    # Execute
    identities = registry.lookup(index)
    ids = pd.Series(identities.resident_ids().to_pylist())

    # Assert
    assert ids.is_unique
    assert resident_id_reasons(ids).isna().all()


def test_registry_ids_encode_gender_and_birth_date_if_looked_up() -> None:
    # Prepare
    registry = IdentityRegistry(seed=5, universe=50_000)

    # Execute
    identities = registry.lookup(np.arange(50_000))
    ids = pd.Series(identities.resident_ids().to_pylist())

    # Assert
    odd_sequence = ids.str.slice(16, 17).astype(int) % 2 == 1
    assert (odd_sequence.to_numpy() == identities.male).all()
    birth = pd.to_datetime(ids.str.slice(6, 14), format="%Y%m%d")
    assert (birth.to_numpy() == identities.birth_date.astype("datetime64[ns]")).all()
    assert identities.age.min() >= MIN_AGE and identities.age.max() <= MAX_AGE
    assert ids.str.slice(0, 2).eq("11").all()  # Beijing


def test_registry_refuses_universe_if_ids_cannot_be_unique() -> None:
    # Prepare, Execute, Assert
    with pytest.raises(ValueError, match="do not fit the resident-ID space"):
        IdentityRegistry(seed=0, universe=2_000_000_000)
