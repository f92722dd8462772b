"""Development PKI: identities, key file modes, no silent overwrite."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509

from node_core.certs import init_dev_pki


def test_init_dev_pki_issues_party_identity_and_private_keys_if_new(
    tmp_path: Path,
) -> None:
    # Execute
    issued = init_dev_pki(tmp_path, ["operator", "bank-a"])
    # Assert
    cert = x509.load_pem_x509_certificate(issued["bank-a"].party.cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == ["bank-a"]
    keys = [issued[p].party.key for p in issued] + [issued[p].ca.key for p in issued]
    for path in keys:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_init_dev_pki_gives_each_party_its_own_ca_if_new(tmp_path: Path) -> None:
    # Execute
    issued = init_dev_pki(tmp_path, ["operator", "bank-a"])
    # Assert: bank-a's certificate verifies under bank-a's CA only.
    cert = x509.load_pem_x509_certificate(issued["bank-a"].party.cert.read_bytes())
    own, other = (
        x509.load_pem_x509_certificate(issued[p].ca.cert.read_bytes())
        for p in ("bank-a", "operator")
    )
    cert.verify_directly_issued_by(own)
    with pytest.raises(ValueError):
        cert.verify_directly_issued_by(other)
    assert issued["bank-a"].ca.cert == tmp_path / "bank-a-ca.pem"


def test_init_dev_pki_refuses_if_pki_exists(tmp_path: Path) -> None:
    # Prepare
    init_dev_pki(tmp_path, ["operator"])
    # Execute / Assert
    with pytest.raises(FileExistsError, match="pass --force"):
        init_dev_pki(tmp_path, ["operator"])
