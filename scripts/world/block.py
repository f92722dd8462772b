"""Generate one block of the world: its subscribers, and every bank's customers,
applicants, seed audience and hidden outcomes that come from the same people.

A block is self-contained: it reads only the shared WorldPlan and its own random
streams, so blocks run in any order, in any process, with the same result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from scripts.world.bank_features import BankFeatures, build_bank_features
from scripts.world.contacts import N_CONTACTS, draw_contacts
from scripts.world.digit_text import prefixed_ids
from scripts.world.ground_truth import (
    CAMPAIGN,
    DEFAULT_12M,
    RESPONSE,
    campaign_design,
    default_design,
    response_design,
)
from scripts.world.names import draw_names
from scripts.world.operator_features import OperatorFeatures
from scripts.world.people import People, draw_people, operator_view
from scripts.world.phones import phone_strings
from scripts.world.plan import Party, WorldPlan
from scripts.world.streams import stream

Columns = dict[str, "np.ndarray | pa.Array"]
Tables = dict[str, pa.Table]
SEED_EVENT = "card_wallet_activation"
_ACTIVATION_MONTHS = ("2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06")


@dataclass
class BlockOutput:
    block: int
    tables: Tables  # relative path without extension -> rows
    report: dict[str, pa.Table]  # party id -> joined sample for the AUC report


@dataclass
class Subscribers:
    people: People
    operator: OperatorFeatures
    identity: Columns  # phone, name, resident_id


@dataclass
class Customers:
    """One bank's customers in this block, on and off the network, in file order."""

    people: People
    identity: Columns
    operator_truth: dict[str, np.ndarray]  # for the hidden model only
    on_network: np.ndarray
    subscriber_row: np.ndarray  # row in the block's subscribers, -1 if off-network


@dataclass
class Outcomes:
    p_default: np.ndarray
    p_response: np.ndarray
    defaulted: np.ndarray
    responded: np.ndarray
    applicant: np.ndarray
    default_parts: dict[str, np.ndarray]
    response_parts: dict[str, np.ndarray]


def take(columns: Columns, rows: np.ndarray) -> Columns:
    out: Columns = {}
    for name, values in columns.items():
        if isinstance(values, np.ndarray):
            out[name] = values[rows]
        else:
            out[name] = values.take(pa.array(rows, type=pa.int64()))
    return out


def generate_block(plan: WorldPlan, block: int) -> BlockOutput:
    start, stop = plan.block_range(block)
    index = np.arange(start, stop, dtype=np.int64)
    people = draw_people(plan, index, "sub", block)
    names = draw_names(
        people.ids.male, people.ids.birth_year, stream(plan.seed, "sub.names", block)
    )
    identity: Columns = {
        "phone": phone_strings(plan.phones.subscriber_numbers(index)),
        "name": names,
        "resident_id": people.ids.resident_ids(),
    }
    subs = Subscribers(people, operator_view(plan, people, "sub", block), identity)
    contacts = draw_contacts(
        plan.phones, index, plan.subscribers, stream(plan.seed, "sub.contacts", block)
    )
    columns: Columns = dict(identity)
    for j in range(N_CONTACTS):
        columns[f"contact_{j + 1}"] = phone_strings(contacts[:, j])
    columns.update(subs.operator.columns)
    tables: Tables = {"operator/subscribers": pa.table(columns)}
    report: dict[str, pa.Table] = {}
    for party in plan.parties:
        bank_tables, report[party.party_id] = _bank_block(plan, block, party, subs)
        tables.update(bank_tables)
    return BlockOutput(block=block, tables=tables, report=report)


