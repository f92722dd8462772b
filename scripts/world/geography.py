"""Beijing's 16 districts, ~50,000 cells, residential communities and office buildings.

District codes are the GB/T 2260 codes; populations are the 2020 census (in units of
10,000 people); centres and spreads are rough outlines of each district's built-up area,
so cells cluster where people live. The deck's counts set the scale: 50k base stations,
18k residential communities, 110k buildings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scripts.world.allocation import exact_counts
from scripts.world.digit_text import prefixed_ids
from scripts.world.streams import stream


@dataclass(frozen=True)
class District:
    code: str
    name_zh: str
    name_en: str
    population_10k: float
    lat: float
    lon: float
    spread_km: float
    job_share: float  # share of the city's workplaces
    affluence: float  # pull of the district on high earners (log-odds per income s.d.)


DISTRICTS: tuple[District, ...] = (
    District("110101", "东城区", "Dongcheng", 70.9, 39.917, 116.418, 2.0, 0.070, 0.35),
    District("110102", "西城区", "Xicheng", 110.6, 39.913, 116.366, 2.2, 0.100, 0.45),
    District("110105", "朝阳区", "Chaoyang", 345.2, 39.948, 116.485, 5.5, 0.240, 0.30),
    District("110106", "丰台区", "Fengtai", 201.9, 39.858, 116.287, 4.5, 0.070, -0.05),
    District(
        "110107", "石景山区", "Shijingshan", 56.8, 39.906, 116.195, 2.5, 0.020, 0.0
    ),
    District("110108", "海淀区", "Haidian", 313.3, 39.975, 116.300, 5.5, 0.220, 0.35),
    District(
        "110109", "门头沟区", "Mentougou", 39.3, 39.940, 116.102, 6.0, 0.010, -0.3
    ),
    District("110111", "房山区", "Fangshan", 131.3, 39.736, 116.140, 8.0, 0.030, -0.35),
    District("110112", "通州区", "Tongzhou", 184.0, 39.902, 116.657, 6.0, 0.050, -0.1),
    District("110113", "顺义区", "Shunyi", 132.4, 40.130, 116.654, 7.0, 0.050, -0.1),
    District(
        "110114", "昌平区", "Changping", 226.9, 40.180, 116.231, 8.0, 0.050, -0.05
    ),
    District("110115", "大兴区", "Daxing", 199.4, 39.727, 116.341, 7.0, 0.050, -0.15),
    District("110116", "怀柔区", "Huairou", 44.1, 40.316, 116.632, 8.0, 0.010, -0.35),
    District("110117", "平谷区", "Pinggu", 45.7, 40.141, 117.121, 6.0, 0.010, -0.45),
    District("110118", "密云区", "Miyun", 52.8, 40.377, 116.843, 9.0, 0.010, -0.45),
    District("110119", "延庆区", "Yanqing", 34.6, 40.456, 115.975, 8.0, 0.005, -0.5),
)
CORE_DISTRICTS = ("110101", "110102", "110105", "110108")
N_CELLS = 50_000
N_COMMUNITIES = 18_000
N_BUILDINGS = 110_000
# Beijing's bounding box; coordinates are clipped to it.
LAT_RANGE = (39.44, 41.06)
LON_RANGE = (115.42, 117.51)
_KM_PER_DEG_LAT = 111.0
_KM_PER_DEG_LON = 85.0  # at 40 degrees north


def population_shares() -> np.ndarray:
    pop = np.array([d.population_10k for d in DISTRICTS])
    return pop / pop.sum()


@dataclass(frozen=True)
class CityMap:
    """Cells and the places attached to them, shared read-only by all chunks."""

    cell_district: np.ndarray  # district index per cell
    cell_lat: np.ndarray
    cell_lon: np.ndarray
    community_cell: np.ndarray  # cell index per residential community
    community_district: np.ndarray  # district index, communities sorted by it
    community_weight: np.ndarray  # relative number of residents
    building_cell: np.ndarray  # cell index per office building
    building_district: np.ndarray  # district index, buildings sorted by it
    building_weight: np.ndarray  # relative number of workers

    def cells_table(self) -> pa.Table:
        """The operator's cell table: id, district code and name, coordinates."""
        district_codes = pa.array([d.code for d in DISTRICTS])
        district_names = pa.array([d.name_zh for d in DISTRICTS])
        district_en = pa.array([d.name_en for d in DISTRICTS])
        return pa.table(
            {
                "cell_id": cell_ids(np.arange(self.cell_lat.shape[0])),
                "district_code": district_codes.take(self.cell_district),
                "district_name": district_names.take(self.cell_district),
                "district_name_en": district_en.take(self.cell_district),
                "lat": self.cell_lat,
                "lon": self.cell_lon,
            }
        )


