"""Set logic over packed 32-byte group elements: matching, shuffling, row keys.

Pure numpy on (k, 32) uint8 views of packed buffers, no Python object per item: two
sets of a million items are matched by sorting their 64-bit prefixes (one C sort)
and confirming every candidate on all 32 bytes. If a 64-bit prefix repeats inside one
set (probability ~n^2 / 2^65) an exact byte-wise fallback takes over, so the result
never depends on luck.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator

import numpy as np

from protocol.psi.group import ITEM_BYTES

ROW_KEY_BYTES = 16
_ROW_KEY_TAG = b"duet-psi-v1|row-key|"


def as_items(buffer: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """A (k, 32) uint8 view of a packed buffer (no copy)."""
    flat = np.frombuffer(buffer, dtype=np.uint8)
    if flat.size % ITEM_BYTES:
        raise ValueError(f"buffer of {flat.size} bytes is not a whole number of items")
    return flat.reshape(-1, ITEM_BYTES)


def _prefixes(items: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(items[:, :8]).view("<u8").ravel()


def _has_repeats(sorted_values: np.ndarray) -> bool:
    return bool(
        sorted_values.size > 1 and np.any(sorted_values[1:] == sorted_values[:-1])
    )


def _exact_match(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    index = {row.tobytes(): j for j, row in enumerate(right)}
    pairs = [
        (i, index[row.tobytes()])
        for i, row in enumerate(left)
        if row.tobytes() in index
    ]
    if not pairs:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    li, ri = zip(*pairs, strict=True)
    return np.asarray(li, np.int64), np.asarray(ri, np.int64)


def match_positions(
    left: np.ndarray, right: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (i, j) with left[i] == right[j], sorted by i.

    Items within each side must be distinct (they are: ids are unique and blinding is
    injective); a repeated item is a protocol error reported as ValueError.
    """
    lp, rp = _prefixes(left), _prefixes(right)
    if _has_repeats(np.sort(lp)) or _has_repeats(np.sort(rp)):
        li, ri = _exact_match(left, right)
    else:
        _, li, ri = np.intersect1d(lp, rp, assume_unique=True, return_indices=True)
        li, ri = li.astype(np.int64), ri.astype(np.int64)
        same = np.all(left[li] == right[ri], axis=1)
        li, ri = li[same], ri[same]
    order = np.argsort(li, kind="stable")
    return li[order], ri[order]


def count_matches(left: np.ndarray, right: np.ndarray) -> int:
    """|left ∩ right| without keeping positions."""
    return int(match_positions(left, right)[0].size)


def permuted_batches(
    values: np.ndarray, order: np.ndarray, items: int
) -> Iterator[bytes]:
    """values[order] packed, `items` at a time, without materialising the copy."""
    for start in range(0, len(order), items):
        yield np.ascontiguousarray(values[order[start : start + items]]).tobytes()


def secure_permutation(n: int) -> np.ndarray:
    """A uniformly random permutation of range(n) from a 128-bit OS-random seed.

    Only its independence from the input order matters (the permuted values are
    pseudorandom to the other party), so a CSPRNG-seeded PCG64 suffices.
    """
    rng = np.random.Generator(np.random.PCG64(secrets.randbits(128)))
    return rng.permutation(n).astype(np.int64)


def row_keys(session_id: str, double_blinded: np.ndarray) -> np.ndarray:
    """(k, 16) uint8: SHA-256(tag | session id | X25519(ab, H(x)))[:16] per item.

    Both parties hold the double-blinded value of every aligned row, so both derive the
    same keys. Nothing here needs a secret key: the double-blinded value is already
    pseudorandom to outsiders, and the session id separates sessions, so with fresh
    scalars the keys of two sessions are unlinkable.
    """
    base = hashlib.sha256(_ROW_KEY_TAG + session_id.encode() + b"|")
    flat = np.ascontiguousarray(double_blinded).tobytes()
    out = bytearray(len(double_blinded) * ROW_KEY_BYTES)
    o = 0
    for offset in range(0, len(flat), ITEM_BYTES):
        digest = base.copy()
        digest.update(flat[offset : offset + ITEM_BYTES])
        out[o : o + ROW_KEY_BYTES] = digest.digest()[:ROW_KEY_BYTES]
        o += ROW_KEY_BYTES
    return np.frombuffer(bytes(out), dtype=np.uint8).reshape(-1, ROW_KEY_BYTES)


def key_order(keys: np.ndarray) -> np.ndarray:
    """Indices sorting (k, 16) keys in ascending lexicographic byte order."""
    words = np.ascontiguousarray(keys).view(">u8")  # (k, 2), big-endian = byte order
    return np.lexsort((words[:, 1], words[:, 0])).astype(np.int64)


def pack_pairs(bank_positions: np.ndarray, operator_positions: np.ndarray) -> bytes:
    """The Finish payload: little-endian uint32 (upload position, operator position)."""
    pairs = np.empty((len(bank_positions), 2), dtype="<u4")
    pairs[:, 0] = bank_positions
    pairs[:, 1] = operator_positions
    return pairs.tobytes()


def unpack_pairs(payload: bytes | bytearray) -> tuple[np.ndarray, np.ndarray]:
    pairs = np.frombuffer(payload, dtype="<u4").reshape(-1, 2)
    return pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
