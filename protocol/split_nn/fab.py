"""The split-NN Flower App bundle (FAB): built deterministically, pinned by SHA-256.

The FAB carries no code: only ``pyproject.toml`` naming the installed ServerApp and
ClientApp and declaring every run-config key with a default. Both nodes run their own
installed apps and check the FAB of every run against the digest this version builds
(``PINNED_FAB_SHA256``, also asserted by a test, so any change to the bundle is a
visible change of the pin). Flower's own app verification (``--trusted-entities``)
only accepts FABs signed through Flower Hub, which an offline deployment cannot use.

    python -m protocol.split_nn.fab     # print the digest an operator pins
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from flwr.cli.build import build_fab_from_files

from models.label_protection import DefenceSpec
from models.split_nn import SplitNnSpec, TrainHyper
from protocol.split_nn.messages import SplitNnRun
from protocol.split_nn.records import run_to_config

APP_NAME = "duet-split-nn"
APP_VERSION = "1.0.0"
PUBLISHER = "duet"
FAB_ID = f"{PUBLISHER}/{APP_NAME}"
PINNED_FAB_SHA256 = "bd1af0db9d65ab349bb750cc4a3ffdfb0ab0d8449e3ca0172718000956b8a813"


def _toml_value(value: bool | int | float | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _defaults() -> dict[str, bool | int | float | str]:
    run = SplitNnRun(
        job_id="",
        spec=SplitNnSpec(bank_features=1, operator_features=1),
        hyper=TrainHyper(),
        defence=DefenceSpec(),
        seed=0,
        operator_node_id=0,
        bank_job_dir="",
        round_timeout_s=120.0,
    )
    return run_to_config(run)


def pyproject() -> bytes:
    config = "\n".join(f"{k} = {_toml_value(v)}" for k, v in _defaults().items())
    return f"""[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "{APP_NAME}"
version = "{APP_VERSION}"
description = "duet split neural network: bank top model, operator bottom model"
license = "Apache-2.0"
dependencies = []

[tool.flwr.app]
publisher = "{PUBLISHER}"

[tool.flwr.app.components]
serverapp = "protocol.split_nn.server_app:app"
clientapp = "protocol.split_nn.client_app:app"

[tool.flwr.app.config]
{config}
""".encode()


@lru_cache(maxsize=1)
def build_fab() -> bytes:
    fab, _ = build_fab_from_files({"pyproject.toml": pyproject()})
    return fab


def fab_sha256(fab: bytes | None = None) -> str:
    return hashlib.sha256(build_fab() if fab is None else fab).hexdigest()


if __name__ == "__main__":
    print(fab_sha256())