def _customers(
    plan: WorldPlan, block: int, party: Party, subs: Subscribers
) -> Customers:
    code, b = party.bank_code, party.bank_index
    purpose = f"off.{code}"
    # On this network: every subscriber holding an account at the bank.
    on_rows = np.flatnonzero(subs.people.holdings.held[:, b])
    on = subs.people.take(on_rows)
    # On other networks: holders among this block's off-network population.
    low, high = plan.off_network_range(block, party.slot)
    pool = draw_people(plan, np.arange(low, high, dtype=np.int64), purpose, block)
    off = pool.take(np.flatnonzero(pool.holdings.held[:, b]))
    off_operator = operator_view(plan, off, purpose, block)
    off_names = draw_names(
        off.ids.male, off.ids.birth_year, stream(plan.seed, f"{purpose}.names", block)
    )
    off_phones = plan.phones.off_network_numbers(off.index - plan.subscribers)

    # Interleave both in a random order, as a bank's customer file would be (sorted
    # by nothing the operator could exploit).
    order = stream(plan.seed, f"bank.{code}.order", block).permutation(
        len(on) + len(off)
    )
    on_identity = take(subs.identity, on_rows)
    identity: Columns = {
        "phone": pa.concat_arrays([on_identity["phone"], phone_strings(off_phones)]),
        "name": pa.concat_arrays([on_identity["name"], off_names]),
        "resident_id": pa.concat_arrays(
            [on_identity["resident_id"], off.ids.resident_ids()]
        ),
    }
    truth = {
        key: np.concatenate([values[on_rows], off_operator.truth[key]])[order]
        for key, values in subs.operator.truth.items()
    }
    return Customers(
        people=on.followed_by(off, order),
        identity=take(identity, order),
        operator_truth=truth,
        on_network=np.concatenate([np.ones(len(on), bool), np.zeros(len(off), bool)])[
            order
        ],
        subscriber_row=np.concatenate([on_rows, np.full(len(off), -1)])[order],
    )


def _outcomes(
    plan: WorldPlan, block: int, party: Party, cust: Customers, bank: BankFeatures
) -> Outcomes:
    """Labels from the hidden model: one uniform per person and outcome."""
    code, b = party.bank_code, party.bank_index
    draws = stream(plan.seed, f"bank.{code}.outcomes", block).random(
        (len(cust.people), 3)
    )
    traits = cust.people.traits
    d_design = default_design(bank.truth, cust.operator_truth, traits)
    r_design = response_design(bank.truth, cust.operator_truth, traits, b)
    p_default = DEFAULT_12M.probability(d_design)
    p_response = RESPONSE.probability(r_design)
    return Outcomes(
        p_default=p_default,
        p_response=p_response,
        defaulted=draws[:, 0] < p_default,
        responded=draws[:, 1] < p_response,
        # Applicants: loan customers held out of the customer file, outcome hidden.
        applicant=bank.has_credit & (draws[:, 2] < plan.applicant_share),
        default_parts=DEFAULT_12M.parts(d_design),
        response_parts=RESPONSE.parts(r_design),
    )


def _bank_block(
    plan: WorldPlan, block: int, party: Party, subs: Subscribers
) -> tuple[Tables, pa.Table]:
    code, b = party.bank_code, party.bank_index
    cust = _customers(plan, block, party, subs)
    people = cust.people
    bank = build_bank_features(
        people.age,
        people.ids.male,
        people.traits,
        people.places,
        people.holdings.primary == b,
        cust.operator_truth["bank_app_minutes"][:, b],
        stream(plan.seed, f"bank.{code}.features", block),
    )
    outcomes = _outcomes(plan, block, party, cust, bank)
    tables: Tables = {}
    tables.update(_customer_tables(plan, party, cust, bank, outcomes))
    tables.update(_applicant_tables(plan, block, party, cust, bank, outcomes))
    tables[f"banks/{party.party_id}/seed_audience"] = _seed_audience(
        plan, block, party, cust, outcomes
    )
    p_convert = CAMPAIGN.probability(
        campaign_design(
            subs.operator.truth,
            subs.people.traits,
            subs.people.age,
            subs.people.holdings.held[:, b],
            b,
        )
    )
    tables[f"ground_truth/{party.party_id}_campaign_propensity"] = pa.table(
        {"phone": subs.identity["phone"], "p_convert": p_convert}
    )
    return tables, _report_sample(plan, block, party, subs, cust, bank, outcomes)


