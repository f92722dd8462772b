"""Each counterpart is pinned to its own CA; a bundle of several CAs is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from node_core.config import ConfigError
from node_core.node import NodeContext
from node_core.trust import load_anchors
from tests.nodes import Pki, write_config


def test_load_anchors_pins_each_counterpart_to_its_own_ca_if_configured(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare
    config = write_config(
        tmp_path / "operator.toml", pki, "operator", "operator",
        [{"party_id": "bank-a", "identity": "bank-a"},
         {"party_id": "bank-b", "identity": "bank-b", "ca": str(pki.bank_b_ca.cert)}],
    )  # fmt: skip
    # Execute
    anchors = load_anchors(config)
    # Assert
    assert anchors.pem["bank-a"] == pki.ca.cert.read_bytes()
    assert anchors.pem["bank-b"] == pki.bank_b_ca.cert.read_bytes()
    assert anchors.trust["bank-b"].party_id == "bank-b"
    server = x509.load_pem_x509_certificates(anchors.server_bundle())
    assert len(server) == 2


def test_node_open_refuses_shared_bundle_if_it_holds_several_cas(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: one tls.ca bundle with both banks' CAs, no per-counterpart pin.
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pki.ca.cert.read_bytes() + pki.bank_b_ca.cert.read_bytes())
    config = write_config(
        tmp_path / "operator.toml", pki, "operator", "operator",
        [{"party_id": "bank-a", "identity": "bank-a"}],
        tls={"ca": str(bundle), "cert": str(pki.certs["operator"].cert),
             "key": str(pki.certs["operator"].key)},
    )  # fmt: skip
    # Execute
    with pytest.raises(ConfigError) as info:
        NodeContext.open(config)
    # Assert
    assert str(info.value) == (
        f"{config.source}: counterparts[0].ca: missing: tls.ca holds 2 certificates,"
        " and any of them could issue a certificate naming bank-a; pin bank-a to the"
        " CA that issues its certificates"
    )


def test_node_open_raises_naming_key_if_pinned_ca_file_missing(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare
    absent = tmp_path / "absent.pem"
    config = write_config(
        tmp_path / "operator.toml", pki, "operator", "operator",
        [{"party_id": "bank-a", "identity": "bank-a", "ca": str(absent)}],
    )  # fmt: skip
    # Execute
    with pytest.raises(ConfigError) as info:
        NodeContext.open(config)
    # Assert
    assert str(info.value) == (
        f"{config.source}: counterparts[0].ca: no file at {absent}"
    )
