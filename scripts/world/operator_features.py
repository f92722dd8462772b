"""The operator's view of a subscriber: account, usage, bank SMS, apps, places, device.

Every column is derived from the hidden traits plus noise, with heavy-tailed amounts and
realistic gaps (traffic that cannot be attributed to an app, records missing from a
billing run, unidentified handsets). Column groups share a prefix so that the operator
can expose feature *groups* by prefix: profile_, acct_, usage_, sms955_, app_, place_,
device_. `OperatorFeatures.truth` keeps the values before gaps were punched into them:
the hidden outcome model reads those, as reality would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from scripts.world.banks import BANK_CODES
from scripts.world.choice import choose
from scripts.world.devices import CATALOGUE, PRICE_TIERS, TIER_OF_MODEL, Devices
from scripts.world.geography import (
    DISTRICTS,
    CityMap,
    building_ids,
    cell_ids,
    community_ids,
    distance_km,
)
from scripts.world.holdings import Holdings
from scripts.world.places import Places
from scripts.world.traits import Traits

ACCOUNT_STATUSES = ("active", "suspended", "cancelled")
ACTIVE, SUSPENDED, CANCELLED = range(3)
# China Mobile style monthly plans: (name, fee in CNY).
PLANS = (
    ("4G-18", 18), ("4G-38", 38), ("4G-58", 58), ("4G-88", 88), ("5G-128", 128),
    ("5G-198", 198), ("5G-298", 298), ("5G-398", 398), ("5G-598", 598),
)  # fmt: skip
APP_CATEGORIES = (
    "payments", "securities", "insurance", "lending", "ecommerce", "social", "video",
    "news", "travel", "cars", "housing", "education", "games",
)  # fmt: skip
_APP_UNIDENTIFIED = 0.025  # share whose traffic cannot be attributed (VPN, tethering)
_DATA_RECORD_GAP = 0.015  # share missing from the data-usage billing run
_DEVICE_UNKNOWN = 0.015  # share whose handset the network could not identify
_ALERT_OPT_IN_PRIMARY = 0.97
_ALERT_OPT_IN_OTHER = 0.85
_MAX_TENURE_MONTHS = 360
_MAX_APP_MINUTES = 12_000.0  # ~6.7 hours a day in one category


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class OperatorFeatures:
    columns: dict[str, np.ndarray | pa.Array]  # output columns, in output order
    truth: dict[str, np.ndarray]  # gap-free values read by the hidden outcome model


def _strings(values: tuple[str, ...], index: np.ndarray) -> pa.Array:
    """Categorical strings from codes; negative codes become nulls."""
    index = np.asarray(index)
    return pa.array(values).take(
        pa.array(np.where(index < 0, 0, index), mask=index < 0)
    )


def build_operator_features(
    age: np.ndarray,
    male: np.ndarray,
    traits: Traits,
    places: Places,
    holdings: Holdings,
    devices: Devices,
    city: CityMap,
    rng: np.random.Generator,
) -> OperatorFeatures:
    n = age.shape[0]
    age_z = (age - 40.0) / 20.0
    inc, stab = traits.income, traits.stability
    soph, risk = traits.sophistication, traits.risk
    cols: dict[str, np.ndarray | pa.Array] = {}
    truth: dict[str, np.ndarray] = {}

    cols["profile_gender"] = _strings(("F", "M"), male.astype(np.int64))
    cols["profile_age"] = age.astype(np.int16)

    # --- account -----------------------------------------------------------------
    # Nobody has held a line since before 16 or before mass GSM service (~1995).
    max_tenure = np.clip((age - 16) * 12, 1, _MAX_TENURE_MONTHS)
    tenure = np.exp(np.log(70) + 0.5 * stab + 0.3 * age_z + rng.normal(0, 0.7, n))
    tenure = np.clip(np.ceil(tenure), 1, max_tenure).astype(np.int16)
    distress = traits.distress
    arrears = rng.poisson(
        np.exp(-2.4 - 0.3 * stab + 0.1 * risk - 0.2 * inc + 0.7 * distress
               + rng.normal(0, 0.5, n))
    )  # fmt: skip
    arrears = np.minimum(arrears, 12).astype(np.int8)
    arrears_days = np.where(
        arrears > 0,
        np.ceil(np.exp(np.log(6) + 0.3 * arrears + rng.normal(0, 0.6, n))),
        0,
    )
    arrears_days = np.minimum(arrears_days, 180).astype(np.int16)
    suspended_p = _sigmoid(-4.2 + 0.9 * arrears)
    cancelled_p = _sigmoid(-4.0 - 0.5 * stab)
    u = rng.random(n)
    status = np.full(n, ACTIVE, dtype=np.int64)
    status[u < suspended_p] = SUSPENDED
    status[u > 1.0 - cancelled_p] = CANCELLED
    fees = np.array([f for _, f in PLANS], dtype=np.float64)
    plan_util = (
        np.log(fees)[None, :] * (0.8 * inc + 0.4 * soph - 0.5 * age_z - 0.3)[:, None]
        - 0.5 * (np.log(fees)[None, :] - np.log(128)) ** 2
    )
    plan = choose(plan_util, rng)
    # Bills: the plan fee plus occasional large extras (roaming, add-on packs).
    extras = np.where(rng.random(n) < 0.15, rng.pareto(2.2, n) * 40.0, 0.0)
    bill = fees[plan] * np.exp(rng.normal(0.03, 0.12, n)) + extras
    star_score = 0.015 * tenure + 0.008 * bill + rng.normal(0, 0.6, n)
    star = np.clip(np.floor(star_score), 0, 7).astype(np.int8)
    autopay = (rng.random(n) < _sigmoid(-0.3 + 0.5 * soph + 0.3 * stab)).astype(np.int8)
    cols["acct_status"] = _strings(ACCOUNT_STATUSES, status)
    cols["acct_tenure_months"] = tenure
    cols["acct_star_level"] = star
    cols["acct_plan"] = _strings(tuple(p for p, _ in PLANS), plan)
    cols["acct_plan_fee_cny"] = fees[plan].astype(np.float32)
    cols["acct_bill_avg_3m_cny"] = np.round(bill, 2).astype(np.float32)
    cols["acct_autopay"] = autopay
    cols["acct_arrears_times_12m"] = arrears
    cols["acct_arrears_max_days_12m"] = arrears_days
    truth["arrears_times"] = arrears.astype(np.float64)
    truth["tenure_months"] = tenure.astype(np.float64)
    truth["suspended"] = (status == SUSPENDED).astype(np.float64)

    # --- usage (monthly averages over the last 3 months) ----------------------------
    # Cancelled and suspended lines were only partly active during the window.
    activity = np.where(status == ACTIVE, 1.0, np.where(status == SUSPENDED, 0.6, 0.35))
    data_gb = activity * np.exp(
        np.log(14) + 0.4 * soph - 0.6 * age_z + 0.3 * (plan - 4) / 2
        + rng.normal(0, 0.8, n)
    )  # fmt: skip
    data_gb[devices.is_feature_phone] *= 0.01
    calls = np.round(
        activity * np.exp(np.log(70) + 0.2 * age_z + 0.2 * inc + rng.normal(0, 0.6, n))
    )
    minutes = calls * np.exp(np.log(2.3) + rng.normal(0, 0.4, n))
    contacts = np.minimum(np.round(calls**0.8 * rng.uniform(0.5, 1.0, n)), calls)
    night = _sigmoid(
        -2.6 + 0.1 * risk - 0.1 * stab - 0.15 * age_z + 0.45 * distress
        + rng.normal(0, 0.5, n)
    )  # fmt: skip
    n_cards = holdings.held.sum(axis=1)
    bank_calls = rng.poisson(0.25 * n_cards * np.exp(0.2 * soph + 0.2 * age_z))
    insurer_calls = rng.poisson(0.15 * np.exp(0.4 * inc + 0.2 * age_z))
    lending_rate = np.exp(
        -1.8 + 0.1 * risk - 0.15 * stab - 0.2 * inc + 0.8 * distress
        + rng.normal(0, 0.6, n)
    )  # fmt: skip
    lending_calls = rng.poisson(lending_rate)
    roaming = rng.poisson(np.exp(-0.4 + 0.6 * inc + 0.2 * soph))
    data_observed = np.where(rng.random(n) < _DATA_RECORD_GAP, np.nan, data_gb)
    cols["usage_data_gb_m"] = np.round(data_observed, 3).astype(np.float32)
    cols["usage_calls_m"] = calls.astype(np.float32)
    cols["usage_call_minutes_m"] = np.round(minutes, 1).astype(np.float32)
    cols["usage_distinct_contacts_m"] = contacts.astype(np.float32)
    cols["usage_night_call_share"] = np.where(
        calls > 0, np.round(night, 4), np.nan
    ).astype(np.float32)
    cols["usage_calls_bank_hotline_3m"] = np.minimum(bank_calls, 999).astype(np.int16)
    cols["usage_calls_insurer_hotline_3m"] = np.minimum(insurer_calls, 999).astype(
        np.int16
    )
    cols["usage_calls_lending_hotline_3m"] = np.minimum(lending_calls, 999).astype(
        np.int16
    )
    cols["usage_roaming_days_3m"] = np.minimum(roaming, 92).astype(np.int16)
    truth["night_share"] = night
    truth["lending_calls"] = lending_calls.astype(np.float64)
    truth["data_gb"] = data_gb

    # --- bank short-code SMS: 955xx transaction alerts per bank and month -----------
    n_banks = len(BANK_CODES)
    primary = np.zeros((n, n_banks), dtype=bool)
    has_primary = holdings.primary >= 0
    primary[np.flatnonzero(has_primary), holdings.primary[has_primary]] = True
    # Work on the (person, bank) pairs that hold an account only: ~2.5 per person
    # instead of 20, which makes this section eight times faster.
    who, which = np.nonzero(holdings.held)
    is_primary = primary[who, which]
    opt_in = np.where(is_primary, _ALERT_OPT_IN_PRIMARY, _ALERT_OPT_IN_OTHER)
    alerting = rng.random(who.size) < opt_in
    rate = np.where(
        is_primary,
        np.exp(np.log(20) + 0.3 * inc + 0.3 * soph + rng.normal(0, 0.5, n))[who],
        np.exp(np.log(2.0) + 0.2 * soph[who] + rng.normal(0, 0.8, who.size)),
    )
    # A suspended or cancelled line stops receiving SMS in the latest month.
    month_factor = np.stack([activity > 0.9, np.ones(n, bool), np.ones(n, bool)], 1)
    pair_msgs = rng.poisson(
        (rate * alerting)[:, None]
        * rng.uniform(0.8, 1.2, (who.size, 3))
        * month_factor[who]
    )
    msgs = np.zeros((n, n_banks, 3), dtype=np.int16)
    msgs[who, which] = np.minimum(pair_msgs, 999)
    for b, code in enumerate(BANK_CODES):
        for m in range(3):
            cols[f"sms955_{code}_msgs_m{m + 1}"] = msgs[:, b, m]
    per_bank = msgs.sum(axis=2, dtype=np.int32)
    seen = per_bank > 0
    cols["sms955_n_banks"] = seen.sum(axis=1).astype(np.int8)
    top = np.where(seen.any(axis=1), np.argmax(per_bank, axis=1), -1)
    cols["sms955_primary_bank"] = _strings(BANK_CODES, top)
    cols["sms955_total_msgs_3m"] = per_bank.sum(axis=1).astype(np.int32)
    truth["n_cards_seen"] = seen.sum(axis=1).astype(np.float64)
    truth["sms_per_bank"] = per_bank.astype(np.float64)

    # --- apps: monthly minutes per category ----------------------------------------
    smart = ~devices.is_feature_phone
    affinity = holdings.score - holdings.score.mean(axis=1, keepdims=True)
    app_use = _sigmoid(
        -1.0 + 1.0 * soph[who] - 0.6 * age_z[who] + 1.5 * is_primary
        + 0.3 * affinity[who, which]
    ) * smart[who]  # fmt: skip
    uses_bank_app = rng.random(who.size) < app_use
    bank_minutes = np.zeros((n, n_banks))
    bank_minutes[who, which] = (
        np.exp(np.log(12) + 0.6 * is_primary + rng.normal(0, 0.7, who.size))
        * uses_bank_app
    )
    unidentified = rng.random((n,)) < _APP_UNIDENTIFIED
    for b, code in enumerate(BANK_CODES):
        cols[f"app_bank_{code}_min"] = _gapped(bank_minutes[:, b], unidentified)
    truth["bank_app_minutes"] = bank_minutes
    category_models = {
        # category: (log-odds of using it, log of typical minutes when used)
        "payments": (2.2 + 0.8 * soph - 0.8 * age_z, np.log(45) + 0.2 * inc),
        "securities": (
            -1.6 + 0.9 * soph + 0.6 * risk + 0.4 * inc,
            np.log(60) + 0.3 * risk,
        ),
        "insurance": (-2.3 + 0.5 * inc + 0.3 * age_z, np.log(8) + 0 * inc),
        "lending": (
            -2.2 + 0.2 * risk - 0.15 * stab - 0.2 * inc + 0.8 * distress,
            np.log(10) + 0.3 * distress,
        ),
        "ecommerce": (1.5 + 0.6 * soph - 0.3 * age_z, np.log(90) + 0.3 * inc),
        "social": (3.5 - 0.3 * age_z, np.log(600) - 0.2 * age_z),
        "video": (1.8 - 0.2 * age_z, np.log(700) - 0.3 * inc),
        "news": (0.4 + 0.5 * age_z, np.log(60) + 0.3 * age_z),
        "travel": (-0.5 + 0.7 * inc, np.log(20) + 0.2 * inc),
        "cars": (-2.2 + 0.5 * inc + 0.3 * risk, np.log(25) + 0 * inc),
        "housing": (-2.5 + 0.4 * inc - 0.3 * np.abs(age_z), np.log(30) + 0 * inc),
        "education": (-1.5 - 2.0 * np.abs(age_z + 0.15), np.log(40) + 0 * inc),
        "games": (0.5 - 1.0 * age_z + 0.3 * risk, np.log(300) - 0.4 * age_z),
    }
    for category, (logit, log_minutes) in category_models.items():
        used = smart & (rng.random(n) < _sigmoid(logit))
        minutes_used = np.exp(log_minutes + rng.normal(0, 0.9, n)) * used
        minutes_used = np.minimum(minutes_used, _MAX_APP_MINUTES)
        cols[f"app_{category}_min"] = _gapped(minutes_used, unidentified)
        truth[f"app_{category}"] = minutes_used

    # --- places ----------------------------------------------------------------------
    district_codes = tuple(d.code for d in DISTRICTS)
    has_work = places.work_cell >= 0
    commute = np.where(
        has_work,
        distance_km(city, places.home_cell, np.where(has_work, places.work_cell, 0)),
        np.nan,
    )
    cols["place_home_district"] = _strings(district_codes, places.home_district)
    cols["place_home_community"] = community_ids(places.home_community)
    cols["place_home_cell"] = cell_ids(places.home_cell)
    cols["place_work_district"] = _strings(district_codes, places.work_district)
    cols["place_work_building"] = building_ids(places.work_building)
    cols["place_work_cell"] = cell_ids(places.work_cell)
    cols["place_commute_km"] = np.round(commute, 2).astype(np.float32)
    truth["has_work"] = has_work.astype(np.float64)

    # --- device ----------------------------------------------------------------------
    unknown = rng.random(n) < _DEVICE_UNKNOWN
    model = np.where(unknown, -1, devices.model)
    brands = tuple(m[0] for m in CATALOGUE)
    models = tuple(m[1] for m in CATALOGUE)
    cols["device_brand"] = _strings(brands, model)
    cols["device_model"] = _strings(models, model)
    cols["device_price_tier"] = _strings(
        PRICE_TIERS, np.where(unknown, -1, TIER_OF_MODEL[devices.model])
    )
    cols["device_price_cny"] = np.where(unknown, np.nan, devices.price_cny).astype(
        np.float32
    )
    cols["device_months_in_use"] = np.where(
        unknown, np.nan, devices.months_in_use
    ).astype(np.float32)
    truth["apple"] = devices.is_apple.astype(np.float64)
    truth["device_price"] = devices.price_cny
    return OperatorFeatures(columns=cols, truth=truth)


def _gapped(minutes: np.ndarray, unidentified: np.ndarray) -> np.ndarray:
    return np.where(unidentified, np.nan, np.round(minutes, 1)).astype(np.float32)
