"""Session-wide fixtures: one development PKI for all transport tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import Pki, make_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(Path(tmp_path_factory.mktemp("pki")))
