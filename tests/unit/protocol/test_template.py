"""Every protocol has the same shape: a subpackage of protocol/ with messages.py,
serde.py (the only module reading or building its _pb2 messages) and service.py (its
declaration, servicer and client), a docstring saying what each party learns, and a
declaration that version.py and the transport assemble."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from google.protobuf import descriptor_pool

from protocol import transport, version
from protocol.domain import ProtocolDeclaration

ROOT = Path(__file__).resolve().parents[3] / "protocol"
LIBRARIES = {"crypto", "proto"}  # subpackages that are not protocols
PACKAGES = sorted(
    p.name
    for p in ROOT.iterdir()
    if (p / "__init__.py").exists() and p.name not in LIBRARIES
)
_PB2_IMPORT = re.compile(r"import .*\b\w+_pb2\b(?!_grpc)|\w+_pb2 as \w+")


def test_protocol_packages_are_exactly_the_declared_protocols() -> None:
    # Execute
    declared = {
        importlib.import_module(f"protocol.{name}.service").PROTOCOL
        for name in PACKAGES
    }
    # Assert
    assert declared == set(version.PROTOCOLS)
    assert len({p.capability for p in version.PROTOCOLS}) == len(version.PROTOCOLS)


@pytest.mark.parametrize("name", PACKAGES)
def test_protocol_package_has_the_template_files(name: str) -> None:
    # Prepare
    package = ROOT / name
    # Execute
    files = {p.name for p in package.glob("*.py")}
    docstring = importlib.import_module(f"protocol.{name}").__doc__ or ""
    # Assert
    assert {"__init__.py", "messages.py", "serde.py", "service.py"} <= files
    assert "What each party learns" in docstring


@pytest.mark.parametrize("name", PACKAGES)
def test_only_serde_touches_the_protocols_pb2_messages(name: str) -> None:
    # Execute
    touching = sorted(
        p.name for p in (ROOT / name).glob("*.py") if _PB2_IMPORT.search(p.read_text())
    )
    # Assert
    assert touching == ["serde.py"]


@pytest.mark.parametrize("protocol", version.PROTOCOLS, ids=lambda p: p.capability)
def test_declared_service_and_idempotent_methods_exist_in_the_proto(
    protocol: ProtocolDeclaration,
) -> None:
    # Execute
    service = descriptor_pool.Default().FindServiceByName(protocol.service)
    # Assert
    assert set(protocol.idempotent) <= set(service.methods_by_name)


def test_transport_retries_exactly_the_declared_idempotent_methods() -> None:
    # Prepare
    declared = {p.service: p.idempotent for p in version.PROTOCOLS if p.idempotent}
    # Execute
    retried = dict(transport.IDEMPOTENT_METHODS)
    # Assert
    assert retried.pop("grpc.health.v1.Health") == ("Check",)
    assert retried == declared
    assert set(version.CAPABILITIES) == {p.capability for p in version.PROTOCOLS}
