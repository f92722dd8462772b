"""The layout of one world: who exists, in which block, with which index.

Everything a block needs to generate its rows independently lives here and is cheap to
build (a few keyed permutations and the city map), so worker processes can rebuild or
inherit it. The universe of people is [0, U): subscribers first ([0, N)), then, for
every block and bank, a population of off-network people from which that bank's
customers on other operators are drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scripts.world.banks import bank_index
from scripts.world.geography import CityMap, build_city
from scripts.world.holdings import calibrated_intercepts
from scripts.world.identities import IdentityRegistry
from scripts.world.permutation import RangePermutation
from scripts.world.phones import CONTACT_BASE, PhoneBook
from scripts.world.streams import key_words

# Rows per generation block. Part of the world's definition: output depends on the
# seed and this size, never on the number of workers.
DEFAULT_BLOCK_SIZE = 100_000


@dataclass(frozen=True)
class Party:
    party_id: str  # e.g. bank-a
    bank_code: str  # e.g. cmb
    slot: int  # position in --banks

    @property
    def bank_index(self) -> int:
        return bank_index(self.bank_code)


@dataclass
class WorldPlan:
    seed: int
    subscribers: int
    parties: list[Party]
    overlap: float = 0.70
    block_size: int = DEFAULT_BLOCK_SIZE
    applicant_share: float = 0.05  # of loan customers, held out as new applicants
    consent_rate: float = 0.92
    report_rows_cap: int = 150_000  # joined customers kept for the AUC report
    dirty: bool = False
    city: CityMap = field(init=False)
    phones: PhoneBook = field(init=False)
    identities: IdentityRegistry = field(init=False)

    def __post_init__(self) -> None:
        if self.subscribers < 1:
            raise ValueError("need at least one subscriber")
        if not 0.0 < self.overlap <= 1.0:
            raise ValueError("overlap must be in (0, 1]")
        self.n_blocks = -(-self.subscribers // self.block_size)
        rows = np.full(self.n_blocks, self.block_size, dtype=np.int64)
        rows[-1] = self.subscribers - self.block_size * (self.n_blocks - 1)
        self.block_rows = rows
        # Off-network population per (block, bank): sized so that, holding rates being
        # equal on and off the network, `overlap` of each bank's customers are ours.
        off = np.round(rows * (1.0 - self.overlap) / self.overlap).astype(np.int64)
        sizes = np.repeat(off[:, None], len(self.parties), axis=1)
        self.off_sizes = sizes
        flat = np.concatenate(([0], np.cumsum(sizes.ravel())))
        self.off_starts = self.subscribers + flat[:-1].reshape(sizes.shape)
        self.universe = int(self.subscribers + flat[-1])
        if self.universe - self.subscribers >= CONTACT_BASE:
            raise ValueError("world too large for the off-network number space")
        self.city = build_city(self.seed)
        self.phones = PhoneBook(self.seed, self.subscribers)
        self.identities = IdentityRegistry(self.seed, self.universe)
        self.customer_ids = {
            p.bank_code: RangePermutation(
                self.universe, key_words(self.seed, f"customer_id.{p.bank_code}", 4)
            )
            for p in self.parties
        }
        self.application_ids = RangePermutation(
            self.universe, key_words(self.seed, "application_id", 4)
        )
        expected_joined = self.subscribers * 0.2 * len(self.parties)
        self.report_fraction = min(1.0, self.report_rows_cap / max(expected_joined, 1))
        calibrated_intercepts()  # warm the cache before workers fork

    def block_range(self, block: int) -> tuple[int, int]:
        start = block * self.block_size
        return start, start + int(self.block_rows[block])

    def off_network_range(self, block: int, slot: int) -> tuple[int, int]:
        start = int(self.off_starts[block, slot])
        return start, start + int(self.off_sizes[block, slot])
