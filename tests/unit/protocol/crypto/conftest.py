"""Session-scoped Paillier keys and CKKS contexts for the crypto tests."""

from __future__ import annotations

import pytest

from protocol.crypto import parallel
from protocol.crypto.ckks import FAST, CkksContext
from protocol.crypto.paillier_keys import (
    PaillierPrivateKey,
    PaillierPublicKey,
    generate_keypair,
)

# 1024 bits keeps the unit tests fast; one test module uses the 2048-bit default.
TEST_KEY_BITS = 1024


@pytest.fixture(scope="session")
def keypair() -> tuple[PaillierPublicKey, PaillierPrivateKey]:
    return generate_keypair(TEST_KEY_BITS, allow_insecure_test_key=True)


@pytest.fixture(scope="session")
def public_key(
    keypair: tuple[PaillierPublicKey, PaillierPrivateKey],
) -> PaillierPublicKey:
    return keypair[0]


@pytest.fixture(scope="session")
def private_key(
    keypair: tuple[PaillierPublicKey, PaillierPrivateKey],
) -> PaillierPrivateKey:
    return keypair[1]


@pytest.fixture(scope="session")
def other_keypair() -> tuple[PaillierPublicKey, PaillierPrivateKey]:
    return generate_keypair(TEST_KEY_BITS, allow_insecure_test_key=True)


@pytest.fixture(scope="session")
def default_keypair() -> tuple[PaillierPublicKey, PaillierPrivateKey]:
    return generate_keypair()


@pytest.fixture(scope="session")
def ckks_owner() -> CkksContext:
    return CkksContext.create(FAST)


@pytest.fixture(scope="session")
def ckks_peer(ckks_owner: CkksContext) -> CkksContext:
    # What the peer holds: the context as sent over the wire, without the secret key.
    return CkksContext.from_bytes(ckks_owner.public_bytes())


@pytest.fixture(scope="session", autouse=True)
def _stop_crypto_pools():
    yield
    parallel.shutdown()
