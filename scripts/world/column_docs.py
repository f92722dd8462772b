"""What every generated column means: unit and how it was generated.

The single source of docs/world_data_dictionary.md (measured ranges and missing rates
are added from a generated world) and of the test that every column is documented.
Names with <placeholders> stand for one column per bank (<bank>: a bank code), month
(<k>: 1 = latest of the last 3 months) or outcome side (<side>: bank, operator, hidden).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ColumnDoc:
    name: str  # column name, possibly with <placeholders>
    unit: str
    how: str  # how the value was generated (and what missing means)

    def matches(self, column: str) -> bool:
        parts = re.split(r"<[a-z]+>", self.name)
        pattern = "[a-z0-9]+".join(re.escape(part) for part in parts)
        return re.fullmatch(pattern, column) is not None


_IDENTITY = (
    ColumnDoc(
        "phone",
        "11-digit text",
        "Mainland mobile number, canonical form. Subscribers: the operator's "
        "prefixes, unique by construction (keyed permutation of the subscriber "
        "index -> prefix bucket sized by prefix share -> keyed bijection of the "
        "8-digit suffix). Other operators' customers: Unicom/Telecom prefixes.",
    ),
    ColumnDoc(
        "name",
        "text",
        "Chinese name: surname drawn from a national frequency table (incl. a few "
        "compound surnames), 1-2 given-name characters from per-gender, "
        "per-birth-era popularity tables. Same person, same name at every party.",
    ),
    ColumnDoc(
        "resident_id",
        "18-char text",
        "GB 11643-1999 number: Beijing issuing-area code (current district codes "
        "and historic ones like 110103 Chongwen for people old enough), birth date, "
        "3-digit sequence (odd = male), check character. Unique by construction; "
        "consistent with the gender and age columns.",
    ),
)

_SUBSCRIBERS = _IDENTITY + (
    ColumnDoc(
        "contact_<k>",
        "11-digit text",
        "The 3 most-called numbers (k = 1..3), distinct, never the subscriber's "
        "own; ~60% other subscribers, the rest other operators' numbers. For "
        "'phone + frequent contact' identity checks.",
    ),
    ColumnDoc(
        "profile_gender", "M/F", "Real-name registration gender (matches the ID)."
    ),
    ColumnDoc(
        "profile_age",
        "years",
        "Completed years on the reference date 2025-06-30 (matches the ID). Age "
        "pyramid of adult Beijing subscribers, 18-80.",
    ),
    ColumnDoc(
        "acct_status",
        "category",
        "active / suspended (more likely after arrears) / cancelled (more likely "
        "for unstable people) at the end of the window.",
    ),
    ColumnDoc(
        "acct_tenure_months",
        "months",
        "Months on the network: log-normal, longer for stable and older people, "
        "capped at 360 and at age 16.",
    ),
    ColumnDoc(
        "acct_star_level",
        "0-7",
        "Operator's customer star level, from tenure and bill (0 = not rated).",
    ),
    ColumnDoc(
        "acct_plan",
        "category",
        "Monthly plan (4G-18 ... 5G-598); richer, younger, more sophisticated "
        "people choose dearer plans.",
    ),
    ColumnDoc("acct_plan_fee_cny", "CNY/month", "List fee of acct_plan."),
    ColumnDoc(
        "acct_bill_avg_3m_cny",
        "CNY/month",
        "Average bill of the last 3 months: plan fee with noise plus occasional "
        "Pareto-tailed extras (roaming, add-ons).",
    ),
    ColumnDoc("acct_autopay", "0/1", "Pays the bill by automatic debit."),
    ColumnDoc(
        "acct_arrears_times_12m",
        "count",
        "Times in arrears in the last 12 months: Poisson, driven mostly by recent "
        "financial distress, less by low stability and income.",
    ),
    ColumnDoc("acct_arrears_max_days_12m", "days", "Longest arrears (0 if none)."),
    ColumnDoc(
        "usage_data_gb_m",
        "GB/month",
        "Mobile data, 3-month average: log-normal, more for the young and "
        "sophisticated; ~0 on feature phones; missing = absent from the data "
        "billing run (~1.5%).",
    ),
    ColumnDoc("usage_calls_m", "calls/month", "Voice calls, 3-month average."),
    ColumnDoc(
        "usage_call_minutes_m", "minutes/month", "Voice minutes, 3-month average."
    ),
    ColumnDoc(
        "usage_distinct_contacts_m",
        "numbers/month",
        "Distinct numbers called, 3-month average.",
    ),
    ColumnDoc(
        "usage_night_call_share",
        "share 0-1",
        "Share of calls between 23:00 and 06:00; higher with distress and risk "
        "appetite. Missing when the subscriber made no calls (rare).",
    ),
    ColumnDoc(
        "usage_calls_bank_hotline_3m",
        "count",
        "Calls with banks' 955xx service numbers in 3 months; grows with cards held.",
    ),
    ColumnDoc(
        "usage_calls_insurer_hotline_3m",
        "count",
        "Calls with insurers' service numbers in 3 months.",
    ),
    ColumnDoc(
        "usage_calls_lending_hotline_3m",
        "count",
        "Calls with consumer-finance / lending / collection numbers in 3 months: "
        "the strongest distress signal the operator has.",
    ),
    ColumnDoc(
        "usage_roaming_days_3m", "days", "Days roaming outside Beijing in 3 months."
    ),
    ColumnDoc(
        "sms955_<bank>_msgs_m<k>",
        "SMS/month",
        "Transaction-alert SMS from the bank's short code in month k (1 = latest). "
        "Only account holders who kept alerts on receive them (97% of primary, 85% "
        "of other cards); Poisson around ~20/month at the primary bank and ~2 at "
        "others. Suspended/cancelled lines receive none in month 1.",
    ),
    ColumnDoc(
        "sms955_n_banks",
        "count",
        "Banks with at least one alert in 3 months: the card holdings the operator "
        "can see.",
    ),
    ColumnDoc(
        "sms955_primary_bank",
        "bank code",
        "Bank with the most alerts (primary-card bank); missing if no alerts.",
    ),
    ColumnDoc("sms955_total_msgs_3m", "SMS", "All 955xx alerts in 3 months."),
    ColumnDoc(
        "app_bank_<bank>_min",
        "minutes/month",
        "Time in the bank's mobile-banking app: only holders use it, more at the "
        "primary bank and for the young and sophisticated. Missing for the ~2.5% "
        "whose traffic cannot be attributed to apps (all app_ columns together).",
    ),
    ColumnDoc(
        "app_payments_min", "minutes/month", "Payment apps (Alipay/WeChat Pay-like)."
    ),
    ColumnDoc(
        "app_securities_min",
        "minutes/month",
        "Brokerage apps: sophisticated, risk-seeking, richer users.",
    ),
    ColumnDoc("app_insurance_min", "minutes/month", "Insurance apps."),
    ColumnDoc(
        "app_lending_min",
        "minutes/month",
        "Lending / consumer-credit apps: driven by recent distress.",
    ),
    ColumnDoc("app_ecommerce_min", "minutes/month", "Shopping apps."),
    ColumnDoc("app_social_min", "minutes/month", "Social / messaging apps."),
    ColumnDoc("app_video_min", "minutes/month", "Video apps."),
    ColumnDoc("app_news_min", "minutes/month", "News apps (older users more)."),
    ColumnDoc("app_travel_min", "minutes/month", "Travel apps (richer users more)."),
    ColumnDoc("app_cars_min", "minutes/month", "Car apps ('planning to buy a car')."),
    ColumnDoc("app_housing_min", "minutes/month", "Housing / decoration apps."),
    ColumnDoc(
        "app_education_min", "minutes/month", "Education apps (parents, ~30-45)."
    ),
    ColumnDoc("app_games_min", "minutes/month", "Games (young, risk-seeking users)."),
    ColumnDoc(
        "place_home_district",
        "GB/T 2260 code",
        "Home district: population-weighted, the rich pulled to the core districts.",
    ),
    ColumnDoc(
        "place_home_community",
        "id R#####",
        "Residential community (18,000 over the city, sized log-normally).",
    ),
    ColumnDoc(
        "place_home_cell", "id C######", "Cell serving the home (see cells file)."
    ),
    ColumnDoc(
        "place_work_district",
        "GB/T 2260 code",
        "Work district: 45% the home district, else by job share. Missing for "
        "students, the unemployed, the retired and some self-employed.",
    ),
    ColumnDoc(
        "place_work_building",
        "id B######",
        "Office building (110,000 over the city). Missing as above.",
    ),
    ColumnDoc(
        "place_work_cell", "id C######", "Cell serving the workplace. Missing as above."
    ),
    ColumnDoc(
        "place_commute_km", "km", "Straight-line home-work distance. Missing as above."
    ),
    ColumnDoc(
        "device_brand",
        "category",
        "Handset brand (Apple ~1/3 in Beijing). Missing for ~1.5% unidentified "
        "handsets (all device_ columns together).",
    ),
    ColumnDoc(
        "device_model",
        "category",
        "Handset model (iPhone 11-16, Huawei Mate/Pura, ...; 'Feature phone' for "
        "basic phones kept by older people).",
    ),
    ColumnDoc(
        "device_price_tier",
        "category",
        "budget <1500, mid <3500, high <6000, flagship.",
    ),
    ColumnDoc("device_price_cny", "CNY", "Launch price of the model."),
    ColumnDoc(
        "device_months_in_use", "months", "Months since the handset was first seen."
    ),
)

_BANK_FEATURES = (
    ColumnDoc("bank_age", "years", "Age on the reference date (from the ID)."),
    ColumnDoc("bank_gender", "M/F", "Gender (from the ID)."),
    ColumnDoc(
        "bank_occupation",
        "category",
        "Declared occupation; missing for ~6% who never declared it.",
    ),
    ColumnDoc(
        "bank_income_band",
        "CNY/month band",
        "Declared monthly income band (<5k ... >=50k): true income inflated ~8% "
        "with noise; missing for ~12%.",
    ),
    ColumnDoc(
        "bank_branch_district", "GB/T 2260 code", "Home branch: 70% the home district."
    ),
    ColumnDoc("bank_months_on_book", "months", "Relationship length with the bank."),
    ColumnDoc(
        "bank_payroll",
        "0/1",
        "Salary paid into this bank (mostly when it is the primary bank).",
    ),
    ColumnDoc(
        "bank_deposit_avg_3m_cny",
        "CNY",
        "Average deposit balance, 3 months: log-normal (sigma 1.2), heavy-tailed; "
        "higher with income, age, primary bank and payroll.",
    ),
    ColumnDoc("bank_wealth_aum_cny", "CNY", "Wealth-management assets (0 if none)."),
    ColumnDoc("bank_has_credit_card", "0/1", "Holds the bank's credit card."),
    ColumnDoc(
        "bank_has_consumer_loan", "0/1", "Has a consumer loan (risk-seekers more)."
    ),
    ColumnDoc("bank_has_mortgage", "0/1", "Has a mortgage (richer, steadier, ~30-50)."),
    ColumnDoc("bank_has_wealth", "0/1", "Holds wealth products."),
    ColumnDoc(
        "bank_products_n", "count", "1 (account) + card + loan + mortgage + wealth."
    ),
    ColumnDoc(
        "bank_credit_limit_cny",
        "CNY",
        "Unsecured limit (card + consumer loan); missing without unsecured credit.",
    ),
    ColumnDoc(
        "bank_utilization",
        "share",
        "Used / limit (up to ~1.1 when over the limit); missing without unsecured "
        "credit.",
    ),
    ColumnDoc(
        "bank_delinq_times_24m",
        "count",
        "Delinquencies in 24 months (history: risk appetite, instability); "
        "missing for customers without credit.",
    ),
    ColumnDoc(
        "bank_max_dpd_24m",
        "days",
        "Worst days past due in 24 months (0/15/30/60/90/120); missing without credit.",
    ),
    ColumnDoc(
        "bank_mobile_app_user",
        "0/1",
        "Logged in to the bank's app recently (agrees with the operator's app "
        "traffic except for 5% noise).",
    ),
)

_CUSTOMERS = (
    ColumnDoc(
        "customer_id",
        "text",
        "Bank-internal id (bank code + 10 digits, keyed permutation: reveals "
        "nothing about the operator's rows).",
    ),
    *_IDENTITY,
    *_BANK_FEATURES,
    ColumnDoc(
        "default_12m",
        "0/1",
        "Label: defaulted within 12 months (hidden model, both parties' data). "
        "Null for customers without a credit product.",
    ),
    ColumnDoc(
        "response",
        "0/1",
        "Label: activated the card wallet (Apple-Pay-style) after the bank's "
        "offer (hidden model, both parties' data).",
    ),
)

_APPLICANTS = (
    ColumnDoc("application_id", "text", "APP + 10 digits (keyed permutation)."),
    *_IDENTITY,
    ColumnDoc(
        "consent",
        "bool",
        "Applicant authorised operator-data scoring (~92%); score only these.",
    ),
    *_BANK_FEATURES,
)

_SEED = (
    ColumnDoc(
        "phone",
        "11-digit text",
        "Customers who activated the card wallet (response = 1), on any network.",
    ),
    ColumnDoc("seed_event", "text", "Always card_wallet_activation."),
    ColumnDoc(
        "event_month", "YYYY-MM", "Month of activation (uniform over 2025-01..06)."
    ),
)

_CELLS = (
    ColumnDoc("cell_id", "id C######", "Base-station cell (50,000)."),
    ColumnDoc(
        "district_code", "GB/T 2260 code", "District of the cell (16 districts)."
    ),
    ColumnDoc("district_name", "text", "District name in Chinese."),
    ColumnDoc("district_name_en", "text", "District name in pinyin."),
    ColumnDoc("lat", "degrees", "Latitude (WGS-84-like), clipped to Beijing's box."),
    ColumnDoc("lon", "degrees", "Longitude, clipped to Beijing's box."),
)

_CUSTOMERS_TRUTH = (
    ColumnDoc("customer_id", "text", "Key into customers."),
    ColumnDoc("phone", "11-digit text", "Clean phone of the customer."),
    ColumnDoc(
        "on_network", "bool", "The customer is one of the operator's subscribers."
    ),
    ColumnDoc(
        "p_default", "probability", "True default probability (null without credit)."
    ),
    ColumnDoc("p_response", "probability", "True response probability."),
    ColumnDoc(
        "default_logit_<side>",
        "log-odds",
        "Contribution of bank / operator / hidden terms to the default logit.",
    ),
    ColumnDoc(
        "response_logit_<side>",
        "log-odds",
        "Contribution of bank / operator / hidden terms to the response logit.",
    ),
)

_APPLICANTS_OUTCOME = (
    ColumnDoc("application_id", "text", "Key into applicants."),
    ColumnDoc("phone", "11-digit text", "Clean phone of the applicant."),
    ColumnDoc(
        "on_network", "bool", "The applicant is one of the operator's subscribers."
    ),
    ColumnDoc("default_12m", "0/1", "Outcome of the applied-for loan."),
    ColumnDoc("p_default", "probability", "True default probability."),
)

_CAMPAIGN = (
    ColumnDoc("phone", "11-digit text", "Every subscriber."),
    ColumnDoc(
        "p_convert",
        "probability",
        "Chance of activating the bank's card wallet if sent the campaign SMS "
        "(operator-side terms + holding the bank's card + hidden sophistication); "
        "~0.3% on average, for simulating lookalike campaigns.",
    ),
)

# (file pattern without extension, columns), in the order of the data dictionary.
FILES: tuple[tuple[str, tuple[ColumnDoc, ...]], ...] = (
    ("operator/subscribers", _SUBSCRIBERS),
    ("operator/cells", _CELLS),
    ("banks/*/customers", _CUSTOMERS),
    ("banks/*/applicants", _APPLICANTS),
    ("banks/*/seed_audience", _SEED),
    ("ground_truth/*_customers_truth", _CUSTOMERS_TRUTH),
    ("ground_truth/*_applicants_outcome", _APPLICANTS_OUTCOME),
    ("ground_truth/*_campaign_propensity", _CAMPAIGN),
)


def file_pattern(relative: str) -> str | None:
    """The FILES pattern a generated file (path relative to the world) belongs to."""
    stem = relative.rsplit(".", 1)[0]
    for pattern, _ in FILES:
        if fnmatch.fnmatchcase(stem, pattern):
            return pattern
    return None


def column_doc(relative: str, column: str) -> ColumnDoc | None:
    """Documentation of `column` in the file at `relative`, or None if undocumented."""
    pattern = file_pattern(relative)
    docs = dict(FILES).get(pattern, ()) if pattern else ()
    for doc in docs:
        if doc.matches(column):
            return doc
    return None
