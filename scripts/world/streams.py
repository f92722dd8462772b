"""Independent, reproducible random streams keyed by (seed, purpose, block).

Every piece of the world draws from its own stream so that output depends only on the
seed and the fixed block size: not on the number of worker processes, and not on which
other features are generated (adding a column never shifts the values of another).
"""

from __future__ import annotations

import zlib

import numpy as np


def purpose_key(purpose: str) -> int:
    """Stable 32-bit key of a purpose name (crc32 is the same on every platform)."""
    return zlib.crc32(purpose.encode("utf-8"))


def stream(seed: int, purpose: str, block: int = 0) -> np.random.Generator:
    """Return the generator for `purpose` in `block` of the world with this seed."""
    return np.random.default_rng(
        np.random.SeedSequence([seed, purpose_key(purpose), block])
    )


def key_words(seed: int, purpose: str, count: int) -> np.ndarray:
    """Return `count` 32-bit secret-looking keys (for keyed permutations)."""
    return stream(seed, purpose).integers(0, 2**32, size=count, dtype=np.uint64)
