"""A bank's view of its own customers: demographics, balances, products, credit.

Built for the people who hold an account at the bank, from the same hidden traits as
the operator side, so the two views overlap but differ. `BankFeatures.truth` keeps the
gap-free values that the hidden outcome model reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from scripts.world.geography import DISTRICTS
from scripts.world.places import Places
from scripts.world.traits import EMPLOYED, OCCUPATIONS, SELF_EMPLOYED, Traits

INCOME_BANDS = ("<5k", "5k-10k", "10k-20k", "20k-50k", ">=50k")
_INCOME_EDGES = (5_000, 10_000, 20_000, 50_000)
_INCOME_UNDECLARED = 0.12  # customers who never declared an income
_OCCUPATION_UNDECLARED = 0.06
_APP_FLAG_NOISE = 0.05  # bank's login records disagree with app traffic
_MAX_MONTHS_ON_BOOK = 480


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _strings(values: tuple[str, ...], index: np.ndarray) -> pa.Array:
    index = np.asarray(index)
    return pa.array(values).take(
        pa.array(np.where(index < 0, 0, index), mask=index < 0)
    )


@dataclass
class BankFeatures:
    columns: dict[str, np.ndarray | pa.Array]
    truth: dict[str, np.ndarray]
    has_credit: np.ndarray  # bool: loan customer (card, consumer loan or mortgage)


def build_bank_features(
    age: np.ndarray,
    male: np.ndarray,
    traits: Traits,
    places: Places,
    is_primary: np.ndarray,
    bank_app_minutes: np.ndarray,
    rng: np.random.Generator,
) -> BankFeatures:
    """Bank-side columns for customers of one bank (all arrays aligned on customers)."""
    n = age.shape[0]
    age_z = (age - 40.0) / 20.0
    inc, stab = traits.income, traits.stability
    soph, risk = traits.sophistication, traits.risk
    cols: dict[str, np.ndarray | pa.Array] = {}

    occupation = np.where(
        rng.random(n) < _OCCUPATION_UNDECLARED, -1, traits.occupation.astype(np.int64)
    )
    # Declared income is rounded up a little (applicants flatter themselves).
    declared = traits.income_cny * np.exp(rng.normal(0.08, 0.25, n))
    band = np.digitize(declared, _INCOME_EDGES)
    band = np.where(rng.random(n) < _INCOME_UNDECLARED, -1, band)
    # Since adulthood, and modern retail banking is about 40 years old.
    months_max = np.clip((age - 18) * 12, 1, _MAX_MONTHS_ON_BOOK)
    months = np.exp(np.log(80) + 0.5 * stab + 0.4 * age_z + rng.normal(0, 0.8, n))
    months = np.clip(np.ceil(months), 1, months_max).astype(np.int16)
    working = (traits.occupation == EMPLOYED) | (traits.occupation == SELF_EMPLOYED)
    payroll = working & (rng.random(n) < np.where(is_primary, 0.7, 0.05))
    deposit = np.exp(
        np.log(15_000) + 0.9 * inc + 0.5 * age_z + 1.0 * is_primary + 0.6 * payroll
        + rng.normal(0, 1.2, n)
    )  # fmt: skip
    has_wealth = rng.random(n) < _sigmoid(
        -2.2 + 0.8 * inc + 0.6 * soph + 0.4 * age_z + 0.5 * is_primary
    )
    aum = np.where(
        has_wealth, np.exp(np.log(200_000) + 0.8 * inc + rng.normal(0, 1, n)), 0
    )
    card = rng.random(n) < _sigmoid(
        -0.9 + 0.5 * inc + 0.5 * soph + 0.3 * risk - 0.8 * (age > 65) + 0.4 * is_primary
    )
    loan = rng.random(n) < _sigmoid(-2.4 + 0.7 * risk - 0.4 * stab + 0.2 * inc)
    mortgage = rng.random(n) < _sigmoid(
        -2.6
        + 0.6 * inc
        + 0.5 * stab
        - 1.2 * ((age - 40.0) / 12.0) ** 2
        + 0.3 * is_primary
    )
    unsecured = card | loan
    has_credit = unsecured | mortgage
    limit = np.round(
        np.exp(
            np.log(25_000)
            + 0.7 * inc
            + 0.2 * np.log1p(months / 12)
            + rng.normal(0, 0.5, n)
        ),
        -3,
    )
    utilization = _sigmoid(
        -0.9 + 0.6 * risk - 0.4 * inc - 0.3 * stab
        + rng.normal(0, 0.9, n)
    )  # fmt: skip
    over_limit = rng.random(n) < 0.03
    utilization = np.where(over_limit, utilization * 0.1 + 1.0, utilization)
    delinquent = rng.poisson(
        np.exp(-2.2 + 0.6 * risk - 0.7 * stab - 0.3 * inc + rng.normal(0, 0.5, n))
    )
    delinquent = np.minimum(delinquent, 24)
    dpd_levels = np.array([0, 15, 30, 60, 90, 120])
    max_dpd = dpd_levels[
        np.minimum(delinquent + rng.integers(0, 2, n) * (delinquent > 0), 5)
    ]
    app_user = (bank_app_minutes > 0) ^ (rng.random(n) < _APP_FLAG_NOISE)
    branch = np.where(rng.random(n) < 0.7, places.home_district, rng.integers(0, 16, n))

    cols["bank_age"] = age.astype(np.int16)
    cols["bank_gender"] = _strings(("F", "M"), male.astype(np.int64))
    cols["bank_occupation"] = _strings(OCCUPATIONS, occupation)
    cols["bank_income_band"] = _strings(INCOME_BANDS, band)
    cols["bank_branch_district"] = _strings(tuple(d.code for d in DISTRICTS), branch)
    cols["bank_months_on_book"] = months
    cols["bank_payroll"] = payroll.astype(np.int8)
    cols["bank_deposit_avg_3m_cny"] = np.round(deposit, 2)
    cols["bank_wealth_aum_cny"] = np.round(aum, 2)
    cols["bank_has_credit_card"] = card.astype(np.int8)
    cols["bank_has_consumer_loan"] = loan.astype(np.int8)
    cols["bank_has_mortgage"] = mortgage.astype(np.int8)
    cols["bank_has_wealth"] = has_wealth.astype(np.int8)
    cols["bank_products_n"] = (
        1 + card.astype(np.int8) + loan + mortgage + has_wealth
    ).astype(np.int8)
    cols["bank_credit_limit_cny"] = np.where(unsecured, limit, np.nan)
    cols["bank_utilization"] = np.where(unsecured, np.round(utilization, 4), np.nan)
    cols["bank_delinq_times_24m"] = np.where(has_credit, delinquent, np.nan).astype(
        np.float32
    )
    cols["bank_max_dpd_24m"] = np.where(has_credit, max_dpd, np.nan).astype(np.float32)
    cols["bank_mobile_app_user"] = app_user.astype(np.int8)
    truth = {
        "delinquent": delinquent.astype(np.float64),
        "utilization": np.where(unsecured, utilization, 0.0),
        "income_cny": traits.income_cny,
        "months_on_book": months.astype(np.float64),
        "deposit": deposit,
        "consumer_loan": loan.astype(np.float64),
        "credit_card": card.astype(np.float64),
        "app_user": app_user.astype(np.float64),
        "payroll": payroll.astype(np.float64),
        "age": age.astype(np.float64),
    }
    return BankFeatures(columns=cols, truth=truth, has_credit=has_credit)
