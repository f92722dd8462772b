"""Keys and data for the SecureBoost protocol tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from protocol.crypto import parallel
from protocol.crypto.paillier_keys import (
    PaillierPrivateKey,
    PaillierPublicKey,
    generate_keypair,
)

DATA = Path(__file__).resolve().parents[4] / "data" / "fate"

# 1024 bits keeps these tests fast (test-only flag); one test uses the 2048 default.
TEST_KEY_BITS = 1024


@pytest.fixture(scope="session")
def keypair() -> tuple[PaillierPublicKey, PaillierPrivateKey]:
    return generate_keypair(TEST_KEY_BITS, allow_insecure_test_key=True)


@pytest.fixture(scope="session", autouse=True)
def _stop_crypto_pools():
    yield
    parallel.shutdown()


@pytest.fixture(scope="session")
def credit() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """600 rows of default_credit (bank = guest, operator = host), with missing values
    planted in one feature of each party."""
    guest = pd.read_csv(DATA / "default_credit_hetero_guest.csv.gz", nrows=600)
    host = pd.read_csv(DATA / "default_credit_hetero_host.csv.gz", nrows=600)
    joined = guest.merge(host, on="id", suffixes=("", "_host"))
    bank = joined[[c for c in guest.columns if c not in ("id", "y")]].to_numpy()
    operator = joined[
        [c + "_host" if c in guest.columns else c for c in host.columns if c != "id"]
    ].to_numpy()
    bank[::7, 2] = np.nan
    operator[::5, 0] = np.nan
    return bank, operator, joined["y"].to_numpy()


@pytest.fixture(scope="session")
def vehicle() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    guest = pd.read_csv(DATA / "vehicle_scale_hetero_guest.csv")
    host = pd.read_csv(DATA / "vehicle_scale_hetero_host.csv")
    joined = guest.merge(host, on="id", suffixes=("", "_host"))
    bank = joined[[c for c in guest.columns if c not in ("id", "y")]].to_numpy()
    operator = joined[[c + "_host" for c in host.columns if c != "id"]].to_numpy()
    return bank, operator, joined["y"].to_numpy()
