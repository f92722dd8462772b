"""Phone numbers: unique, on the operator's prefixes, off-network ones elsewhere."""

from __future__ import annotations

import numpy as np
import pandas as pd

from protocol.identifiers import normalize_phones
from scripts.world.phones import (
    OPERATOR_PREFIXES,
    OTHER_PREFIXES,
    PhoneBook,
    phone_strings,
)


def test_subscriber_numbers_are_unique_on_operator_prefixes_if_many() -> None:
    # Prepare
    book = PhoneBook(seed=9, subscribers=2_000_000)

    # Execute
    numbers = book.subscriber_numbers(np.arange(0, 2_000_000, 3))

    # Assert
    assert np.unique(numbers).size == numbers.size
    assert set(np.unique(numbers // 10**8)) <= set(OPERATOR_PREFIXES)


def test_off_network_numbers_avoid_operator_prefixes_if_drawn() -> None:
    # Prepare
    book = PhoneBook(seed=9, subscribers=1_000)

    # Execute
    numbers = book.off_network_numbers(np.arange(200_000))

    # Assert
    assert np.unique(numbers).size == numbers.size
    assert set(np.unique(numbers // 10**8)) <= set(OTHER_PREFIXES)


def test_phone_strings_are_canonical_if_normalised_by_protocol() -> None:
    # Prepare
    numbers = PhoneBook(seed=1, subscribers=10_000).subscriber_numbers(
        np.arange(10_000)
    )

    # Execute
    text = pd.Series(phone_strings(numbers).to_pylist())
    canonical, reason = normalize_phones(text)

    # Assert
    assert reason.isna().all()
    assert (canonical == text).all()
