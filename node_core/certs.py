"""Development PKI for loopback use: one CA per party, as each institution has its own.

`init_dev_pki` gives every party its own CA (`<party>-ca.pem`) and a certificate
(`<party>.pem`) issued by it, so each node's config pins every counterpart to that
counterpart's CA (`counterparts[].ca`), exactly as with the institutions' real PKIs. A
party certificate names the party id as its DNS subject alternative name (the identity
the peer checks; the common name is informative only), carries both serverAuth and
clientAuth (every node is a TLS server and a client), and uses ECDSA P-256. Private
keys are written with mode 0600 and never overwritten silently. Production deployments
use the institutions' own PKI instead (see README, "Certificates").
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class IssuedCert:
    cert: Path
    key: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.chmod(path, 0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "duet development PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def create_ca(
    directory: Path, name: str = "duet-dev-ca", days: int = 3650, stem: str = "ca"
) -> IssuedCert:
    """Create a self-signed development CA (<stem>.pem, <stem>.key) in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
        .sign(key, hashes.SHA256())
    )
    issued = IssuedCert(directory / f"{stem}.pem", directory / f"{stem}.key")
    _write_cert(issued.cert, cert)
    _write_key(issued.key, key)
    return issued


def issue_party_cert(
    ca: IssuedCert,
    party_id: str,
    directory: Path,
    *,
    days: int = 825,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    file_stem: str | None = None,
    dns_names: tuple[str, ...] | None = None,
    common_name: str | None = None,
) -> IssuedCert:
    """Issue `<party_id>.pem` / `.key` signed by `ca`: DNS SAN and CN = party id unless
    `dns_names` / `common_name` say otherwise (tests: validity, names; an empty
    `dns_names` issues a certificate without a SAN)."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    ca_key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    start = not_before or now - dt.timedelta(minutes=5)
    end = not_after or now + dt.timedelta(days=days)
    names = (party_id,) if dns_names is None else dns_names
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name or party_id))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    stem = file_stem or party_id
    directory.mkdir(parents=True, exist_ok=True)
    issued = IssuedCert(directory / f"{stem}.pem", directory / f"{stem}.key")
    _write_cert(issued.cert, cert)
    _write_key(issued.key, key)
    return issued


@dataclass(frozen=True)
class PartyPki:
    """One party's development CA and the certificate it issued to the party."""

    ca: IssuedCert
    party: IssuedCert


def ca_stem(party_id: str) -> str:
    return f"{party_id}-ca"


def init_dev_pki(
    directory: Path, parties: list[str], force: bool = False
) -> dict[str, PartyPki]:
    """Create, per party, a CA and a certificate it issues; never overwrites unless
    forced."""
    if not force:
        for party in parties:
            for stem in (ca_stem(party), party):
                if (directory / f"{stem}.pem").exists():
                    raise FileExistsError(
                        f"{directory / (stem + '.pem')} exists; pass --force to replace"
                        " the dev PKI"
                    )
    issued = {}
    for party in parties:
        ca = create_ca(directory, name=f"{party} dev CA", stem=ca_stem(party))
        issued[party] = PartyPki(ca, issue_party_cert(ca, party, directory))
    return issued
