"""Which banks' accounts and cards each person holds, and their primary-card bank.

Holding is a logistic function of traits, age and suburb with a per-bank intercept
calibrated so that each bank reaches its target penetration; a shared "banking
intensity" term makes multi-card holders (the deck's 55%) cluster. The primary bank
is where the person transacts most (payroll card, daily spending).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from scripts.world.banks import BANKS
from scripts.world.choice import gumbel_noise
from scripts.world.identities import MALE_SHARE, year_weights
from scripts.world.places import CORE, Places, draw_home_district
from scripts.world.traits import Traits, draw_traits

_INTENSITY_SD = 0.8
_UNBANKED_KEEP = 0.15  # share of people drawn with no account who really have none
_CALIBRATION_SIZE = 40_000
_CALIBRATION_SEED = 20250630  # fixed: intercepts belong to the generator, not a world


@dataclass(frozen=True)
class Holdings:
    held: np.ndarray  # bool (n, n_banks)
    primary: np.ndarray  # bank index, -1 when unbanked
    score: np.ndarray  # float (n, n_banks): affinity, reused for app adoption


def _linear_part(
    traits: Traits, age: np.ndarray, suburban: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    income = np.array([b.income_loading for b in BANKS])
    soph = np.array([b.sophistication_loading for b in BANKS])
    age_l = np.array([b.age_loading for b in BANKS])
    suburb = np.array([b.suburban_loading for b in BANKS])
    intensity = rng.normal(0.0, _INTENSITY_SD, age.shape[0])
    return (
        traits.income[:, None] * income
        + traits.sophistication[:, None] * soph
        + ((age - 40.0) / 20.0)[:, None] * age_l
        + suburban[:, None] * suburb
        + (intensity + 0.3 * traits.income)[:, None]
    )


@functools.lru_cache(maxsize=1)
def calibrated_intercepts() -> np.ndarray:
    """Per-bank intercepts hitting each bank's penetration on a reference population."""
    rng = np.random.default_rng(_CALIBRATION_SEED)
    years, weights = year_weights()
    age = 2025 - rng.choice(years, _CALIBRATION_SIZE, p=weights / weights.sum())
    male = rng.random(_CALIBRATION_SIZE) < MALE_SHARE
    traits = draw_traits(age.astype(np.float64), male, rng)
    suburban = ~CORE[draw_home_district(traits, rng)]
    linear = _linear_part(traits, age, suburban, rng)
    targets = np.array([b.penetration for b in BANKS])
    low, high = np.full(len(BANKS), -12.0), np.full(len(BANKS), 6.0)
    for _ in range(50):  # bisection: mean holding rate is increasing in the intercept
        mid = (low + high) / 2
        rate = (1.0 / (1.0 + np.exp(-(linear + mid)))).mean(axis=0)
        low = np.where(rate < targets, mid, low)
        high = np.where(rate < targets, high, mid)
    return (low + high) / 2


def draw_holdings(
    traits: Traits, age: np.ndarray, places: Places, rng: np.random.Generator
) -> Holdings:
    score = _linear_part(traits, age, places.suburban, rng) + calibrated_intercepts()
    held = rng.random(score.shape) < 1.0 / (1.0 + np.exp(-score))
    # Almost every adult in Beijing has a bank card (pensions and wages are paid into
    # one): give most of those drawn without any the bank they are closest to.
    none = ~held.any(axis=1) & (rng.random(age.shape[0]) > _UNBANKED_KEEP)
    held[none, np.argmax(score[none], axis=1)] = True
    pick = np.where(held, score + gumbel_noise(score.shape, rng), -np.inf)
    primary = np.where(held.any(axis=1), np.argmax(pick, axis=1), -1)
    return Holdings(held=held, primary=primary, score=score)
