"""Test helpers: a development PKI with good and bad certificates, node configs, and
in-process nodes served on port 0."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from node_core.certs import IssuedCert, create_ca, issue_party_cert
from node_core.config import NodeConfig, load_config
from node_core.node import NodeContext, serve


@dataclass(frozen=True)
class Pki:
    root: Path
    ca: IssuedCert
    certs: dict[str, IssuedCert]  # good certs by party id
    expired_bank: IssuedCert  # bank-a, expired yesterday
    rogue_ca: IssuedCert  # another CA
    rogue_bank: IssuedCert  # bank-a signed by the rogue CA
    bank_b_ca: IssuedCert  # a second bank's own CA, trusted for bank-b only
    bank_b_own: IssuedCert  # bank-b issued by bank_b_ca
    cross_bank_a: IssuedCert  # "bank-a" issued by bank_b_ca
    cross_operator: IssuedCert  # "operator" issued by bank_b_ca
    cn_only_bank_a: IssuedCert  # SAN evil.example, CN bank-a, by the main CA
    no_san_bank_a: IssuedCert  # no SAN at all, CN bank-a, by the main CA


def make_pki(
    root: Path, parties: tuple[str, ...] = ("operator", "bank-a", "bank-b")
) -> Pki:
    ca = create_ca(root / "ca")
    certs = {p: issue_party_cert(ca, p, root / "ca") for p in parties}
    now = dt.datetime.now(dt.UTC)
    expired = issue_party_cert(
        ca,
        "bank-a",
        root / "expired",
        not_before=now - dt.timedelta(days=30),
        not_after=now - dt.timedelta(days=1),
    )
    rogue_ca = create_ca(root / "rogue", name="rogue-ca")
    rogue_bank = issue_party_cert(rogue_ca, "bank-a", root / "rogue")
    other = root / "bank-b-ca"
    bank_b_ca = create_ca(other, name="bank-b dev CA")
    return Pki(
        root, ca, certs, expired, rogue_ca, rogue_bank,
        bank_b_ca=bank_b_ca,
        bank_b_own=issue_party_cert(bank_b_ca, "bank-b", other),
        cross_bank_a=issue_party_cert(bank_b_ca, "bank-a", other),
        cross_operator=issue_party_cert(bank_b_ca, "operator", other),
        cn_only_bank_a=issue_party_cert(
            ca, "bank-a", root / "names", file_stem="cn-only",
            dns_names=("evil.example",),
        ),
        no_san_bank_a=issue_party_cert(
            ca, "bank-a", root / "names", file_stem="no-san", dns_names=()
        ),
    )  # fmt: skip


def write_config(
    path: Path,
    pki: Pki,
    party_id: str,
    role: str,
    counterparts: list[dict[str, Any]],
    **extra: Any,
) -> NodeConfig:
    cert = pki.certs[party_id]
    doc: dict[str, Any] = {
        "party_id": party_id,
        "role": role,
        "listen": "127.0.0.1:0",
        "state_dir": str(path.parent / f"state-{party_id}"),
        "tls": {"ca": str(pki.ca.cert), "cert": str(cert.cert), "key": str(cert.key)},
        "counterparts": counterparts,
    }
    for key, value in extra.items():
        doc[key] = value
    path.write_text(tomli_w.dumps(doc))
    return load_config(path)


@dataclass
class RunningNode:
    ctx: NodeContext
    address: str
    stop: threading.Event
    thread: threading.Thread


@contextmanager
def running_node(
    config: NodeConfig, role_services=lambda ctx, d: []
) -> Iterator[RunningNode]:
    """Serve a node in a background thread on port 0; stop it on exit."""
    ctx = NodeContext.open(config)
    ready, stop = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=serve, args=(ctx, role_services, ready, stop), daemon=True
    )
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("node did not start")
    runtime = json.loads((config.state_dir / "node.json").read_text())
    try:
        yield RunningNode(ctx, runtime["address"], stop, thread)
    finally:
        stop.set()
        thread.join(60)
        ctx.store.close()