def cell_ids(index: np.ndarray) -> pa.Array:
    """Cell ids look like `C012345`."""
    return _prefixed_ids("C", index, 6)


def community_ids(index: np.ndarray) -> pa.Array:
    """Residential community ids look like `R01234`."""
    return _prefixed_ids("R", index, 5)


def building_ids(index: np.ndarray) -> pa.Array:
    """Office building ids look like `B012345`."""
    return _prefixed_ids("B", index, 6)


def _prefixed_ids(letter: str, index: np.ndarray, width: int) -> pa.Array:
    index = np.asarray(index, dtype=np.int64)
    ids = prefixed_ids(letter, np.maximum(index, 0), width)
    if (index < 0).any():
        # Negative index = no place (e.g. no workplace): a real null, not a fake id.
        ids = pc.if_else(pa.array(index < 0), pa.scalar(None, pa.string()), ids)
    return ids


def build_city(seed: int) -> CityMap:
    """Lay out cells, communities and buildings over the districts."""
    rng = stream(seed, "geography")
    shares = population_shares()
    # Dense districts get more cells than their population share alone: cells are
    # sized by traffic, and the core has both residents and commuters.
    jobs = np.array([d.job_share for d in DISTRICTS])
    cell_weight = 0.6 * shares + 0.4 * jobs
    cell_counts = exact_counts(N_CELLS, cell_weight)
    cell_district = np.repeat(np.arange(len(DISTRICTS)), cell_counts)
    centre_lat = np.array([d.lat for d in DISTRICTS])[cell_district]
    centre_lon = np.array([d.lon for d in DISTRICTS])[cell_district]
    spread = np.array([d.spread_km for d in DISTRICTS])[cell_district]
    # Student-t offsets: a dense centre with a long tail into the outskirts.
    north_km = rng.standard_t(4, N_CELLS) * spread
    east_km = rng.standard_t(4, N_CELLS) * spread
    lat = np.clip(centre_lat + north_km / _KM_PER_DEG_LAT, *LAT_RANGE)
    lon = np.clip(centre_lon + east_km / _KM_PER_DEG_LON, *LON_RANGE)

    def attach(count: int, weights: np.ndarray) -> tuple[np.ndarray, ...]:
        per_district = exact_counts(count, weights)
        district = np.repeat(np.arange(len(DISTRICTS)), per_district)
        starts = np.concatenate(([0], np.cumsum(cell_counts)[:-1]))
        cell = starts[district] + rng.integers(0, cell_counts[district])
        size = rng.lognormal(0.0, 0.8, count)
        return cell, district, size

    community_cell, community_district, community_weight = attach(N_COMMUNITIES, shares)
    building_cell, building_district, building_weight = attach(N_BUILDINGS, jobs)
    return CityMap(
        cell_district=cell_district,
        cell_lat=np.round(lat, 6),
        cell_lon=np.round(lon, 6),
        community_cell=community_cell,
        community_district=community_district,
        community_weight=community_weight,
        building_cell=building_cell,
        building_district=building_district,
        building_weight=building_weight,
    )


def distance_km(city: CityMap, cell_a: np.ndarray, cell_b: np.ndarray) -> np.ndarray:
    """Planar distance between cells (fine at city scale)."""
    d_lat = (city.cell_lat[cell_a] - city.cell_lat[cell_b]) * _KM_PER_DEG_LAT
    d_lon = (city.cell_lon[cell_a] - city.cell_lon[cell_b]) * _KM_PER_DEG_LON
    return np.hypot(d_lat, d_lon)
