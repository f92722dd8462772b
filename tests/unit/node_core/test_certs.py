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
    cert = x509.load_pem_x509_certificate(issued["bank-a"].cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == ["bank-a"]
    for path in (issued["bank-a"].key, issued["operator"].key, tmp_path / "ca.key"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_init_dev_pki_refuses_if_pki_exists(tmp_path: Path) -> None:
    # Prepare
    init_dev_pki(tmp_path, ["operator"])
    # Execute / Assert
    with pytest.raises(FileExistsError, match="pass --force"):
        init_dev_pki(tmp_path, ["operator"])
