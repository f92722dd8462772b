"""Handsets: brand, model, list price and tier, chosen by income, age and taste.

The catalogue mixes flagship, mid-range and budget models of the brands that dominate
Beijing (Apple about a quarter of handsets, then Huawei, Xiaomi, vivo, OPPO, Honor),
plus basic feature phones kept by older subscribers. iPhones matter downstream: the
deck's Apple Pay campaign targets iPhone owners.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scripts.world.choice import choose
from scripts.world.traits import Traits

# (brand, model, launch price CNY, launch year, popularity weight)
CATALOGUE: tuple[tuple[str, str, int, int, float], ...] = (
    ("Apple", "iPhone 16 Pro Max", 9999, 2024, 2.5),
    ("Apple", "iPhone 16 Pro", 7999, 2024, 2.5),
    ("Apple", "iPhone 16", 5999, 2024, 3.0),
    ("Apple", "iPhone 15 Pro Max", 9999, 2023, 2.0),
    ("Apple", "iPhone 15", 5999, 2023, 3.5),
    ("Apple", "iPhone 14", 5999, 2022, 3.0),
    ("Apple", "iPhone 13", 5999, 2021, 3.5),
    ("Apple", "iPhone 12", 6299, 2020, 2.0),
    ("Apple", "iPhone 11", 5499, 2019, 1.5),
    ("Apple", "iPhone SE (3rd gen)", 3499, 2022, 1.0),
    ("Huawei", "Mate 70 Pro", 6999, 2024, 2.5),
    ("Huawei", "Mate 60 Pro", 6999, 2023, 3.5),
    ("Huawei", "Mate X5", 12999, 2023, 0.6),
    ("Huawei", "Pura 70", 5499, 2024, 2.5),
    ("Huawei", "P60", 4488, 2023, 2.0),
    ("Huawei", "nova 12", 2999, 2023, 3.0),
    ("Huawei", "Enjoy 70", 1199, 2023, 2.0),
    ("Honor", "Magic6", 4399, 2024, 1.5),
    ("Honor", "Honor 200", 2699, 2024, 2.0),
    ("Honor", "X50", 1399, 2023, 2.5),
    ("Xiaomi", "Xiaomi 15", 4499, 2024, 2.0),
    ("Xiaomi", "Xiaomi 14", 3999, 2023, 2.5),
    ("Xiaomi", "Redmi K70", 2499, 2023, 3.0),
    ("Xiaomi", "Redmi Note 13", 1099, 2023, 3.0),
    ("Xiaomi", "Redmi 13C", 699, 2023, 1.5),
    ("OPPO", "Find X7", 3999, 2024, 1.5),
    ("OPPO", "Reno12", 2699, 2024, 3.0),
    ("OPPO", "A3", 1299, 2024, 2.5),
    ("vivo", "X100", 3999, 2023, 2.0),
    ("vivo", "S19", 2499, 2024, 3.0),
    ("vivo", "Y36", 1299, 2023, 3.0),
    ("Samsung", "Galaxy S24", 5999, 2024, 0.8),
    ("Samsung", "Galaxy Z Flip5", 7499, 2023, 0.4),
    ("OnePlus", "OnePlus 12", 4299, 2024, 0.8),
    ("realme", "GT Neo6", 1999, 2024, 0.8),
    ("Other", "Feature phone", 199, 2020, 1.5),
)
PRICE_TIERS = ("budget", "mid", "high", "flagship")
_TIER_EDGES = (1500, 3500, 6000)
_REFERENCE_YEAR = 2025


@dataclass(frozen=True)
class Devices:
    model: np.ndarray  # index into CATALOGUE
    months_in_use: np.ndarray  # months since the subscriber started using it

    @property
    def is_apple(self) -> np.ndarray:
        return _BRAND[self.model] == "Apple"

    @property
    def price_cny(self) -> np.ndarray:
        return _PRICE[self.model]

    @property
    def is_feature_phone(self) -> np.ndarray:
        return _BRAND[self.model] == "Other"


_BRAND = np.array([m[0] for m in CATALOGUE])
_PRICE = np.array([m[2] for m in CATALOGUE], dtype=np.float64)
_YEAR = np.array([m[3] for m in CATALOGUE])
_LOG_WEIGHT = np.log([m[4] for m in CATALOGUE])
TIER_OF_MODEL = np.digitize(_PRICE, _TIER_EDGES)


def draw_devices(traits: Traits, age: np.ndarray, rng: np.random.Generator) -> Devices:
    n = age.shape[0]
    log_price = (np.log(_PRICE) - np.log(3000.0))[None, :]
    age_z = ((age - 40.0) / 20.0)[:, None]
    utility = (
        _LOG_WEIGHT[None, :]
        # Richer people buy dearer phones; everyone dislikes price a little.
        + log_price * (0.9 * traits.income[:, None] - 0.2)
        # iPhones skew young and sophisticated, and brand loyalty is personal taste
        # that nothing else reveals; feature phones are for the elderly.
        + (_BRAND == "Apple")[None, :]
        * (
            0.3 * traits.sophistication[:, None]
            - 0.2 * age_z
            + rng.normal(0.0, 0.8, (n, 1))
        )
        + (_BRAND == "Other")[None, :] * (2.5 * age_z - 1.5)
    )
    model = choose(utility, rng)
    months_on_market = (_REFERENCE_YEAR - _YEAR[model]) * 12 + 6
    # Steadier people keep phones longer; nobody uses a phone before it launched.
    months = rng.exponential(14.0 * np.exp(0.2 * traits.stability), n)
    months_in_use = np.minimum(np.ceil(months), months_on_market).astype(np.int16)
    return Devices(model=model, months_in_use=months_in_use)
