"""The hidden outcome model: how defaults, offer responses and campaign conversions
arise from BOTH parties' data plus traits nobody observes.

Nodes never read this; it exists so that evaluations can compare any model against the
truth. Every term is a named transform of a gap-free column value (or a hidden trait)
with a fixed coefficient; `describe()` writes the whole model to
ground_truth/hidden_model.json.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scripts.world.traits import Traits

Design = dict[str, np.ndarray]


@dataclass(frozen=True)
class Term:
    feature: str  # transform of a column (or a hidden trait), as documented
    side: str  # bank | operator | hidden
    coefficient: float


@dataclass(frozen=True)
class OutcomeModel:
    name: str
    population: str
    intercept: float
    terms: tuple[Term, ...]

    def logit(self, design: Design) -> np.ndarray:
        out = np.full(next(iter(design.values())).shape, self.intercept)
        for term in self.terms:
            out = out + term.coefficient * design[term.feature]
        return out

    def parts(self, design: Design) -> dict[str, np.ndarray]:
        """Contribution of each side (bank, operator, hidden) to the logit."""
        shape = next(iter(design.values())).shape
        out = {side: np.zeros(shape) for side in ("bank", "operator", "hidden")}
        for term in self.terms:
            out[term.side] = out[term.side] + term.coefficient * design[term.feature]
        return out

    def probability(self, design: Design) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit(design)))

    def describe(self) -> dict:
        return {
            "name": self.name,
            "population": self.population,
            "link": "logistic: p = 1 / (1 + exp(-(intercept + sum(coef * feature))))",
            "intercept": self.intercept,
            "terms": [
                {"feature": t.feature, "side": t.side, "coefficient": t.coefficient}
                for t in self.terms
            ],
        }


DEFAULT_12M = OutcomeModel(
    name="default_12m",
    population="loan customers (credit card, consumer loan or mortgage) and applicants",
    intercept=-3.0,
    terms=(
        Term("log1p(bank_delinq_times_24m)", "bank", 0.6),
        Term("bank_utilization - 0.4 (0 without unsecured credit)", "bank", 1.0),
        Term(
            "log(true monthly income / 10000) (bank sees bank_income_band)",
            "bank",
            -0.2,
        ),
        Term("log1p(bank_months_on_book / 12)", "bank", -0.1),
        Term("log1p(bank_deposit_avg_3m_cny / 10000)", "bank", -0.1),
        Term("bank_has_consumer_loan", "bank", 0.3),
        Term("log1p(acct_arrears_times_12m)", "operator", 0.7),
        Term("log1p(usage_calls_lending_hotline_3m)", "operator", 0.9),
        Term("log1p(app_lending_min)", "operator", 0.45),
        Term("usage_night_call_share - 0.1", "operator", 4.0),
        Term("log1p(acct_tenure_months / 12)", "operator", -0.15),
        Term("acct_status == 'suspended'", "operator", 0.6),
        Term("log(device_price_cny / 3000)", "operator", -0.15),
        Term("sms955_n_banks >= 4", "operator", 0.25),
        Term("has a workplace (place_work_cell not null)", "operator", -0.25),
        Term("life shock (hidden, independent of every column)", "hidden", 0.5),
    ),
)

RESPONSE = OutcomeModel(
    name="response",
    population="all customers, offered card-wallet activation (Apple-Pay-style)",
    intercept=-6.85,
    terms=(
        Term("bank_has_credit_card", "bank", 0.3),
        Term("bank_mobile_app_user", "bank", 0.2),
        Term("log1p(bank_deposit_avg_3m_cny / 10000)", "bank", 0.05),
        Term("(age - 35) / 15", "bank", -0.1),
        Term("bank_payroll", "bank", 0.1),
        Term("device_brand == 'Apple'", "operator", 1.8),
        Term("log1p(app_payments_min / 30)", "operator", 0.4),
        Term("log1p(app_bank_<own bank>_min / 10)", "operator", 0.25),
        Term("log1p(sms955_<own bank>_msgs_m1..m3 summed)", "operator", 0.15),
        Term("log1p(app_ecommerce_min / 60)", "operator", 0.3),
        Term("log1p(usage_data_gb_m / 10)", "operator", 0.1),
        Term("sophistication trait (hidden)", "hidden", 0.35),
    ),
)

# Conversion of any subscriber reached by the bank's campaign SMS: the operator-side
# part of RESPONSE plus holding the bank's card (a non-customer must open one first).
CAMPAIGN = OutcomeModel(
    name="campaign_conversion",
    population="every subscriber, if sent the bank's card-wallet campaign SMS",
    intercept=-8.7,
    terms=tuple(t for t in RESPONSE.terms if t.side != "bank")
    + (
        Term("(age - 35) / 15", "operator", -0.35),
        Term("holds an account at the bank", "bank", 1.6),
    ),
)


def default_design(bank: Design, operator: Design, traits: Traits) -> Design:
    """Feature values of DEFAULT_12M for people with both views computed."""
    return {
        "log1p(bank_delinq_times_24m)": np.log1p(bank["delinquent"]),
        "bank_utilization - 0.4 (0 without unsecured credit)": np.where(
            bank["utilization"] > 0, bank["utilization"] - 0.4, 0.0
        ),
        "log(true monthly income / 10000) (bank sees bank_income_band)": np.log(
            bank["income_cny"] / 10_000
        ),
        "log1p(bank_months_on_book / 12)": np.log1p(bank["months_on_book"] / 12),
        "log1p(bank_deposit_avg_3m_cny / 10000)": np.log1p(bank["deposit"] / 10_000),
        "bank_has_consumer_loan": bank["consumer_loan"],
        "log1p(acct_arrears_times_12m)": np.log1p(operator["arrears_times"]),
        "log1p(usage_calls_lending_hotline_3m)": np.log1p(operator["lending_calls"]),
        "log1p(app_lending_min)": np.log1p(operator["app_lending"]),
        "usage_night_call_share - 0.1": operator["night_share"] - 0.1,
        "log1p(acct_tenure_months / 12)": np.log1p(operator["tenure_months"] / 12),
        "acct_status == 'suspended'": operator["suspended"],
        "log(device_price_cny / 3000)": np.log(operator["device_price"] / 3000),
        "sms955_n_banks >= 4": (operator["n_cards_seen"] >= 4).astype(np.float64),
        "has a workplace (place_work_cell not null)": operator["has_work"],
        "life shock (hidden, independent of every column)": traits.shock,
    }


def _operator_response_design(
    operator: Design, traits: Traits, age: np.ndarray, bank_index: int
) -> Design:
    return {
        "device_brand == 'Apple'": operator["apple"],
        "log1p(app_payments_min / 30)": np.log1p(operator["app_payments"] / 30),
        "log1p(app_bank_<own bank>_min / 10)": np.log1p(
            operator["bank_app_minutes"][:, bank_index] / 10
        ),
        "log1p(sms955_<own bank>_msgs_m1..m3 summed)": np.log1p(
            operator["sms_per_bank"][:, bank_index]
        ),
        "log1p(app_ecommerce_min / 60)": np.log1p(operator["app_ecommerce"] / 60),
        "log1p(usage_data_gb_m / 10)": np.log1p(operator["data_gb"] / 10),
        "sophistication trait (hidden)": traits.sophistication,
        "(age - 35) / 15": (age - 35.0) / 15.0,
    }


def response_design(
    bank: Design, operator: Design, traits: Traits, bank_index: int
) -> Design:
    design = _operator_response_design(operator, traits, bank["age"], bank_index)
    design.update(
        {
            "bank_has_credit_card": bank["credit_card"],
            "bank_mobile_app_user": bank["app_user"],
            "log1p(bank_deposit_avg_3m_cny / 10000)": np.log1p(
                bank["deposit"] / 10_000
            ),
            "bank_payroll": bank["payroll"],
        }
    )
    return design


def campaign_design(
    operator: Design,
    traits: Traits,
    age: np.ndarray,
    holder: np.ndarray,
    bank_index: int,
) -> Design:
    design = _operator_response_design(operator, traits, age, bank_index)
    design["holds an account at the bank"] = holder.astype(np.float64)
    return design


def describe() -> dict:
    return {
        "notice": "SYNTHETIC DATA. Hidden model, for evaluation only: nodes never "
        "read it.",
        "outcomes": [m.describe() for m in (DEFAULT_12M, RESPONSE, CAMPAIGN)],
        "draws": "label = 1 if uniform(0,1) < p, one independent uniform per person",
        "values": (
            "features are the values before missing-value gaps were punched into the "
            "files; hidden traits are standard-normal-like latent variables"
        ),
    }
