"""Real mutual-TLS servers on port 0: who is admitted, who is refused (no certificate,
another CA, expired, another party, another counterpart's CA, a common name without
the DNS name), and that the server keeps serving the good peer after every refusal."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from node_core.node import NodeContext
from protocol.diagnostics import service as diagnostics
from protocol.errors import PeerCallError
from protocol.session.messages import Hello
from protocol.session.service import handshake
from protocol.transport import TlsMaterial, TransportLimits, connect, health_check
from protocol.version import local_hello
from tests.nodes import Pki, RunningNode, running_node, write_config

LIMITS = TransportLimits(
    max_message_bytes=1 << 20, chunk_bytes=256 << 10, deadline_s=10
)


@pytest.fixture(scope="module")
def operator(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningNode]:
    root = Path(tmp_path_factory.mktemp("operator"))
    config = write_config(
        root / "operator.toml",
        pki,
        "operator",
        "operator",
        [
            {
                "party_id": "bank-a",
                "identity": "bank-a",
                "limits": {"max_transfer_mb": 8},
            }
        ],
        transport={"max_message_mb": 1, "chunk_kb": 256},
    )
    with running_node(config) as node:
        yield node


def tls_of(pki: Pki, party: str) -> TlsMaterial:
    cert = pki.certs[party]
    return TlsMaterial.from_files(pki.ca.cert, cert.cert, cert.key)


def bank_channel(pki: Pki, node: RunningNode, **limits: int) -> grpc.Channel:
    chosen = TransportLimits(**{**vars(LIMITS), **limits}) if limits else LIMITS
    return connect(node.address, "operator", tls_of(pki, "bank-a"), chosen)


def assert_good_peer_still_served(pki: Pki, node: RunningNode) -> None:
    with bank_channel(pki, node) as channel:
        reply = handshake(channel, local_hello("bank-a"), "operator", 10)
    assert reply.party_id == "operator"


def test_handshake_succeeds_if_peer_is_configured_counterpart(
    pki: Pki, operator: RunningNode
) -> None:
    # Prepare
    with bank_channel(pki, operator) as channel:
        # Execute
        reply = handshake(channel, local_hello("bank-a"), "operator", 10)
        status = health_check(channel, 10)
    # Assert
    assert reply.party_id == "operator"
    assert "session/hello/1" in reply.shared_capabilities
    assert status == "SERVING"
    actions = [e.action for e in operator.ctx.store.audit_entries()]
    assert "session.hello.received" in actions


def _refused_code(channel: grpc.Channel) -> tuple[str, str]:
    with pytest.raises(PeerCallError) as info:
        handshake(channel, local_hello("bank-a"), "operator", 5)
    return info.value.code, info.value.details


def test_call_refused_if_client_sends_no_certificate(
    pki: Pki, operator: RunningNode
) -> None:
    # Prepare
    creds = grpc.ssl_channel_credentials(root_certificates=pki.ca.cert.read_bytes())
    options = [("grpc.ssl_target_name_override", "operator")]
    # Execute
    with grpc.secure_channel(operator.address, creds, options=options) as channel:
        code, _ = _refused_code(channel)
    # Assert
    assert code == "UNAVAILABLE"
    assert_good_peer_still_served(pki, operator)


def test_call_refused_if_certificate_is_from_another_ca(
    pki: Pki, operator: RunningNode
) -> None:
    # Prepare
    tls = TlsMaterial.from_files(pki.ca.cert, pki.rogue_bank.cert, pki.rogue_bank.key)
    # Execute
    with connect(operator.address, "operator", tls, LIMITS) as channel:
        code, _ = _refused_code(channel)
    # Assert
    assert code == "UNAVAILABLE"
    assert_good_peer_still_served(pki, operator)


def test_call_refused_if_certificate_is_expired(
    pki: Pki, operator: RunningNode
) -> None:
    # Prepare
    tls = TlsMaterial.from_files(
        pki.ca.cert, pki.expired_bank.cert, pki.expired_bank.key
    )
    # Execute
    with connect(operator.address, "operator", tls, LIMITS) as channel:
        code, _ = _refused_code(channel)
    # Assert
    assert code == "UNAVAILABLE"
    assert_good_peer_still_served(pki, operator)


def test_call_unauthenticated_if_certificate_names_another_party(
    pki: Pki, operator: RunningNode
) -> None:
    # Prepare: bank-b holds a valid certificate, but is not the operator's counterpart.
    with connect(
        operator.address, "operator", tls_of(pki, "bank-b"), LIMITS
    ) as channel:
        # Execute
        with pytest.raises(PeerCallError) as info:
            handshake(channel, local_hello("bank-b"), "operator", 5)
        with pytest.raises(PeerCallError) as upload_info:
            diagnostics.upload(channel, [b"x"], 1, 1024, 5)
    # Assert
    assert info.value.code == "UNAUTHENTICATED"
    assert info.value.details == (
        "certificate identity 'bank-b' is not a configured counterpart of operator"
    )
    assert upload_info.value.code == "UNAUTHENTICATED"
    assert_good_peer_still_served(pki, operator)


def test_connect_fails_if_server_is_not_the_expected_party(
    pki: Pki, operator: RunningNode
) -> None:
    # Prepare: the bank expects bank-b at this address, but the operator answers.
    with connect(operator.address, "bank-b", tls_of(pki, "bank-a"), LIMITS) as channel:
        # Execute
        code, _ = _refused_code(channel)
    # Assert
    assert code == "UNAVAILABLE"


def test_hello_permission_denied_if_claimed_party_differs_from_certificate(
    pki: Pki, operator: RunningNode
) -> None:
    # Prepare
    with bank_channel(pki, operator) as channel:
        # Execute
        with pytest.raises(PeerCallError) as info:
            handshake(channel, local_hello("bank-b"), "operator", 5)
    # Assert
    assert info.value.code == "PERMISSION_DENIED"
    assert info.value.details == (
        "claimed party id 'bank-b' does not match the certificate's party 'bank-a'"
    )


def test_hello_failed_precondition_names_both_versions_if_versions_differ(
    pki: Pki, operator: RunningNode
) -> None:
    # Prepare
    future = Hello("bank-a", 2, ("session/hello/2",), "9.0.0")
    with bank_channel(pki, operator) as channel:
        # Execute
        with pytest.raises(PeerCallError) as info:
            handshake(channel, future, "operator", 5)
    # Assert
    assert info.value.code == "FAILED_PRECONDITION"
    assert info.value.details == (
        "protocol version mismatch: bank-a speaks duet protocol v2, operator speaks v1"
    )


def test_hello_invalid_argument_if_payload_does_not_decode(
    pki: Pki, operator: RunningNode
) -> None:
    # Prepare: raw bytes that are not a HelloRequest (truncated length-delimited field).
    with bank_channel(pki, operator) as channel:
        raw = channel.unary_unary("/duet.v1.Session/Hello")
        # Execute
        with pytest.raises(grpc.RpcError) as info:
            raw(b"\x0a\xff\xff\xff", timeout=5)
    # Assert
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == "malformed HelloRequest message: DecodeError"
    assert_good_peer_still_served(pki, operator)


def test_hello_invalid_argument_names_field_if_party_id_malformed(
    pki: Pki, operator: RunningNode
) -> None:
    # Prepare
    bad = Hello("Bank A!", 1, ("session/hello/1",))
    with bank_channel(pki, operator) as channel:
        # Execute
        with pytest.raises(PeerCallError) as info:
            handshake(channel, bad, "operator", 5)
    # Assert
    assert info.value.code == "INVALID_ARGUMENT"
    assert info.value.details.startswith("HelloRequest.party_id: party id must be")


def test_upload_resource_exhausted_if_message_exceeds_server_limit(
    pki: Pki, operator: RunningNode
) -> None:
    # Prepare: the client allows 4 MiB messages, the server only 1 MiB.
    payload = os.urandom(2 << 20)
    with bank_channel(pki, operator, max_message_bytes=8 << 20) as channel:
        # Execute: a single 2 MiB chunk.
        with pytest.raises(PeerCallError) as info:
            diagnostics.upload(channel, [payload], len(payload), len(payload), 10)
    # Assert
    assert info.value.code == "RESOURCE_EXHAUSTED"
    assert_good_peer_still_served(pki, operator)


def test_upload_resource_exhausted_if_announced_size_exceeds_transfer_limit(
    pki: Pki, operator: RunningNode
) -> None:
    # Prepare: bank-a may send at most 8 MiB per transfer.
    total = 9 << 20
    parts = (os.urandom(1 << 20) for _ in range(9))
    with bank_channel(pki, operator) as channel:
        # Execute
        with pytest.raises(PeerCallError) as info:
            diagnostics.upload(channel, parts, total, 256 << 10, 10)
    # Assert
    assert info.value.code == "RESOURCE_EXHAUSTED"
    assert info.value.details == (
        "stream 'diagnostics.random' announces 9437184 bytes, over the limit of"
        " 8388608 bytes"
    )


def test_upload_reassembles_chunked_payload_if_larger_than_message_limit(
    pki: Pki, operator: RunningNode
) -> None:
    # Prepare: 6 MiB through a 1 MiB message limit, in 256 KiB chunks.
    payload = os.urandom(6 << 20)
    with bank_channel(pki, operator) as channel:
        # Execute
        summary = diagnostics.upload(channel, [payload], len(payload), 256 << 10, 30)
        received = diagnostics.download(channel, 3 << 20, 256 << 10, 30)
    # Assert
    assert summary.total_bytes == len(payload)
    assert summary.chunks == 24
    assert summary.sha256 == hashlib.sha256(payload).digest()
    assert received.total_bytes == 3 << 20
    assert received.chunks == 12


# ---- per-counterpart CA pinning and DNS-SAN-only identities -------------------------
@pytest.fixture(scope="module")
def two_bank_operator(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningNode]:
    """An operator serving bank-a (the main CA) and bank-b (its own CA): its TLS
    layer trusts both CAs, as an operator serving two banks must."""
    root = Path(tmp_path_factory.mktemp("two-banks"))
    config = write_config(
        root / "operator.toml", pki, "operator", "operator",
        [{"party_id": "bank-a", "identity": "bank-a", "ca": str(pki.ca.cert)},
         {"party_id": "bank-b", "identity": "bank-b", "ca": str(pki.bank_b_ca.cert)}],
    )  # fmt: skip
    with running_node(config) as node:
        yield node


def _hello_as(
    node: RunningNode, pki: Pki, cert: Path, key: Path, party: str
) -> tuple[str, str] | str:
    """Handshake with the given client certificate; the refusal, or the party id."""
    tls = TlsMaterial.from_files(pki.ca.cert, cert, key)
    with connect(node.address, "operator", tls, LIMITS) as channel:
        try:
            return handshake(channel, local_hello(party), "operator", 5).party_id
        except PeerCallError as exc:
            return exc.code, exc.details


def test_call_unauthenticated_if_another_counterparts_ca_issued_the_certificate(
    pki: Pki, two_bank_operator: RunningNode
) -> None:
    # Prepare: bank-b's CA (trusted for bank-b) issued a certificate naming bank-a.
    forged = pki.cross_bank_a
    # Execute
    refused = _hello_as(two_bank_operator, pki, forged.cert, forged.key, "bank-a")
    # Assert
    assert refused == (
        "UNAUTHENTICATED",
        "certificate for 'bank-a' was not issued by the CA operator pins for that"
        " counterpart",
    )
    good_a, good_b = pki.certs["bank-a"], pki.bank_b_own
    assert _hello_as(two_bank_operator, pki, good_a.cert, good_a.key, "bank-a") == (
        "operator"
    )
    assert _hello_as(two_bank_operator, pki, good_b.cert, good_b.key, "bank-b") == (
        "operator"
    )


def test_call_unauthenticated_if_only_the_common_name_names_the_counterpart(
    pki: Pki, two_bank_operator: RunningNode
) -> None:
    # Prepare: SAN evil.example, CN bank-a; and CN bank-a without any SAN.
    cn_only, no_san = pki.cn_only_bank_a, pki.no_san_bank_a
    # Execute
    refused = _hello_as(two_bank_operator, pki, cn_only.cert, cn_only.key, "bank-a")
    refused_no_san = _hello_as(
        two_bank_operator, pki, no_san.cert, no_san.key, "bank-a"
    )
    # Assert
    assert refused == (
        "UNAUTHENTICATED",
        "certificate identity 'evil.example' is not a configured counterpart of"
        " operator",
    )
    assert refused_no_san == (
        "UNAUTHENTICATED",
        "operator identifies peers by the DNS subject alternative name of their"
        " certificate, and this certificate has none",
    )
    good = pki.certs["bank-a"]
    assert _hello_as(two_bank_operator, pki, good.cert, good.key, "bank-a") == (
        "operator"
    )


def test_bank_channel_refuses_server_if_another_ca_issued_its_certificate(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: a server presenting an "operator" certificate from bank-b's CA; the
    # bank's tls.ca bundle holds both CAs, but its operator is pinned to the main CA.
    impostor_cert = pki.cross_operator
    impostor = write_config(
        tmp_path / "impostor.toml", pki, "operator", "operator",
        [{"party_id": "bank-a", "identity": "bank-a"}],
        tls={"ca": str(pki.ca.cert), "cert": str(impostor_cert.cert),
             "key": str(impostor_cert.key)},
    )  # fmt: skip
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pki.ca.cert.read_bytes() + pki.bank_b_ca.cert.read_bytes())
    with running_node(impostor) as node:
        bank = write_config(
            tmp_path / "bank.toml", pki, "bank-a", "bank",
            [{"party_id": "operator", "identity": "operator", "address": node.address,
              "ca": str(pki.ca.cert)}],
            tls={"ca": str(bundle), "cert": str(pki.certs["bank-a"].cert),
                 "key": str(pki.certs["bank-a"].key)},
        )  # fmt: skip
        ctx = NodeContext.open(bank)
        # Execute
        with ctx.channel("operator") as channel, pytest.raises(PeerCallError) as info:
            handshake(channel, local_hello("bank-a"), "operator", 5)
        ctx.store.close()
    # Assert
    assert info.value.code == "UNAVAILABLE"