def _customer_tables(
    plan: WorldPlan, party: Party, cust: Customers, bank: BankFeatures, out: Outcomes
) -> Tables:
    rows = np.flatnonzero(~out.applicant)
    numbers = plan.customer_ids[party.bank_code].apply(cust.people.index[rows])
    columns: Columns = {
        "customer_id": prefixed_ids(party.bank_code.upper(), numbers, 10)
    }
    columns.update(take(cust.identity, rows))
    columns.update(take(bank.columns, rows))
    has_credit = bank.has_credit[rows]
    columns["default_12m"] = pa.array(
        out.defaulted[rows].astype(np.int8), type=pa.int8(), mask=~has_credit
    )
    columns["response"] = out.responded[rows].astype(np.int8)
    truth: Columns = {
        "customer_id": columns["customer_id"],
        "phone": columns["phone"],
        "on_network": cust.on_network[rows],
        "p_default": np.where(has_credit, out.p_default[rows], np.nan),
        "p_response": out.p_response[rows],
    }
    for side, part in out.default_parts.items():
        truth[f"default_logit_{side}"] = np.where(has_credit, part[rows], np.nan)
    for side, part in out.response_parts.items():
        truth[f"response_logit_{side}"] = part[rows]
    return {
        f"banks/{party.party_id}/customers": pa.table(columns),
        f"ground_truth/{party.party_id}_customers_truth": pa.table(truth),
    }


def _applicant_tables(
    plan: WorldPlan,
    block: int,
    party: Party,
    cust: Customers,
    bank: BankFeatures,
    out: Outcomes,
) -> Tables:
    rows = np.flatnonzero(out.applicant)
    consent = stream(plan.seed, f"bank.{party.bank_code}.consent", block).random(
        rows.size
    )
    numbers = plan.application_ids.apply(cust.people.index[rows])
    columns: Columns = {"application_id": prefixed_ids("APP", numbers, 10)}
    columns.update(take(cust.identity, rows))
    columns["consent"] = consent < plan.consent_rate
    columns.update(take(bank.columns, rows))
    outcome = {
        "application_id": columns["application_id"],
        "phone": columns["phone"],
        "on_network": cust.on_network[rows],
        "default_12m": out.defaulted[rows].astype(np.int8),
        "p_default": out.p_default[rows],
    }
    return {
        f"banks/{party.party_id}/applicants": pa.table(columns),
        f"ground_truth/{party.party_id}_applicants_outcome": pa.table(outcome),
    }


def _seed_audience(
    plan: WorldPlan, block: int, party: Party, cust: Customers, out: Outcomes
) -> pa.Table:
    """Customers who activated the card wallet: the seed for lookalike marketing."""
    rows = np.flatnonzero(~out.applicant & out.responded)
    month = stream(plan.seed, f"bank.{party.bank_code}.seed", block).integers(
        0, len(_ACTIVATION_MONTHS), rows.size
    )
    return pa.table(
        {
            "phone": take(cust.identity, rows)["phone"],
            "seed_event": pa.array([SEED_EVENT] * rows.size, type=pa.string()),
            "event_month": pa.array(_ACTIVATION_MONTHS).take(pa.array(month)),
        }
    )


def _report_sample(
    plan: WorldPlan,
    block: int,
    party: Party,
    subs: Subscribers,
    cust: Customers,
    bank: BankFeatures,
    out: Outcomes,
) -> pa.Table:
    """This bank's on-network customers with the operator's columns of the same
    people: what a perfect join would give, for the AUC report."""
    draw = stream(plan.seed, f"report.{party.bank_code}", block).random(
        len(cust.people)
    )
    keep = np.flatnonzero(
        ~out.applicant & cust.on_network & (draw < plan.report_fraction)
    )
    sample: Columns = take(bank.columns, keep)
    sample.update(take(subs.operator.columns, cust.subscriber_row[keep]))
    sample["default_12m"] = np.where(
        bank.has_credit[keep], out.defaulted[keep], -1
    ).astype(np.int8)
    sample["response"] = out.responded[keep].astype(np.int8)
    sample["p_default"] = out.p_default[keep]
    sample["p_response"] = out.p_response[keep]
    return pa.table(sample)
