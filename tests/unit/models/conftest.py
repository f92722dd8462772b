"""Shared inputs for the models tests: real scores from a small model on FATE data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

DATA_DIR = Path(__file__).resolve().parents[3] / "data" / "fate"


@pytest.fixture(scope="session")
def default_credit() -> pd.DataFrame:
    """Guest and host halves of default_credit joined on ``id`` (30k rows)."""
    guest = pd.read_csv(DATA_DIR / "default_credit_hetero_guest.csv.gz")
    host = pd.read_csv(DATA_DIR / "default_credit_hetero_host.csv.gz")
    return guest.merge(host, on="id", suffixes=("_bank", "_operator"))


@pytest.fixture(scope="session")
def breast_scores() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(y_train, p_train, y_valid, p_valid) of a logistic regression on breast guest."""
    guest = pd.read_csv(DATA_DIR / "breast_hetero_guest.csv")
    features = guest.drop(columns=["id", "y"]).to_numpy()
    labels = guest["y"].to_numpy()
    train = np.arange(labels.size) % 3 != 0
    model = LogisticRegression(max_iter=1000).fit(features[train], labels[train])
    probability = model.predict_proba(features)[:, 1]
    return labels[train], probability[train], labels[~train], probability[~train]
