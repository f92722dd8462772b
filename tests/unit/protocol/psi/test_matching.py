"""Set logic on packed items: matching against Python sets, row keys, shuffles."""

from __future__ import annotations

import numpy as np
import pytest

from protocol.psi.matching import (
    as_items,
    count_matches,
    key_order,
    match_positions,
    pack_pairs,
    row_keys,
    secure_permutation,
    unpack_pairs,
)

SESSION = "0123456789abcdef0123456789abcdef"


def _random_sets(seed: int, n: int, m: int, overlap: int) -> tuple[bytes, bytes]:
    rng = np.random.default_rng(seed)
    pool = rng.bytes(32 * (n + m - overlap))
    left = pool[: 32 * n]
    right = bytearray(pool[32 * (n - overlap) :])
    order = rng.permutation(m)
    items = as_items(bytes(right))[order]
    return left, items.tobytes()


def test_match_positions_equals_python_sets_if_sets_random() -> None:
    # Prepare
    left, right = _random_sets(1, 500, 800, 123)
    lset = [left[o : o + 32] for o in range(0, len(left), 32)]
    rindex = {right[o : o + 32]: o // 32 for o in range(0, len(right), 32)}
    expected = [(i, rindex[v]) for i, v in enumerate(lset) if v in rindex]
    # Execute
    li, ri = match_positions(as_items(left), as_items(right))
    # Assert
    assert list(zip(li.tolist(), ri.tolist(), strict=True)) == expected
    assert count_matches(as_items(left), as_items(right)) == 123


def test_match_positions_exact_if_64_bit_prefixes_repeat() -> None:
    # Prepare: every item shares one prefix, so only the exact fallback can match.
    rng = np.random.default_rng(2)
    left = np.frombuffer(rng.bytes(32 * 50), np.uint8).reshape(50, 32).copy()
    left[:, :8] = 7
    right = np.concatenate([left[10:20], left[:3] ^ np.uint8(1)])
    # Execute
    li, ri = match_positions(left, right)
    # Assert
    assert li.tolist() == list(range(10, 20))
    assert ri.tolist() == list(range(10))


def test_match_positions_ignores_equal_prefix_if_rest_differs() -> None:
    # Prepare
    left = np.zeros((1, 32), np.uint8)
    right = np.zeros((1, 32), np.uint8)
    right[0, 31] = 1
    # Execute
    li, ri = match_positions(left, right)
    # Assert
    assert li.size == ri.size == 0


def test_row_keys_equal_if_session_and_value_equal() -> None:
    # Prepare
    items = as_items(np.random.default_rng(3).bytes(32 * 10))
    # Execute
    keys = row_keys(SESSION, items)
    again = row_keys(SESSION, items)
    other = row_keys("f" * 32, items)
    # Assert
    assert keys.shape == (10, 16)
    assert np.array_equal(keys, again)
    assert not np.any(np.all(keys == other, axis=1))


def test_key_order_sorts_by_bytes_if_keys_random() -> None:
    # Prepare
    keys = np.frombuffer(np.random.default_rng(4).bytes(16 * 300), np.uint8)
    keys = keys.reshape(300, 16).copy()
    keys[:50, :8] = 0  # ties on the first word exercise the second
    # Execute
    order = key_order(keys)
    # Assert
    assert [keys[i].tobytes() for i in order] == sorted(k.tobytes() for k in keys)


def test_pack_pairs_round_trips_if_unpacked() -> None:
    # Prepare
    bank, operator = np.array([5, 0, 7]), np.array([1, 9, 2])
    # Execute
    back = unpack_pairs(pack_pairs(bank, operator))
    # Assert
    assert [b.tolist() for b in back] == [[5, 0, 7], [1, 9, 2]]


def test_secure_permutation_is_a_permutation_if_drawn() -> None:
    # Execute
    first, second = secure_permutation(1000), secure_permutation(1000)
    # Assert
    assert sorted(first.tolist()) == list(range(1000))
    assert first.tolist() != second.tolist()


def test_as_items_refused_if_buffer_has_partial_item() -> None:
    # Execute
    with pytest.raises(ValueError) as info:
        as_items(bytes(33))
    # Assert
    assert str(info.value) == "buffer of 33 bytes is not a whole number of items"
