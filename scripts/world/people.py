"""A set of people with everything about them that no party sees directly.

Subscribers and off-network people are drawn the same way: identity from the universe
index, then traits, places and bank holdings from the block's random streams. The
operator's view of them (handset and all operator columns) is drawn on demand, since
for off-network people it is only needed by the hidden outcome model.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from scripts.world.devices import draw_devices
from scripts.world.holdings import Holdings, draw_holdings
from scripts.world.identities import Identities
from scripts.world.operator_features import OperatorFeatures, build_operator_features
from scripts.world.places import Places, draw_places
from scripts.world.plan import WorldPlan
from scripts.world.streams import stream
from scripts.world.traits import Traits, draw_traits


def _stack(first: object, second: object, order: np.ndarray) -> object:
    """Concatenate two parallel-array records (or arrays), then reorder the rows."""
    if isinstance(first, np.ndarray):
        return np.concatenate([first, second])[order]
    kind = type(first)
    return kind(
        **{
            f.name: _stack(getattr(first, f.name), getattr(second, f.name), order)
            for f in fields(first)
        }
    )


def _take(record: object, rows: np.ndarray) -> object:
    if isinstance(record, np.ndarray):
        return record[rows]
    kind = type(record)
    return kind(
        **{f.name: _take(getattr(record, f.name), rows) for f in fields(record)}
    )


@dataclass(frozen=True)
class People:
    """Parallel arrays about a set of people, indexed by position."""

    index: np.ndarray  # universe index
    ids: Identities
    age: np.ndarray
    traits: Traits
    places: Places
    holdings: Holdings

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def take(self, rows: np.ndarray) -> People:
        return _take(self, rows)

    def followed_by(self, other: People, order: np.ndarray) -> People:
        """These people then `other`, rows rearranged by `order`."""
        return _stack(self, other, order)


def draw_people(plan: WorldPlan, index: np.ndarray, purpose: str, block: int) -> People:
    ids = plan.identities.lookup(index)
    age = ids.age.astype(np.float64)
    traits = draw_traits(age, ids.male, stream(plan.seed, f"{purpose}.traits", block))
    places = draw_places(
        traits, plan.city, stream(plan.seed, f"{purpose}.places", block)
    )
    holdings = draw_holdings(
        traits, age, places, stream(plan.seed, f"{purpose}.holdings", block)
    )
    return People(index, ids, age, traits, places, holdings)


def operator_view(
    plan: WorldPlan, people: People, purpose: str, block: int
) -> OperatorFeatures:
    """The operator's columns for these people (and the gap-free values behind them)."""
    devices = draw_devices(
        people.traits, people.age, stream(plan.seed, f"{purpose}.devices", block)
    )
    return build_operator_features(
        people.age,
        people.ids.male,
        people.traits,
        people.places,
        people.holdings,
        devices,
        plan.city,
        stream(plan.seed, f"{purpose}.operator", block),
    )
