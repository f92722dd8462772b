"""Hash to the group, scalars, blinding and un-blinding on Curve25519 and its twist."""

from __future__ import annotations

import hashlib

import pytest

from protocol.psi import group
from protocol.psi.group import (
    DST,
    BlindingKey,
    hash_to_group,
    invertible_key,
    is_low_order,
    on_curve,
)
from protocol.psi.pool import blind_phones, multiply, unblind

NUMBERS = [f"13{i:09d}".encode() for i in range(0, 64 * 7919, 7919)]


def test_hash_to_group_is_tagged_sha512_if_digest_not_low_order() -> None:
    # Execute
    u = hash_to_group(b"13800138000")
    # Assert
    assert u == hashlib.sha512(DST + b"13800138000").digest()[:32]
    assert u != hashlib.sha512(b"13800138000").digest()[:32]
    assert u != hashlib.sha256(b"13800138000").digest()


def test_hash_to_group_rehashes_with_counter_if_digest_low_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Prepare
    first = hashlib.sha512(DST + b"13800138000").digest()[:32]
    monkeypatch.setattr(group, "is_low_order", lambda u: u == first)
    # Execute
    u = hash_to_group(b"13800138000")
    # Assert
    assert u == hashlib.sha512(DST + b"13800138000|1").digest()[:32]


@pytest.mark.parametrize("value", [0, 1, group.P - 1, group.P, group.P + 1])
def test_is_low_order_true_if_u_in_list_even_with_top_bit(value: int) -> None:
    # Prepare
    with_top_bit = (value | (1 << 255)).to_bytes(32, "little")
    # Execute / Assert
    assert is_low_order(value.to_bytes(32, "little"))
    assert is_low_order(with_top_bit)


def test_apply_refuses_if_point_has_low_order() -> None:
    # Execute / Assert
    with pytest.raises(ValueError):
        BlindingKey.generate().apply(bytes(32))


def test_blinding_commutes_if_applied_in_either_order() -> None:
    # Prepare
    a, b = BlindingKey.generate(), BlindingKey.generate()
    phones = b"".join(NUMBERS)
    # Execute
    ab = multiply(b.secret, blind_phones(a.secret, phones))
    ba = multiply(a.secret, blind_phones(b.secret, phones))
    # Assert
    assert ab == ba
    assert len(set(ab[o : o + 32] for o in range(0, len(ab), 32))) == len(NUMBERS)


def test_unblinding_recovers_operator_blinding_if_on_curve_or_twist() -> None:
    # Prepare
    a = BlindingKey.generate()
    b, b_inverse = invertible_key()
    phones = b"".join(NUMBERS)
    bank_blinded = blind_phones(b.secret, phones)
    sides = {on_curve(bank_blinded[o : o + 32]) for o in range(0, 32 * 64, 32)}
    # Execute
    recovered = unblind(
        b_inverse.curve, b_inverse.twist, multiply(a.secret, bank_blinded)
    )
    # Assert
    assert sides == {True, False}  # the sample covers curve and twist points
    assert recovered == blind_phones(a.secret, phones)


def test_blinding_key_refused_if_not_clamped() -> None:
    # Execute
    with pytest.raises(ValueError) as info:
        BlindingKey(bytes(32))
    # Assert
    assert str(info.value) == "a blinding key is 32 bytes of a clamped X25519 scalar"


def test_keys_hide_secrets_if_printed() -> None:
    # Prepare
    key, inverse = invertible_key()
    # Execute
    shown = f"{key!r} {inverse!r} {key} {inverse}"
    # Assert
    assert shown == (
        "BlindingKey(<secret>) UnblindingKey(<secret>) BlindingKey(<secret>)"
        " UnblindingKey(<secret>)"
    )
    assert key.secret.hex() not in shown
