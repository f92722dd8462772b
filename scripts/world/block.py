"""Generate one block of the world: its subscribers, and every bank's customers,
applicants, seed audience and hidden outcomes that come from the same people.

A block is self-contained: it reads only the shared WorldPlan and its own random
streams, so blocks run in any order, in any process, with the same result.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa

from scripts.world.bank_features import build_bank_features
from scripts.world.contacts import N_CONTACTS, draw_contacts
from scripts.world.devices import draw_devices
from scripts.world.digit_text import prefixed_ids
from scripts.world.ground_truth import (
    CAMPAIGN,
    DEFAULT_12M,
    RESPONSE,
    campaign_design,
    default_design,
    response_design,
)
from scripts.world.holdings import Holdings, draw_holdings
from scripts.world.identities import Identities
from scripts.world.names import draw_names
from scripts.world.operator_features import OperatorFeatures, build_operator_features
from scripts.world.phones import phone_strings
from scripts.world.places import Places, draw_places
from scripts.world.plan import Party, WorldPlan
from scripts.world.streams import stream
from scripts.world.traits import Traits, draw_traits

Columns = dict[str, "np.ndarray | pa.Array"]
SEED_EVENT = "card_wallet_activation"
_ACTIVATION_MONTHS = ("2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06")


@dataclass(frozen=True)
class People:
    """Everything hidden or identifying about a set of people (parallel arrays)."""

    index: np.ndarray  # universe index
    ids: Identities
    age: np.ndarray
    traits: Traits
    places: Places
    holdings: Holdings

    def take(self, rows: np.ndarray) -> People:
        return People(
            **{
                f.name: (
                    getattr(self, f.name)[rows]
                    if isinstance(getattr(self, f.name), np.ndarray)
                    else getattr(self, f.name).take(rows)
                )
                for f in fields(self)
            }
        )


@dataclass
class BlockOutput:
    block: int
    tables: dict[str, pa.Table]  # relative path without extension -> rows
    report: dict[str, pa.Table]  # party id -> joined sample for the AUC report


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


def take(columns: Columns, rows: np.ndarray) -> Columns:
    out: Columns = {}
    for name, values in columns.items():
        if isinstance(values, np.ndarray):
            out[name] = values[rows]
        else:
            out[name] = values.take(pa.array(rows, type=pa.int64()))
    return out


def concat(first: Columns, second: Columns) -> Columns:
    out: Columns = {}
    for name, a in first.items():
        b = second[name]
        if isinstance(a, np.ndarray):
            out[name] = np.concatenate([a, b])
        else:
            out[name] = pa.concat_arrays([a, b])
    return out


def generate_block(plan: WorldPlan, block: int) -> BlockOutput:
    start, stop = plan.block_range(block)
    index = np.arange(start, stop, dtype=np.int64)
    subs = draw_people(plan, index, "sub", block)
    sub_op = operator_view(plan, subs, "sub", block)
    numbers = plan.phones.subscriber_numbers(index)
    names = draw_names(
        subs.ids.male, subs.ids.birth_year, stream(plan.seed, "sub.names", block)
    )
    resident_ids = subs.ids.resident_ids()
    contacts = draw_contacts(
        plan.phones, index, plan.subscribers, stream(plan.seed, "sub.contacts", block)
    )
    identity: Columns = {
        "phone": phone_strings(numbers),
        "name": names,
        "resident_id": resident_ids,
    }
    subscriber_cols: Columns = dict(identity)
    for j in range(N_CONTACTS):
        subscriber_cols[f"contact_{j + 1}"] = phone_strings(contacts[:, j])
    subscriber_cols.update(sub_op.columns)
    tables = {"operator/subscribers": pa.table(subscriber_cols)}
    report: dict[str, pa.Table] = {}
    for party in plan.parties:
        bank_tables, sample = _bank_block(plan, block, party, subs, sub_op, identity)
        tables.update(bank_tables)
        report[party.party_id] = sample
    return BlockOutput(block=block, tables=tables, report=report)


def _bank_block(
    plan: WorldPlan,
    block: int,
    party: Party,
    subs: People,
    sub_op: OperatorFeatures,
    sub_identity: Columns,
) -> tuple[dict[str, pa.Table], pa.Table]:
    code, b = party.bank_code, party.bank_index
    purpose = f"off.{code}"
    # Customers on this network: every subscriber holding an account at the bank.
    on_rows = np.flatnonzero(subs.holdings.held[:, b])
    on = subs.take(on_rows)
    # Customers on other networks: holders among this block's off-network population.
    low, high = plan.off_network_range(block, party.slot)
    pool = draw_people(plan, np.arange(low, high, dtype=np.int64), purpose, block)
    off = pool.take(np.flatnonzero(pool.holdings.held[:, b]))
    off_op = operator_view(plan, off, purpose, block)
    off_identity: Columns = {
        "phone": phone_strings(
            plan.phones.off_network_numbers(off.index - plan.subscribers)
        ),
        "name": draw_names(
            off.ids.male,
            off.ids.birth_year,
            stream(plan.seed, f"{purpose}.names", block),
        ),
        "resident_id": off.ids.resident_ids(),
    }

    # Interleave on- and off-network customers in a random order, as a bank's
    # customer file would be (sorted by nothing the operator could exploit).
    n_on, n_off = on_rows.size, off.index.size
    rng = stream(plan.seed, f"bank.{code}.order", block)
    order = rng.permutation(n_on + n_off)
    on_network = np.concatenate([np.ones(n_on, bool), np.zeros(n_off, bool)])[order]
    people_index = np.concatenate([on.index, off.index])[order]
    identity = take(concat(take(sub_identity, on_rows), off_identity), order)
    age = np.concatenate([on.age, off.age])[order]
    male = np.concatenate([on.ids.male, off.ids.male])[order]
    traits = Traits(
        **{
            f.name: np.concatenate(
                [getattr(on.traits, f.name), getattr(off.traits, f.name)]
            )[order]
            for f in fields(Traits)
        }
    )
    places = Places(
        **{
            f.name: np.concatenate(
                [getattr(on.places, f.name), getattr(off.places, f.name)]
            )[order]
            for f in fields(Places)
        }
    )
    op_truth = {
        key: np.concatenate([sub_op.truth[key][on_rows], off_op.truth[key]])[order]
        for key in sub_op.truth
    }
    is_primary = np.concatenate([on.holdings.primary, off.holdings.primary])[order] == b
    bank = build_bank_features(
        age,
        male,
        traits,
        places,
        is_primary,
        op_truth["bank_app_minutes"][:, b],
        stream(plan.seed, f"bank.{code}.features", block),
    )

    # Outcomes from the hidden model; one uniform per person and outcome.
    draws = stream(plan.seed, f"bank.{code}.outcomes", block).random((age.size, 3))
    d_design = default_design(bank.truth, op_truth, traits)
    r_design = response_design(bank.truth, op_truth, traits, b)
    p_default = DEFAULT_12M.probability(d_design)
    p_response = RESPONSE.probability(r_design)
    d_parts, r_parts = DEFAULT_12M.parts(d_design), RESPONSE.parts(r_design)
    defaulted = draws[:, 0] < p_default
    responded = draws[:, 1] < p_response
    applicant = bank.has_credit & (draws[:, 2] < plan.applicant_share)
    customer = ~applicant

    tables: dict[str, pa.Table] = {}
    cust_rows = np.flatnonzero(customer)
    customer_numbers = plan.customer_ids[code].apply(people_index)
    customer_ids = prefixed_ids(code.upper(), customer_numbers, 10)
    cust_cols: Columns = {"customer_id": customer_ids}
    cust_cols.update(identity)
    cust_cols.update(bank.columns)
    cust_cols = take(cust_cols, cust_rows)
    cust_cols["default_12m"] = pa.array(
        defaulted[cust_rows].astype(np.int8),
        type=pa.int8(),
        mask=~bank.has_credit[cust_rows],
    )
    cust_cols["response"] = responded[cust_rows].astype(np.int8)
    tables[f"banks/{party.party_id}/customers"] = pa.table(cust_cols)
    tables[f"ground_truth/{party.party_id}_customers_truth"] = pa.table(
        {
            "customer_id": cust_cols["customer_id"],
            "phone": cust_cols["phone"],
            "on_network": on_network[cust_rows],
            "p_default": np.where(bank.has_credit, p_default, np.nan)[cust_rows],
            "p_response": p_response[cust_rows],
            **{
                f"default_logit_{side}": np.where(bank.has_credit, part, np.nan)[
                    cust_rows
                ]
                for side, part in d_parts.items()
            },
            **{
                f"response_logit_{side}": part[cust_rows]
                for side, part in r_parts.items()
            },
        }
    )

    app_rows = np.flatnonzero(applicant)
    consent_draw = stream(plan.seed, f"bank.{code}.consent", block).random(
        app_rows.size
    )
    application_ids = prefixed_ids(
        "APP", plan.application_ids.apply(people_index[app_rows]), 10
    )
    app_cols: Columns = {"application_id": application_ids}
    app_cols.update(take(identity, app_rows))
    app_cols["consent"] = consent_draw < plan.consent_rate
    app_cols.update(take(bank.columns, app_rows))
    tables[f"banks/{party.party_id}/applicants"] = pa.table(app_cols)
    tables[f"ground_truth/{party.party_id}_applicants_outcome"] = pa.table(
        {
            "application_id": application_ids,
            "phone": app_cols["phone"],
            "on_network": on_network[app_rows],
            "default_12m": defaulted[app_rows].astype(np.int8),
            "p_default": p_default[app_rows],
        }
    )

    seed_rows = np.flatnonzero(customer & responded)
    month = stream(plan.seed, f"bank.{code}.seed", block).integers(
        0, len(_ACTIVATION_MONTHS), seed_rows.size
    )
    tables[f"banks/{party.party_id}/seed_audience"] = pa.table(
        {
            "phone": take(identity, seed_rows)["phone"],
            "seed_event": pa.array([SEED_EVENT] * seed_rows.size, type=pa.string()),
            "event_month": pa.array(_ACTIVATION_MONTHS).take(pa.array(month)),
        }
    )

    p_convert = CAMPAIGN.probability(
        campaign_design(
            sub_op.truth, subs.traits, subs.age, subs.holdings.held[:, b], b
        )
    )
    tables[f"ground_truth/{party.party_id}_campaign_propensity"] = pa.table(
        {"phone": sub_identity["phone"], "p_convert": p_convert}
    )

    # Joined sample for the AUC report: this bank's on-network customers, with the
    # operator's columns of the same people (what a perfect join would give).
    sample_draw = stream(plan.seed, f"report.{code}", block).random(age.size)
    keep = np.flatnonzero(customer & on_network & (sample_draw < plan.report_fraction))
    sub_row = np.searchsorted(subs.index, people_index[keep])
    sample: Columns = take(bank.columns, keep)
    sample.update(take(sub_op.columns, sub_row))
    sample["default_12m"] = np.where(bank.has_credit[keep], defaulted[keep], -1).astype(
        np.int8
    )
    sample["response"] = responded[keep].astype(np.int8)
    sample["p_default"] = p_default[keep]
    sample["p_response"] = p_response[keep]
    return tables, pa.table(sample)
