"""Real-name identities: birth date, gender and GB 11643-1999 resident ID numbers.

Each person of the world (subscribers and people on other networks alike) has an index
in one universe [0, U). A keyed permutation ranks the universe; ranks are cut into birth
cells (birth year x gender x issuing area) sized by Beijing's age pyramid and district
populations, and the rank inside a cell is spread over (day of year, sequence number)
by an affine bijection. So every resident ID is unique by construction and computable
from the index alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from scripts.world.allocation import exact_counts, place
from scripts.world.digit_text import ascii_rows, digit_matrix
from scripts.world.geography import DISTRICTS, population_shares
from scripts.world.permutation import RangePermutation
from scripts.world.streams import key_words

# Ages are measured on this date so that a world does not change with the calendar.
REFERENCE_DATE = np.datetime64("2025-06-30")
MIN_AGE, MAX_AGE = 18, 80
FIRST_BIRTH_YEAR, LAST_BIRTH_YEAR = 1945, 2006
MALE_SHARE = 0.51
# Sequence numbers: 3 digits, odd for men and even for women -> 500 per gender per day.
_SEQ_PER_GENDER = 500
# Age pyramid of adult subscribers, per-cent share per age group (Beijing 2020 census
# shape, thinned at the old end where fewer people carry their own phone contract).
_AGE_GROUPS = (
    (18, 24, 9.0), (25, 29, 11.0), (30, 34, 13.0), (35, 39, 12.0), (40, 44, 10.0),
    (45, 49, 9.0), (50, 54, 9.0), (55, 59, 8.0), (60, 64, 7.0), (65, 69, 5.0),
    (70, 74, 4.0), (75, 80, 3.0),
)  # fmt: skip
# Issuing areas that no longer exist still appear on IDs issued before the mergers:
# (code, district it belongs to today, last birth year that could carry it, share).
_HISTORIC_AREAS = (
    ("110103", "110101", 1994, 0.45),  # Chongwen, merged into Dongcheng in 2010
    ("110104", "110102", 1994, 0.40),  # Xuanwu, merged into Xicheng in 2010
    ("110221", "110114", 1983, 0.60),  # Changping county until 1999
    ("110224", "110115", 1985, 0.60),  # Daxing county until 2001
    ("110228", "110118", 1999, 0.70),  # Miyun county until 2015
    ("110229", "110119", 1999, 0.70),  # Yanqing county until 2015
)
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK_ASCII = np.frombuffer(b"10X98765432", dtype=np.uint8)
# Multiplier of the in-cell affine bijection: a prime that divides no cell capacity
# (capacities are 365 or 366 days x 500 = 2^2 5^5 73 or 2^3 3 5^3 61).
_SPREAD_PRIME = 104_729


@dataclass(frozen=True)
class Identities:
    """Identity facts of a set of people (parallel arrays)."""

    birth_date: np.ndarray  # datetime64[D]
    male: np.ndarray  # bool
    area_code: np.ndarray  # int64, 6 digits
    sequence: np.ndarray  # int64, 3 digits (parity = gender)

    @property
    def birth_year(self) -> np.ndarray:
        return self.birth_date.astype("datetime64[Y]").astype(np.int64) + 1970

    @property
    def age(self) -> np.ndarray:
        """Completed years on REFERENCE_DATE."""
        ref_year = int(REFERENCE_DATE.astype("datetime64[Y]").astype(np.int64)) + 1970
        reference = np.array([REFERENCE_DATE])
        birthday_pending = _month_day(self.birth_date) > _month_day(reference)
        return ref_year - self.birth_year - birthday_pending.astype(np.int64)

    def resident_ids(self) -> pa.Array:
        """The 18-character GB 11643-1999 numbers, check character included."""
        return resident_id_strings(self.first17())

    def first17(self) -> np.ndarray:
        ymd = _yyyymmdd(self.birth_date)
        return (self.area_code * 10**8 + ymd) * 1000 + self.sequence


def _month_day(dates: np.ndarray) -> np.ndarray:
    months = dates.astype("datetime64[M]")
    month = months.astype(np.int64) % 12 + 1
    day = (dates - months.astype("datetime64[D]")).astype(np.int64) + 1
    return month * 100 + day


def _yyyymmdd(dates: np.ndarray) -> np.ndarray:
    year = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    return year * 10_000 + _month_day(dates)


def check_characters(first17: np.ndarray) -> np.ndarray:
    """Return the ASCII code of the GB 11643-1999 check character of each number."""
    return _check_from_digits(digit_matrix(first17, 17))


def _check_from_digits(ascii_digits: np.ndarray) -> np.ndarray:
    # A float32 product is exact here (sums stay below 2**24) and runs on BLAS, which
    # is ten times faster than numpy's integer matmul.
    weighted = ascii_digits.astype(np.float32) @ _ID_WEIGHTS.astype(np.float32)
    total = weighted.astype(np.int64) - ord("0") * int(_ID_WEIGHTS.sum())
    return _ID_CHECK_ASCII[total % 11]


def resident_id_strings(first17: np.ndarray) -> pa.Array:
    """Return full 18-character resident IDs for 17-digit integers."""
    first17 = np.asarray(first17, dtype=np.int64)
    matrix = np.empty((first17.shape[0], 18), dtype=np.uint8)
    matrix[:, :17] = digit_matrix(first17, 17)
    matrix[:, 17] = _check_from_digits(matrix[:, :17])
    return ascii_rows(matrix)


def year_weights() -> tuple[np.ndarray, np.ndarray]:
    years = np.arange(FIRST_BIRTH_YEAR, LAST_BIRTH_YEAR + 1)
    ages = REFERENCE_DATE.astype("datetime64[Y]").astype(np.int64) + 1970 - years
    weights = np.zeros(years.shape)
    for low, high, share in _AGE_GROUPS:
        in_group = (ages >= low) & (ages <= high)
        weights[in_group] = share / in_group.sum()
    return years, weights


class IdentityRegistry:
    """Closed-form identities for universe indices in [0, universe)."""

    def __init__(self, seed: int, universe: int) -> None:
        years, year_w = year_weights()
        district_share = dict(
            zip((d.code for d in DISTRICTS), population_shares(), strict=True)
        )
        cells: list[tuple[int, bool, int]] = []
        weights: list[float] = []
        for year, yw in zip(years, year_w, strict=True):
            for male, gw in ((True, MALE_SHARE), (False, 1.0 - MALE_SHARE)):
                for code, share in _area_shares(int(year), district_share).items():
                    cells.append((int(year), male, int(code)))
                    weights.append(yw * gw * share)
        self.cell_year = np.array([c[0] for c in cells], dtype=np.int64)
        self.cell_male = np.array([c[1] for c in cells], dtype=bool)
        self.cell_area = np.array([c[2] for c in cells], dtype=np.int64)
        self.counts = exact_counts(universe, np.array(weights))
        leap = (self.cell_year % 4 == 0) & (
            (self.cell_year % 100 != 0) | (self.cell_year % 400 == 0)
        )
        self.capacity = (365 + leap.astype(np.int64)) * _SEQ_PER_GENDER
        if (self.counts > self.capacity).any():
            raise ValueError(
                f"{universe} people do not fit the resident-ID space of the birth cells"
            )
        self.ranking = RangePermutation(universe, key_words(seed, "identity.rank", 4))
        self.offset = int(key_words(seed, "identity.offset", 1)[0])

    def lookup(self, index: np.ndarray) -> Identities:
        cell, rank = place(self.ranking.apply(index), self.counts)
        capacity = self.capacity[cell]
        slot = (rank * _SPREAD_PRIME + self.offset) % capacity
        day, seq_idx = slot // _SEQ_PER_GENDER, slot % _SEQ_PER_GENDER
        year = self.cell_year[cell]
        birth = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]") + day
        male = self.cell_male[cell]
        return Identities(
            birth_date=birth,
            male=male,
            area_code=self.cell_area[cell],
            sequence=seq_idx * 2 + male.astype(np.int64),
        )


def _area_shares(year: int, district_share: dict[str, float]) -> dict[str, float]:
    shares = dict(district_share)
    for code, today, last_year, share in _HISTORIC_AREAS:
        if year <= last_year:
            shares[code] = district_share[today] * share
            shares[today] = district_share[today] * (1.0 - share)
    return shares
