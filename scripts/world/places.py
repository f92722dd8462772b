"""Where people live and work: district, residential community, office building, cells.

High earners gravitate to the core districts; about half of the workforce works in its
home district and the rest commute, mostly into Chaoyang, Haidian and the centre.
Students, the unemployed, the retired and some of the self-employed have no workplace.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scripts.world.choice import choose
from scripts.world.geography import CORE_DISTRICTS, DISTRICTS, CityMap
from scripts.world.traits import EMPLOYED, SELF_EMPLOYED, Traits

_SAME_DISTRICT_WORK = 0.45
_SELF_EMPLOYED_WITH_OFFICE = 0.7
CORE = np.array([d.code in CORE_DISTRICTS for d in DISTRICTS])


@dataclass(frozen=True)
class Places:
    home_district: np.ndarray  # district index
    home_community: np.ndarray
    home_cell: np.ndarray
    work_district: np.ndarray  # -1 = no workplace
    work_building: np.ndarray  # -1 = no workplace
    work_cell: np.ndarray  # -1 = no workplace

    @property
    def suburban(self) -> np.ndarray:
        return ~CORE[self.home_district]


def _weighted_within(
    district: np.ndarray,
    item_district: np.ndarray,
    item_weight: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Pick one item of each person's district, proportionally to item weights.

    Items are sorted by district, so each district owns one slice of the cumulative
    weights and a single searchsorted serves every person at once.
    """
    cumulative = np.cumsum(item_weight)
    n_districts = len(DISTRICTS)
    ends = np.searchsorted(item_district, np.arange(n_districts), side="right")
    starts = np.searchsorted(item_district, np.arange(n_districts), side="left")
    low = np.where(starts > 0, cumulative[np.maximum(starts - 1, 0)], 0.0)
    high = cumulative[ends - 1]
    target = low[district] + rng.random(district.shape[0]) * (high - low)[district]
    picked = np.searchsorted(cumulative, target, side="right")
    return np.minimum(picked, ends[district] - 1)


def draw_home_district(traits: Traits, rng: np.random.Generator) -> np.ndarray:
    """District index of each person's home: big districts, and the rich in the core."""
    population = np.log([d.population_10k for d in DISTRICTS])
    affluence = np.array([d.affluence for d in DISTRICTS])
    home_logits = population[None, :] + traits.income[:, None] * affluence[None, :]
    return choose(home_logits, rng)


def draw_places(traits: Traits, city: CityMap, rng: np.random.Generator) -> Places:
    n = traits.income.shape[0]
    home_district = draw_home_district(traits, rng)
    home_community = _weighted_within(
        home_district, city.community_district, city.community_weight, rng
    )

    jobs = np.log([d.job_share for d in DISTRICTS])
    job_share = np.exp(jobs) / np.exp(jobs).sum()
    work_district = np.asarray(rng.choice(len(DISTRICTS), size=n, p=job_share))
    stay = rng.random((n,)) < _SAME_DISTRICT_WORK
    work_district[stay] = home_district[stay]
    has_work = (traits.occupation == EMPLOYED) | (
        (traits.occupation == SELF_EMPLOYED)
        & (rng.random(n) < _SELF_EMPLOYED_WITH_OFFICE)
    )
    building = _weighted_within(
        work_district, city.building_district, city.building_weight, rng
    )
    work_building = np.where(has_work, building, -1)
    return Places(
        home_district=home_district,
        home_community=home_community,
        home_cell=city.community_cell[home_community],
        work_district=np.where(has_work, work_district, -1),
        work_building=work_building,
        work_cell=np.where(has_work, city.building_cell[building], -1),
    )
