"""Frequent contacts: the three numbers a subscriber calls most.

The operator uses them for "phone + frequent contact -> consistent / not" checks
(deck, pre-loan verification). About 60% of a Beijing subscriber's contacts are on the
same network (its market share); the rest are on other operators' numbers.
"""

from __future__ import annotations

import numpy as np

from scripts.world.phones import CONTACT_BASE, OFF_NETWORK_CAPACITY, PhoneBook

N_CONTACTS = 3
_ON_NETWORK_SHARE = 0.6


def draw_contacts(
    phones: PhoneBook, index: np.ndarray, subscribers: int, rng: np.random.Generator
) -> np.ndarray:
    """Return (n, 3) int64 distinct contact numbers, never the person's own."""
    n = index.shape[0]
    # With fewer than four subscribers, three distinct others may not exist on-network.
    on_share = _ON_NETWORK_SHARE if subscribers > N_CONTACTS else 0.0
    on = rng.random((n, N_CONTACTS)) < on_share
    who = rng.integers(0, max(subscribers - 1, 1), (n, N_CONTACTS))
    who = np.where(who >= index[:, None], who + 1, who)  # skip the subscriber itself
    other = rng.integers(CONTACT_BASE, OFF_NETWORK_CAPACITY, (n, N_CONTACTS))
    for _ in range(20):
        # Redraw the rare repeats so the three contacts are distinct.
        repeat = _repeats(on, who, other)
        if not repeat.any():
            break
        rows, cols = np.nonzero(repeat)
        who[rows, cols] = rng.integers(0, max(subscribers - 1, 1), rows.size)
        who[rows, cols] = np.where(
            who[rows, cols] >= index[rows], who[rows, cols] + 1, who[rows, cols]
        )
        other[rows, cols] = rng.integers(CONTACT_BASE, OFF_NETWORK_CAPACITY, rows.size)
    numbers = np.empty((n, N_CONTACTS), dtype=np.int64)
    numbers[on] = phones.subscriber_numbers(who[on])
    numbers[~on] = phones.off_network_numbers(other[~on])
    return numbers


def _repeats(on: np.ndarray, who: np.ndarray, other: np.ndarray) -> np.ndarray:
    key = np.where(on, who, -other - 1)  # on- and off-network keys never collide
    repeat = np.zeros(key.shape, dtype=bool)
    for j in range(1, key.shape[1]):
        repeat[:, j] = (key[:, :j] == key[:, j : j + 1]).any(axis=1)
    return repeat
