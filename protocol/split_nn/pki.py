"""Flower's keys and certificates, derived from the nodes' PKI (ECDSA P-256).

- The bank's SuperLink serves TLS with a certificate from the bank's PKI that names the
  bank's identity (DNS SAN, as every node certificate) *and* the address the SuperNode
  dials (Flower's HTTP client checks the host name or IP against the certificate).
  :func:`issue_superlink_cert` issues one from the development CA.
- The operator's SuperNode authenticates with its own PKI key: Flower signs every
  Fleet request with an EC key read in OpenSSH format (:func:`write_openssh_key`), and
  the bank registers the public key of the operator's certificate
  (:func:`public_key_pem`) with its SuperLink before the run.
- Before its SuperNode dials, the operator checks that the SuperLink presents a
  certificate from the configured CA carrying the configured bank identity
  (:func:`check_superlink`); the SuperNode then verifies the chain and address itself.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from node_core.certs import IssuedCert
from protocol.errors import PermissionDenied


class SuperLinkRefused(PermissionDenied):
    """The SuperLink is not the one the operator is configured for."""


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


def _san_entry(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def issue_superlink_cert(
    ca: IssuedCert, party_id: str, hosts: list[str], directory: Path, days: int = 30
) -> IssuedCert:
    """``<party>-superlink.pem/.key``: SAN = party id + every host it listens on."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    ca_key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{ca.key}: the development CA key must be ECDSA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    names = [x509.DNSName(party_id)] + [_san_entry(h) for h in hosts]
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(
                        x509.NameOID.ORGANIZATION_NAME, "duet development PKI"
                    ),
                    x509.NameAttribute(x509.NameOID.COMMON_NAME, party_id),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    issued = IssuedCert(
        directory / f"{party_id}-superlink.pem", directory / f"{party_id}-superlink.key"
    )
    issued.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(
        issued.key,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    return issued


def public_key_pem(cert_path: Path) -> bytes:
    """The certificate's EC public key as PEM SubjectPublicKeyInfo (Flower's format)."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError(f"{cert_path}: SuperNode authentication needs an EC key")
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_openssh_key(key_path: Path, out: Path) -> Path:
    """Rewrite the node's PEM (PKCS#8) EC key in OpenSSH format, mode 0600."""
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{key_path}: SuperNode authentication needs an EC key")
    _write_private(
        out,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ),
    )
    return out


def certificate_identities(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return list(san.value.get_values_for_type(x509.DNSName))


def check_superlink(
    host: str, port: int, ca: Path, identity: str, timeout_s: float = 10.0
) -> None:
    """Refuse a SuperLink whose certificate is not from ``ca`` and for ``identity``."""
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False  # the identity is checked below, by name
    try:
        with (
            socket.create_connection((host, port), timeout=timeout_s) as raw,
            context.wrap_socket(raw) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError as err:
        raise SuperLinkRefused(
            f"the SuperLink at {host}:{port} presents a certificate the configured CA"
            f" did not issue ({err.verify_message})"
        ) from None
    except OSError as err:
        raise SuperLinkRefused(
            f"the SuperLink at {host}:{port} is not reachable over TLS: {err}"
        ) from None
    if der is None:
        raise SuperLinkRefused(f"the SuperLink at {host}:{port} sent no certificate")
    names = certificate_identities(x509.load_der_x509_certificate(der))
    if identity not in names:
        raise SuperLinkRefused(
            f"the SuperLink at {host}:{port} identifies as"
            f" {', '.join(names) or 'nobody'},"
            f" not the configured counterpart {identity}"
        )
