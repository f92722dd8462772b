"""The split-NN FAB: deterministic, code-free, and pinned by its SHA-256."""

from __future__ import annotations

import io
import zipfile

from flwr.cli.config_utils import get_fab_config
from flwr.supercore.fab import Fab

from protocol.split_nn.fab import PINNED_FAB_SHA256, build_fab, fab_sha256
from protocol.split_nn.records import run_to_config
from protocol.split_nn.runner import fab_refusal
from tests.unit.protocol.split_nn.test_party import _run


def test_fab_digest_equals_the_pinned_digest_if_built() -> None:
    # Execute
    digest = fab_sha256()

    # Assert: a change to the bundle must be a visible change of the pin
    assert digest == PINNED_FAB_SHA256


def test_fab_carries_no_code_if_built() -> None:
    # Execute
    names = zipfile.ZipFile(io.BytesIO(build_fab())).namelist()

    # Assert
    assert sorted(names) == [".info/CONTENT", "pyproject.toml"]


def test_fab_declares_every_run_config_key_if_built() -> None:
    # Execute
    config = get_fab_config(build_fab())["tool"]["flwr"]["app"]

    # Assert
    assert set(config["config"]) == set(run_to_config(_run()))
    assert config["components"] == {
        "serverapp": "protocol.split_nn.server_app:app",
        "clientapp": "protocol.split_nn.client_app:app",
    }


def test_runner_refuses_a_fab_if_not_pinned_or_not_matching_its_hash() -> None:
    # Prepare
    fab = build_fab()
    other = fab + b"\0"

    # Execute / Assert
    assert fab_refusal(Fab(fab_sha256(fab), fab, {}), {PINNED_FAB_SHA256}) is None
    refusal = fab_refusal(Fab(fab_sha256(other), other, {}), {PINNED_FAB_SHA256})
    assert refusal is not None and refusal.startswith("app not trusted: FAB sha256")
    forged = fab_refusal(Fab(PINNED_FAB_SHA256, other, {}), {PINNED_FAB_SHA256})
    assert forged is not None and "does not match its declared hash" in forged
