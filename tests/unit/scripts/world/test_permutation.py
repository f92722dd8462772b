"""Keyed bijections: every index maps to a distinct value inside the range."""

from __future__ import annotations

import numpy as np
import pytest

from scripts.world.permutation import DecimalFeistel, RangePermutation

KEYS = np.array([11, 22, 33, 44], dtype=np.uint64)


@pytest.mark.parametrize("n", [1, 2, 7, 1_000, 4_097, 65_537])
def test_range_permutation_is_bijection_if_range_is_arbitrary(n: int) -> None:
    # Prepare
    perm = RangePermutation(n, KEYS)

    # Execute
    image = perm.apply(np.arange(n))

    # Assert
    assert np.array_equal(np.sort(image), np.arange(n))


def test_range_permutation_depends_on_key_if_keys_differ() -> None:
    # Prepare
    a = RangePermutation(10_000, KEYS)
    b = RangePermutation(10_000, KEYS + np.uint64(1))

    # Execute
    same = (a.apply(np.arange(10_000)) == b.apply(np.arange(10_000))).mean()

    # Assert
    assert same < 0.01


def test_decimal_feistel_is_injective_and_eight_digit_if_many_inputs() -> None:
    # Prepare
    perm = DecimalFeistel(KEYS)
    inputs = np.random.default_rng(0).choice(10**8, size=500_000, replace=False)

    # Execute
    image = perm.apply(inputs)

    # Assert
    assert image.min() >= 0 and image.max() < 10**8
    assert np.unique(image).size == inputs.size
