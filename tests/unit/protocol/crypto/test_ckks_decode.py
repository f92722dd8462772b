"""Double-double slot decoding: agreement with float64, precision, reduction mod P."""

from __future__ import annotations

import math

import numpy as np

from protocol.crypto.ckks_decode import (
    _roots,
    dd_add,
    dd_mod,
    dd_mul,
    dd_of_limbs,
    decode,
)

N = 8192


def test_decode_matches_a_float64_reference_if_coefficients_are_small():
    # Prepare: evaluate m at zeta^(3^j) directly (SEAL's slot order)
    rng = np.random.default_rng(0)
    c = rng.normal(size=N)
    g = np.array([pow(3, j, 2 * N) for j in range(8)])
    powers = np.outer(g, np.arange(N)) % (2 * N)  # exact exponents of zeta
    reference = (np.exp(1j * np.pi * powers / N) * c).sum(axis=1)

    # Execute
    hi, lo = decode((c, np.zeros(N)), N)

    # Assert
    got = (hi[0][:8] + lo[0][:8]) + 1j * (hi[1][:8] + lo[1][:8])
    assert np.abs(got - reference).max() < 1e-9


def test_roots_are_exact_to_double_double_if_checked_on_the_unit_circle():
    # Execute
    cos, sin = _roots(N)

    # Assert: cos^2 + sin^2 = 1 to ~2^-104, and the high parts match float64
    norm = dd_add(dd_mul(cos, cos), dd_mul(sin, sin))
    assert np.abs((norm[0] - 1.0) + norm[1]).max() < 2.0**-100
    k = np.arange(0, N, 97)
    assert np.abs(cos[0][k] - np.cos(np.pi * k / N)).max() < 2.0**-50
    assert np.abs(cos[1]).max() <= 2.0**-53


def test_dd_mod_reduces_exactly_if_values_are_huge():
    # Prepare: 2^70 + 0.25 (hi) + 2^-30 (lo), period 40
    hi = np.array([2.0**70 + 2.0**20 * 40, -(2.0**70)])
    lo = np.array([0.25, -(2.0**-30)])

    # Execute
    reduced = dd_mod((hi, lo), 40.0)

    # Assert: computed exactly
    expected = [(2**70 % 40 + 0.25) % 40, (-(2**70) % 40 - 2.0**-30) % 40]
    assert np.abs(reduced - expected).max() < 1e-12
    assert math.isclose(reduced[0], (2**70 + 2**20 * 40) % 40 + 0.25)


def test_dd_of_limbs_keeps_small_values_exact_if_stored_with_a_large_offset():
    # Prepare: centered values stored as x + 2^160 (as the exact CRT returns them)
    rng = np.random.default_rng(3)
    wide = [
        int(rng.integers(1, 2**62)) << 88 | int(rng.integers(1, 2**62)) for _ in "ab"
    ]
    values = [-5, 3, -(2**100) - 1, 2**120 + 7, 0, wide[0], -wide[1]]
    lift = 1 << 160
    limbs = np.array(
        [[((v + lift) >> (32 * i)) & 0xFFFFFFFF for v in values] for i in range(7)],
        dtype=np.uint64,
    )

    # Execute
    hi, lo = dd_of_limbs(limbs, -lift, 0)

    # Assert: each value to double-double precision, not to 2^(160 - 106)
    for v, h, low in zip(values, hi.tolist(), lo.tolist(), strict=True):
        assert abs((int(h) - v) + low) <= abs(v) * 2.0**-104
