"""The PSI's group: hash to X25519, secret scalars, blinding and un-blinding.

Choice of group (suite "x25519-sha512-v1"): the hash of a canonical phone number is used
directly as an X25519 u-coordinate, as SecretFlow's Curve25519 ECDH-PSI does. About
half of all u-coordinates lie on the quadratic twist rather than on Curve25519; that is
acceptable because Curve25519 is twist-secure (the twist's prime-order subgroup, of
order ~2^253, has the same discrete-log hardness), and X25519's clamped scalars are
multiples of 8, which clears the small-order component on the curve (cofactor 8) and on
the twist (cofactor 4). Scalar multiplication on the u-line commutes, so
X25519(a, X25519(b, H(x))) == X25519(b, X25519(a, H(x))) for every x: the
double-blinded values of equal numbers are equal.

Why not a hash: phone numbers live in a space of ~10^10, so any plain or salted hash (a
salt both parties know) is reversed by enumerating the space (Hagen et al., NDSS 2021;
FATE issue #509). The blinded value X25519(k, H(x)) is a pseudorandom group element to
anyone without k (decisional Diffie-Hellman), so enumeration needs the secret scalar.

Low-order inputs: the few u-coordinates of order dividing 8 give an all-zero output,
which `cryptography` refuses. A hash hitting one (probability ~2^-250) is re-hashed
with a counter, identically on both sides, because low order is a property of u alone.

Un-blinding (unbalanced mode only): `cryptography` clamps every scalar, so b^-1 is
usable only if some clamped scalar is congruent to it. After one multiplication by a
clamped scalar a value lies in the prime-order subgroup of the curve (order L) or of
the twist (order L_T), so the bank keeps one inverse per subgroup and picks it by the
Legendre symbol of u^3 + A u^2 + u; `invertible_key` redraws b until both inverses have
a clamped representative (about 1 in 8 draws succeed; cheap integer arithmetic).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import gmpy2
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)

SUITE = "x25519-sha512-v1"
CAPABILITY = "psi/ecdh-x25519/1"
# Domain-separation tag: a PSI point can never be confused with another use of SHA-512
# over a phone number (and a future suite gets a different tag).
DST = b"duet-psi-v1|x25519|"
ITEM_BYTES = 32
PHONE_BYTES = 11  # canonical mainland mobile number, ASCII digits

P = 2**255 - 19
A = 486662
CURVE_ORDER = 2**252 + 27742317777372353535851937790883648493
TWIST_ORDER = 2**253 - 55484635554744707071703875581767296995
_CLAMP_HIGH = 2**254
_CLAMP_SPAN = 2**251  # clamped scalars are 2^254 + 8 t with 0 <= t < 2^251

# u-coordinates (after masking bit 255) of points of order dividing 8 on the curve or
# its twist, including the non-canonical encodings p and p + 1 (libsodium's list).
_LOW_ORDER_U = frozenset(
    {
        0,
        1,
        325606250916557431795983626356110631294008115727848805560023387167927233504,
        39382357235489614581723060781553021112529911719440698176882885853963445705823,
        P - 1,
        P,
        P + 1,
    }
)


def is_low_order(u: bytes) -> bool:
    """True if the u-coordinate encodes a point of order dividing 8."""
    return (int.from_bytes(u, "little") & (2**255 - 1)) in _LOW_ORDER_U


def hash_to_group(phone: bytes) -> bytes:
    """The u-coordinate of a canonical 11-digit number (ASCII bytes)."""
    u = hashlib.sha512(DST + phone).digest()[:ITEM_BYTES]
    counter = 0
    while is_low_order(u):
        counter += 1
        u = hashlib.sha512(DST + phone + b"|%d" % counter).digest()[:ITEM_BYTES]
    return u


def _clamp(raw: bytes) -> bytes:
    k = bytearray(raw)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    return bytes(k)


def _clamped_representative(inverse: int, order: int) -> int | None:
    """A clamped scalar congruent to `inverse` modulo `order`, if one exists."""
    t = ((inverse - _CLAMP_HIGH) * pow(8, -1, order)) % order
    return _CLAMP_HIGH + 8 * t if t < _CLAMP_SPAN else None


@dataclass(frozen=True, repr=False)
class BlindingKey:
    """A party's secret scalar (clamped, 32 bytes little-endian). Never sent."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) != 32 or _clamp(self.secret) != self.secret:
            raise ValueError("a blinding key is 32 bytes of a clamped X25519 scalar")

    def __repr__(self) -> str:  # keep secrets out of logs and tracebacks
        return "BlindingKey(<secret>)"

    @classmethod
    def generate(cls) -> BlindingKey:
        """A fresh scalar from the OS CSPRNG (one per session by default)."""
        return cls(_clamp(secrets.token_bytes(32)))

    def apply(self, u: bytes) -> bytes:
        """X25519(self, u); ValueError for a low-order u (all-zero output)."""
        private = X25519PrivateKey.from_private_bytes(self.secret)
        return private.exchange(X25519PublicKey.from_public_bytes(u))


@dataclass(frozen=True, repr=False)
class UnblindingKey:
    """A BlindingKey's inverses on the curve's and twist's prime-order subgroups."""

    curve: bytes
    twist: bytes

    def __repr__(self) -> str:
        return "UnblindingKey(<secret>)"


def invertible_key() -> tuple[BlindingKey, UnblindingKey]:
    """A fresh blinding key whose inverses are clamped scalars (unbalanced mode)."""
    while True:
        key = BlindingKey.generate()
        b = int.from_bytes(key.secret, "little")
        curve = _clamped_representative(pow(b, -1, CURVE_ORDER), CURVE_ORDER)
        twist = _clamped_representative(pow(b, -1, TWIST_ORDER), TWIST_ORDER)
        if curve is not None and twist is not None:
            return key, UnblindingKey(
                curve.to_bytes(32, "little"), twist.to_bytes(32, "little")
            )


def on_curve(u: bytes) -> bool:
    """True if u is the coordinate of a Curve25519 point, False if of the twist."""
    x = gmpy2.mpz(int.from_bytes(u, "little") & (2**255 - 1))
    rhs = (x * x * x + A * x * x + x) % P
    return bool(gmpy2.legendre(rhs, P) >= 0)
