"""Small generated worlds shared by the world-generator tests (built once per run)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from scripts.world.world import WorldArgs, generate_world

# Big enough for ~280 defaults in the AUC report, small enough for a few seconds.
REPORT_WORLD = WorldArgs(subscribers=60_000, seed=7, banks="bank-a,bank-b", workers=2)
DIRTY_WORLD = WorldArgs(
    subscribers=12_000, seed=11, banks="bank-a,bank-b", dirty=True, report=False,
    block_size=6_000, workers=2,
)  # fmt: skip


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world") / "world"
    generate_world(REPORT_WORLD, out)
    return out


@pytest.fixture(scope="session")
def dirty_world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dirty") / "world"
    generate_world(DIRTY_WORLD, out)
    return out


@pytest.fixture(scope="session")
def subscribers(world_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(world_dir / "operator" / "subscribers.parquet")


@pytest.fixture(scope="session")
def customers(world_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(world_dir / "banks" / "bank-a" / "customers.parquet")
