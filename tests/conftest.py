"""Session-wide fixtures: one development PKI for all transport tests; tests marked
`extended` (several minutes each) run only with --extended."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodes import Pki, make_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(Path(tmp_path_factory.mktemp("pki")))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--extended",
        action="store_true",
        help="also run the tests marked extended (several minutes each)",
    )


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    if config.getoption("--extended"):
        return
    skip = pytest.mark.skip(reason="extended: several minutes; run with --extended")
    for item in items:
        if "extended" in item.keywords:
            item.add_marker(skip)
