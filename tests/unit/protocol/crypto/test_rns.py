"""Exact RNS arithmetic: integers <-> residues, limbs, CRT, constant of an NTT form."""

from __future__ import annotations

import numpy as np
import pytest

from protocol.crypto.ckks import PRECISE, CkksContext
from protocol.crypto.rns import (
    RnsBasis,
    ints_of_limbs,
    random_limbs,
    shift_limbs,
)


@pytest.fixture(scope="module")
def basis() -> RnsBasis:
    # PRECISE's first data level: primes of 60, 49 and 49 bits
    context = CkksContext.create(PRECISE, galois_keys=False).tenseal_context
    parms = context.seal_context().data.first_context_data().parms()
    primes = tuple(int(m.value()) for m in parms.coeff_modulus())
    return RnsBasis(primes, PRECISE.poly_modulus_degree)


def test_residues_of_limbs_match_python_ints_if_values_span_157_bits(basis: RnsBasis):
    # Prepare
    limbs = random_limbs(157, 1000)
    values = ints_of_limbs(limbs, -(1 << 156))

    # Execute
    residues = basis.residues_of_limbs(limbs, -(1 << 156))

    # Assert
    assert (residues == basis.residues_of_ints(values)).all()
    assert max(values).bit_length() == 156


def test_ints_round_trip_centered_if_values_are_within_half_q(basis: RnsBasis):
    # Prepare: extremes, small values of both signs, random 156-bit values
    rng_values = ints_of_limbs(random_limbs(157, 500), -(1 << 156))
    values = [0, 1, -1, 2**64, -(2**64) - 1, 1 << 156, -(1 << 156), *rng_values]

    # Execute
    back = basis.ints(basis.residues_of_ints(values))

    # Assert
    assert back == values


def test_constant_of_ntt_is_the_constant_coefficient_if_sum_trick_holds(
    basis: RnsBasis,
):
    # Prepare: NTT values are evaluations at the N roots of X^N + 1; for the
    # constant polynomial c they are all c, so the sum is N c
    constant = -(3**90)
    residues = basis.residues_of_ints([constant] * basis.degree)

    # Execute / Assert
    assert basis.constant_of_ntt(residues) == constant


def test_shift_limbs_is_floor_division_if_shift_crosses_limbs():
    # Prepare
    limbs = random_limbs(157, 200)
    values = ints_of_limbs(limbs)

    # Execute / Assert
    for bits in (0, 5, 32, 40, 64, 100):
        assert ints_of_limbs(shift_limbs(limbs, bits)) == [v >> bits for v in values]


def test_uniform_residues_are_reduced_if_sampled_by_rejection(basis: RnsBasis):
    # Execute
    residues = basis.uniform_residues(4096)

    # Assert: below each prime, and not degenerate
    primes = np.array(basis.primes, dtype=np.uint64)[:, None]
    assert (residues < primes).all()
    assert len(np.unique(residues[0])) == 4096


def test_basis_refuses_if_a_prime_exceeds_61_bits():
    with pytest.raises(ValueError, match="RNS primes must be below 2"):
        RnsBasis(((1 << 62) + 1,), 8)
