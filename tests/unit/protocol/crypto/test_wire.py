"""Wire forms of Paillier keys and ciphertext vectors: round trips and rejections."""

from __future__ import annotations

import struct

import pytest

from protocol.crypto import paillier as he
from protocol.crypto.fixedpoint import PackingSpec
from protocol.crypto.paillier_keys import PaillierPrivateKey, PaillierPublicKey
from protocol.crypto.wire import (
    WireFormatError,
    private_key_from_bytes,
    private_key_to_bytes,
    public_key_from_bytes,
    public_key_to_bytes,
    vector_from_bytes,
    vector_to_bytes,
)


def test_vector_round_trips_every_field_if_packed(
    public_key: PaillierPublicKey, private_key: PaillierPrivateKey
):
    # Prepare
    spec = PackingSpec(value_bits=12, n_slots=3, max_summands=16)
    vec = he.encrypt_packed(public_key, [1, -2, 3, -4, 5], spec, scale_bits=8)

    # Execute
    data = vector_to_bytes(vec)
    back = vector_from_bytes(data, public_key)

    # Assert
    assert len(data) == 72 + 2 * public_key.ciphertext_width
    assert back.encoding == vec.encoding
    assert back.ciphertexts == vec.ciphertexts
    assert he.decrypt_packed(private_key, back) == [1, -2, 3, -4, 5]


def test_vector_is_fixed_width_big_endian_if_inspected(public_key: PaillierPublicKey):
    # Prepare
    vec = he.encrypt_vector(public_key, [42])
    width = public_key.ciphertext_width

    # Execute
    data = vector_to_bytes(vec)

    # Assert
    assert data[:4] == b"DPCV"
    assert struct.unpack(">H", data[40:42])[0] == width
    assert int.from_bytes(data[72 : 72 + width], "big") == vec.ciphertexts[0]


def test_vector_to_bytes_raises_if_homomorphic_results_are_not_rerandomized(
    public_key: PaillierPublicKey,
):
    # Prepare
    summed = he.sum_all(he.encrypt_vector(public_key, [1, 2]))

    # Execute / Assert
    with pytest.raises(ValueError) as info:
        vector_to_bytes(summed)
    assert str(info.value) == (
        "the vector holds homomorphic results that were not re-randomized; call "
        "rerandomize() before it leaves this party"
    )
    assert vector_to_bytes(summed, allow_not_rerandomized=True)[:4] == b"DPCV"


def test_vector_from_bytes_raises_if_the_key_differs(
    public_key: PaillierPublicKey,
    other_keypair: tuple[PaillierPublicKey, PaillierPrivateKey],
):
    # Prepare
    data = vector_to_bytes(he.encrypt_vector(public_key, [1]))

    # Execute / Assert
    with pytest.raises(
        WireFormatError, match="^ciphertext vector is encrypted under a"
    ):
        vector_from_bytes(data, other_keypair[0])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d[:50], "^ciphertext vector is truncated$"),
        (lambda d: b"XXXX" + d[4:], "^not a Paillier ciphertext vector: bad magic"),
        (lambda d: d[:4] + b"\x02" + d[5:], "^unsupported Paillier ciphertext vector"),
        (lambda d: d[:-1], "^payload has"),
        (lambda d: d[:72] + b"\x00" * (len(d) - 72), "^ciphertext 0 is outside"),
    ],
)
def test_vector_from_bytes_raises_if_bytes_are_malformed(
    public_key: PaillierPublicKey, mutate, message: str
):
    # Prepare
    data = vector_to_bytes(he.encrypt_vector(public_key, [1]))

    # Execute / Assert
    with pytest.raises(WireFormatError, match=message):
        vector_from_bytes(mutate(data), public_key)


def test_public_key_round_trips_if_the_test_flag_allows_short_keys(
    public_key: PaillierPublicKey,
):
    # Execute
    back = public_key_from_bytes(
        public_key_to_bytes(public_key), allow_insecure_test_key=True
    )

    # Assert
    assert back == public_key
    assert back.fingerprint == public_key.fingerprint


def test_public_key_from_bytes_raises_if_short_without_the_test_flag(
    public_key: PaillierPublicKey,
):
    # Execute / Assert
    with pytest.raises(ValueError, match="^1024-bit Paillier keys are refused"):
        public_key_from_bytes(public_key_to_bytes(public_key))


def test_private_key_to_bytes_raises_if_the_secret_opt_in_is_missing(
    private_key: PaillierPrivateKey,
):
    # Execute / Assert
    with pytest.raises(ValueError) as info:
        private_key_to_bytes(private_key)
    assert str(info.value) == (
        "refusing to serialize a Paillier secret key without include_secret_key=True"
    )


def test_private_key_round_trips_if_the_secret_opt_in_is_given(
    private_key: PaillierPrivateKey,
):
    # Execute
    data = private_key_to_bytes(private_key, include_secret_key=True)
    back = private_key_from_bytes(data, allow_insecure_test_key=True)

    # Assert
    assert back == private_key
    assert back.public_key == private_key.public_key
