"""Fixed-point encoding and slot packing: bounds, signs, boundaries, overflow errors."""

from __future__ import annotations

import numpy as np
import pytest

from protocol.crypto.fixedpoint import (
    FixedPointCodec,
    PackingOverflowError,
    PackingSpec,
    decode_fixed_point,
)


def test_codec_round_trips_within_half_an_ulp_if_values_are_in_range():
    # Prepare
    codec = FixedPointCodec(scale_bits=24, value_bits=40)
    x = np.array([0.0, -0.0, 1.0, -1.0, 3.14159, -2.5e-7, 65535.99])

    # Execute
    decoded = codec.decode(codec.encode(x))

    # Assert
    assert np.all(np.abs(decoded - x) <= 2.0**-25)


def test_codec_encode_raises_naming_the_index_if_a_value_is_not_finite():
    # Prepare
    codec = FixedPointCodec(scale_bits=8)

    # Execute / Assert
    with pytest.raises(ValueError, match="^value at index 2 is not finite$"):
        codec.encode(np.array([1.0, 2.0, np.nan]))


def test_codec_encode_raises_naming_the_bound_if_a_value_overflows():
    # Prepare
    codec = FixedPointCodec(scale_bits=8, value_bits=12)

    # Execute / Assert
    with pytest.raises(OverflowError) as info:
        codec.encode(np.array([15.99, -16.0]))
    assert str(info.value) == (
        "value at index 1 exceeds the fixed-point bound 2**12 / 2**8"
    )


def test_decode_fixed_point_handles_python_ints_beyond_int64_if_given_objects():
    # Prepare
    ints = np.array([2**100, -(2**100)], dtype=object)

    # Execute
    decoded = decode_fixed_point(ints, 90)

    # Assert
    assert decoded.tolist() == [1024.0, -1024.0]


def test_packing_spec_derives_slot_width_from_value_bits_and_headroom_if_declared():
    # Prepare / Execute
    spec = PackingSpec(value_bits=20, n_slots=4, max_summands=1000)

    # Assert: 20 value bits + ceil(log2 1000) = 10 headroom bits + 1 sign bit
    assert spec.slot_bits == 31
    assert spec.slot_capacity == 2**30 - 1


def test_packing_for_key_fills_the_plaintext_if_asked_for_the_maximum():
    # Prepare / Execute
    spec = PackingSpec.for_key(2048, value_bits=40, max_summands=2**16)

    # Assert: 57-bit slots, (2048 - 3) // 57 = 35
    assert (spec.slot_bits, spec.n_slots) == (57, 35)


def test_packing_check_fits_raises_if_slots_exceed_the_key():
    # Prepare
    spec = PackingSpec(value_bits=62, n_slots=17, max_summands=2)

    # Execute / Assert
    with pytest.raises(ValueError) as info:
        spec.check_fits(1024)
    assert str(info.value) == (
        "packing needs 1088 bits (17 slots x 64 bits) but a 1024-bit key holds 1021"
    )


def test_pack_round_trips_extremes_and_zero_padding_if_values_are_at_the_bound():
    # Prepare
    spec = PackingSpec(value_bits=8, n_slots=3)
    values = [255, -255, 0, -1, 1]

    # Execute
    plaintexts = spec.pack(values)

    # Assert
    assert len(plaintexts) == 2
    assert spec.unpack(plaintexts, len(values)) == values


def test_pack_raises_naming_slot_and_bound_if_a_value_exceeds_it():
    # Prepare
    spec = PackingSpec(value_bits=8, n_slots=3)

    # Execute / Assert
    with pytest.raises(PackingOverflowError) as info:
        spec.pack([0, 1, 2, 3, -256])
    assert str(info.value) == (
        "value at index 4 (slot 1 of plaintext 1) exceeds the slot bound +-(2**8 - 1)"
    )


def test_unpacked_sums_are_exact_if_signed_values_are_added_within_headroom():
    # Prepare
    rng = np.random.default_rng(7)
    spec = PackingSpec(value_bits=10, n_slots=5, max_summands=64)
    rows = rng.integers(-1023, 1024, size=(64, 5))

    # Execute: adding packed plaintexts adds every slot (this is what ciphertexts do)
    total = sum(spec.pack(row)[0] for row in rows)

    # Assert
    assert spec.unpack([total], 5) == rows.sum(axis=0).tolist()


def test_unpack_raises_naming_the_top_slot_if_a_sum_overflowed_it():
    # Prepare
    spec = PackingSpec(value_bits=4, n_slots=2, max_summands=1)
    packed = spec.pack([0, 15])[0]

    # Execute / Assert: 15 + 15 + 15 does not fit the 5-bit top slot
    with pytest.raises(PackingOverflowError) as info:
        spec.unpack([3 * packed], 2)
    assert str(info.value) == (
        "plaintext 0 overflowed its top slot 1: a slot sum exceeded +-(2**4 - 1)"
    )
