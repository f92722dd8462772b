"""Paillier keys in phe's format, with a fingerprint both parties compute the same way.

Our keys wrap exactly what phe stores (n for the public key, p and q for the private
key), so anything encrypted here decrypts with phe and the reverse (see
`to_phe`/`from_phe`). Key sizes below MIN_KEY_BITS are refused unless the caller passes
the explicit, test-only `allow_insecure_test_key=True`.

Key size: 2048 bits by default (FATE and SecretFlow default; NIST SP 800-57 part 1 rates
2048-bit factoring moduli at 112-bit security, acceptable through 2030); 3072 bits gives
128-bit security and is supported.
"""

from __future__ import annotations

import hashlib

import phe
from gmpy2 import mpz

from protocol.crypto.paillier_raw import ciphertext_width

MIN_KEY_BITS = 2048
DEFAULT_KEY_BITS = 2048

_FINGERPRINT_DOMAIN = b"duet/paillier/public-key/v1"


class InsecureKeyError(ValueError):
    """A key shorter than MIN_KEY_BITS without the test-only opt-in."""


def _check_key_bits(n_bits: int, allow_insecure_test_key: bool) -> None:
    if n_bits < MIN_KEY_BITS and not allow_insecure_test_key:
        raise InsecureKeyError(
            f"{n_bits}-bit Paillier keys are refused; the minimum is "
            f"{MIN_KEY_BITS} bits (allow_insecure_test_key=True is for tests only)"
        )


class PaillierPublicKey:
    """A Paillier public key (modulus n, g = n + 1 as in phe)."""

    __slots__ = ("fingerprint", "n", "n_bits", "nsquare")

    def __init__(self, n: int, *, allow_insecure_test_key: bool = False):
        n_mpz = mpz(n)
        if n_mpz < 3 or n_mpz % 2 == 0:
            raise ValueError("a Paillier modulus is an odd integer > 2")
        self.n = n_mpz
        self.nsquare = n_mpz * n_mpz
        self.n_bits = n_mpz.bit_length()
        _check_key_bits(self.n_bits, allow_insecure_test_key)
        self.fingerprint = hashlib.sha256(
            _FINGERPRINT_DOMAIN + n_mpz.to_bytes(self.n_bytes, "big")
        ).digest()

    @property
    def n_bytes(self) -> int:
        """Bytes of n in fixed-width big-endian form."""
        return (self.n_bits + 7) // 8

    @property
    def ciphertext_width(self) -> int:
        """Bytes of one ciphertext in fixed-width big-endian form."""
        return ciphertext_width(self.n_bits)

    @classmethod
    def from_phe(
        cls, key: phe.PaillierPublicKey, *, allow_insecure_test_key: bool = False
    ) -> PaillierPublicKey:
        return cls(key.n, allow_insecure_test_key=allow_insecure_test_key)

    def to_phe(self) -> phe.PaillierPublicKey:
        return phe.PaillierPublicKey(int(self.n))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PaillierPublicKey) and self.n == other.n

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        return f"<PaillierPublicKey {self.n_bits} bits {self.fingerprint.hex()[:16]}>"


class PaillierPrivateKey:
    """A Paillier private key: the factorization n = p*q (p < q, as phe orders them)."""

    __slots__ = ("_p", "_q", "public_key")

    def __init__(self, public_key: PaillierPublicKey, p: int, q: int):
        p_mpz, q_mpz = (mpz(p), mpz(q)) if p < q else (mpz(q), mpz(p))
        if p_mpz * q_mpz != public_key.n or p_mpz == q_mpz:
            raise ValueError("p and q do not factor the public key's modulus")
        self.public_key = public_key
        self._p = p_mpz
        self._q = q_mpz

    @property
    def p(self) -> mpz:
        return self._p

    @property
    def q(self) -> mpz:
        return self._q

    @classmethod
    def from_phe(
        cls, key: phe.PaillierPrivateKey, *, allow_insecure_test_key: bool = False
    ) -> PaillierPrivateKey:
        public = PaillierPublicKey.from_phe(
            key.public_key, allow_insecure_test_key=allow_insecure_test_key
        )
        return cls(public, key.p, key.q)

    def to_phe(self) -> phe.PaillierPrivateKey:
        return phe.PaillierPrivateKey(
            self.public_key.to_phe(), int(self._p), int(self._q)
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PaillierPrivateKey) and self._p == other._p

    def __hash__(self) -> int:
        return hash(self.public_key)

    def __repr__(self) -> str:
        # Never print the factors.
        return f"<PaillierPrivateKey for {self.public_key!r}>"


def generate_keypair(
    bits: int = DEFAULT_KEY_BITS, *, allow_insecure_test_key: bool = False
) -> tuple[PaillierPublicKey, PaillierPrivateKey]:
    """Generate a key pair with phe's generator (OS randomness, gmpy2 primes)."""
    _check_key_bits(bits, allow_insecure_test_key)
    phe_public, phe_private = phe.generate_paillier_keypair(n_length=bits)
    public = PaillierPublicKey.from_phe(
        phe_public, allow_insecure_test_key=allow_insecure_test_key
    )
    return public, PaillierPrivateKey(public, phe_private.p, phe_private.q)
