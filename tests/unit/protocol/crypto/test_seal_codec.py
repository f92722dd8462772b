"""SEAL's serialization format read and written in numpy."""

from __future__ import annotations

import numpy as np
import pytest
import tenseal.sealapi as sealapi

from protocol.crypto.ckks import PRECISE, CkksContext
from protocol.crypto.seal_codec import CiphertextData, load_ciphertext, save_bytes


@pytest.fixture(scope="module")
def context() -> CkksContext:
    return CkksContext.create(PRECISE, galois_keys=False)


def decrypt(context: CkksContext, ciphertext) -> np.ndarray:
    seal = context.tenseal_context.seal_context().data
    plain = sealapi.Plaintext()
    secret = context.tenseal_context.secret_key().data
    sealapi.Decryptor(seal, secret).decrypt(ciphertext, plain)
    return np.array(sealapi.CKKSEncoder(seal).decode_double(plain))


def test_ciphertext_round_trips_if_parsed_and_crafted_uncompressed(
    context: CkksContext,
):
    # Prepare: a ciphertext as SEAL saves it (zstd)
    seal = context.tenseal_context.seal_context().data
    vector = context.encrypt(np.arange(8.0))
    original = load_ciphertext(seal, _seal_blob(vector.chunks[0].serialize()))

    # Execute
    parsed = CiphertextData.from_bytes(save_bytes(original))
    crafted = load_ciphertext(seal, parsed.to_bytes())

    # Assert
    assert parsed.data.shape == (2, 3, PRECISE.poly_modulus_degree)
    assert parsed.is_ntt_form and parsed.scale == 2.0**PRECISE.scale_bits
    assert np.abs(decrypt(context, crafted)[:8] - np.arange(8.0)).max() < 1e-6


def _seal_blob(tenseal_bytes: bytes) -> bytes:
    from protocol.crypto.ckks_seal import _CIPHERTEXT_FIELD, _fields

    return next(v for n, _, v in _fields(tenseal_bytes) if n == _CIPHERTEXT_FIELD)


def test_parse_refuses_if_the_magic_is_wrong():
    with pytest.raises(ValueError, match="not a SEAL 4 object"):
        CiphertextData.from_bytes(b"\0" * 64)


def test_parse_refuses_if_the_object_is_truncated(context: CkksContext):
    # Prepare
    blob = _seal_blob(context.encrypt([1.0]).chunks[0].serialize())

    # Execute / Assert
    with pytest.raises(ValueError, match="not a SEAL 4 object"):
        CiphertextData.from_bytes(blob[:-10])


def test_load_refuses_if_a_coefficient_exceeds_its_prime(context: CkksContext):
    # Prepare
    seal = context.tenseal_context.seal_context().data
    blob = _seal_blob(context.encrypt([1.0]).chunks[0].serialize())
    parsed = CiphertextData.from_bytes(blob)
    data = parsed.data.copy()
    data[0, 0, 0] = np.uint64(2**63)
    forged = CiphertextData(parsed.parms_id, True, parsed.scale, data)

    # Execute / Assert
    with pytest.raises(ValueError, match="not a valid SEAL ciphertext"):
        load_ciphertext(seal, forged.to_bytes())
