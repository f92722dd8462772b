"""Which CA each counterpart is pinned to, read once when a node opens.

Every counterpart has its own trust anchor: `counterparts[].ca`, or else `tls.ca`. A
shared `tls.ca` is accepted only if it holds one certificate: with several CAs in one
bundle, any of them could issue a certificate naming any counterpart (the flaw of
trusting "the bundle"). From the anchors come the server's TLS trust store (their
union: the handshake admits every counterpart's CA, then protocol.auth.PeerDirectory
checks that the peer's own CA issued its certificate) and, per counterpart, the only
roots a client channel to it trusts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from node_core.config import ConfigError, NodeConfig
from protocol.auth import PeerTrust


@dataclass(frozen=True)
class Anchors:
    """Per counterpart: the pinned CA certificates (PEM) and its PeerTrust."""

    pem: dict[str, bytes]  # party id -> PEM bundle of its pinned CA certificates
    trust: dict[str, PeerTrust]  # DNS identity -> counterpart

    def server_bundle(self) -> bytes:
        """The union of all pinned CAs, each once (the server's TLS trust store)."""
        seen: dict[bytes, None] = {}
        for bundle in self.pem.values():
            for cert in x509.load_pem_x509_certificates(bundle):
                seen.setdefault(cert.public_bytes(Encoding.PEM), None)
        return b"".join(seen)


def _read(config: NodeConfig, key: str, path: Path) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
    except OSError:
        raise ConfigError(f"{config.source}: {key}: no file at {path}") from None
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ConfigError(
            f"{config.source}: {key}: {path} holds no PEM certificate"
        ) from None


def load_anchors(config: NodeConfig) -> Anchors:
    """Each counterpart's pinned CA certificates, or ConfigError naming the key."""
    pem: dict[str, bytes] = {}
    trust: dict[str, PeerTrust] = {}
    for i, cp in enumerate(config.counterparts):
        if cp.ca is not None:
            key, path = f"counterparts[{i}].ca", cp.ca
        else:
            assert config.tls.ca is not None  # the config check requires one of them
            key, path = "tls.ca", config.tls.ca
        certs = _read(config, key, path)
        if cp.ca is None and len(certs) > 1:
            raise ConfigError(
                f"{config.source}: counterparts[{i}].ca: missing: tls.ca holds"
                f" {len(certs)} certificates, and any of them could issue a"
                f" certificate naming {cp.party_id}; pin {cp.party_id} to the CA"
                " that issues its certificates"
            )
        pem[cp.party_id] = b"".join(c.public_bytes(Encoding.PEM) for c in certs)
        trust[cp.identity] = PeerTrust(cp.party_id, tuple(certs))
    return Anchors(pem, trust)
