"""Mobile numbers: the operator's subscribers on its real prefixes, others elsewhere.

Subscriber `i` gets a number in closed form: a keyed permutation of [0, N) ranks the
subscribers, the ranks are cut into prefix buckets sized by each prefix's share of the
network, and a keyed decimal permutation of the rank inside the bucket gives the last 8
digits. Uniqueness therefore holds by construction across chunks and workers, and any
chunk can compute any other subscriber's number (frequent contacts need that).

The numbers lie on real prefixes and may belong to real people: they are for tests and
demos only and must never be dialled or messaged.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from scripts.world.allocation import exact_counts, place
from scripts.world.digit_text import decimal_strings
from scripts.world.permutation import DecimalFeistel, RangePermutation
from scripts.world.streams import key_words

# The operator's prefixes (issue #2) with an approximate share of its Beijing base:
# the old 13x blocks dominate, newer 17x/19x blocks are smaller.
OPERATOR_PREFIXES: dict[int, float] = {
    134: 5, 135: 7, 136: 7, 137: 6, 138: 8, 139: 9, 147: 2, 150: 5, 151: 5, 152: 4,
    157: 3, 158: 5, 159: 5, 172: 2, 178: 3, 182: 4, 183: 3, 184: 2, 187: 4, 188: 4,
    195: 2, 197: 1, 198: 3,
}  # fmt: skip
# Other mainland operators' prefixes: bank customers who are not subscribers here.
OTHER_PREFIXES: tuple[int, ...] = (
    130, 131, 132, 145, 155, 156, 166, 175, 176, 185, 186,  # China Unicom
    133, 149, 153, 173, 177, 180, 181, 189, 191, 199,  # China Telecom
)  # fmt: skip
SUFFIX_SPACE = 10**8
# Off-network index space: [0, CONTACT_BASE) for people generated as bank customers,
# [CONTACT_BASE, OFF_NETWORK_CAPACITY) for subscribers' contacts on other networks.
OFF_NETWORK_CAPACITY = len(OTHER_PREFIXES) * SUFFIX_SPACE
CONTACT_BASE = OFF_NETWORK_CAPACITY // 2


class PhoneBook:
    """Closed-form phone numbers of subscribers and of off-network people."""

    def __init__(self, seed: int, subscribers: int) -> None:
        prefixes = np.array(list(OPERATOR_PREFIXES), dtype=np.int64)
        weights = np.array(list(OPERATOR_PREFIXES.values()), dtype=np.float64)
        self.counts = exact_counts(subscribers, weights)
        if self.counts.max() > SUFFIX_SPACE:
            raise ValueError("too many subscribers for the operator's prefixes")
        self.prefixes = prefixes
        self.ranking = RangePermutation(subscribers, key_words(seed, "phones.rank", 4))
        self.suffixes = [
            DecimalFeistel(key_words(seed, f"phones.suffix.{p}", 4)) for p in prefixes
        ]
        self.other_prefixes = np.array(OTHER_PREFIXES, dtype=np.int64)
        self.other_suffixes = [
            DecimalFeistel(key_words(seed, f"phones.other.{p}", 4))
            for p in self.other_prefixes
        ]

    def subscriber_numbers(self, index: np.ndarray) -> np.ndarray:
        """Return the 11-digit numbers (int64) of subscribers `index`."""
        bucket, rank = place(self.ranking.apply(index), self.counts)
        return self._compose(self.prefixes, self.suffixes, bucket, rank)

    def off_network_numbers(self, index: np.ndarray) -> np.ndarray:
        """Return numbers (int64) of off-network people `index` in [0, capacity)."""
        index = np.asarray(index, dtype=np.int64)
        if index.size and (index.min() < 0 or index.max() >= OFF_NETWORK_CAPACITY):
            raise ValueError("off-network index out of range")
        n_other = len(self.other_prefixes)
        bucket, rank = index % n_other, index // n_other
        return self._compose(self.other_prefixes, self.other_suffixes, bucket, rank)

    @staticmethod
    def _compose(
        prefixes: np.ndarray,
        suffixes: list[DecimalFeistel],
        bucket: np.ndarray,
        rank: np.ndarray,
    ) -> np.ndarray:
        out = np.empty(bucket.shape, dtype=np.int64)
        for b in np.unique(bucket):
            rows = bucket == b
            out[rows] = prefixes[b] * SUFFIX_SPACE + suffixes[b].apply(rank[rows])
        return out


def phone_strings(numbers: np.ndarray) -> pa.Array:
    """Return 11-digit phone strings for int64 numbers."""
    return decimal_strings(numbers, 11)
