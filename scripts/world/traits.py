"""Hidden traits that drive both sides of the world: income, stability, financial
sophistication, risk appetite and recent distress, plus occupation, income and an
unobservable shock.

Because the same traits shape phone behaviour (operator side) and banking behaviour
(bank side), each side carries partial, overlapping information about a person, and
neither alone explains the outcomes (see ground_truth.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OCCUPATIONS = ("employed", "self_employed", "student", "unemployed", "retired")
EMPLOYED, SELF_EMPLOYED, STUDENT, UNEMPLOYED, RETIRED = range(5)
# Correlation of the four traits before age effects (income, stability,
# sophistication, risk appetite): earners are steadier and more sophisticated, the
# sophisticated take more risk, the unstable take more risk.
TRAIT_CORRELATION = np.array(
    [
        [1.00, 0.30, 0.50, 0.10],
        [0.30, 1.00, 0.10, -0.35],
        [0.50, 0.10, 1.00, 0.30],
        [0.10, -0.35, 0.30, 1.00],
    ]
)
_CHOLESKY = np.linalg.cholesky(TRAIT_CORRELATION)


@dataclass(frozen=True)
class Traits:
    """Per-person hidden traits (parallel arrays, standardised unless stated)."""

    income: np.ndarray
    stability: np.ndarray
    sophistication: np.ndarray
    risk: np.ndarray
    distress: np.ndarray  # recent money trouble: shows in phone behaviour first
    shock: np.ndarray  # life events nobody observes; enters outcomes only
    occupation: np.ndarray  # int8 index into OCCUPATIONS
    income_cny: np.ndarray  # true monthly income, CNY


def draw_traits(age: np.ndarray, male: np.ndarray, rng: np.random.Generator) -> Traits:
    n = age.shape[0]
    z = rng.standard_normal((n, 4)) @ _CHOLESKY.T
    age_z = (age - 40.0) / 20.0
    # Earnings peak in the mid-forties; stability grows with age; digital
    # sophistication and appetite for risk fade with it.
    income = z[:, 0] + 0.5 * (1.0 - ((age - 45.0) / 25.0) ** 2) + 0.1 * male
    stability = z[:, 1] + 0.5 * age_z
    sophistication = z[:, 2] - 0.5 * age_z
    risk = z[:, 3] - 0.4 * age_z + 0.1 * male

    retire_age = np.where(male, 60.0, 55.0)
    retired = rng.random(n) < 1.0 / (1.0 + np.exp(-(age - retire_age) * 1.2))
    student = (~retired) & (age <= 24) & (rng.random(n) < np.clip((25 - age) / 8, 0, 1))
    unemployed_p = 0.05 * np.exp(-0.5 * income - 0.3 * stability)
    unemployed = (~retired) & (~student) & (rng.random(n) < unemployed_p)
    self_emp = (~retired) & (~student) & (~unemployed) & (rng.random(n) < 0.12)
    occupation = np.full(n, EMPLOYED, dtype=np.int8)
    occupation[self_emp] = SELF_EMPLOYED
    occupation[student] = STUDENT
    occupation[unemployed] = UNEMPLOYED
    occupation[retired] = RETIRED

    # Monthly income, CNY: log-normal around Beijing's ~10k median wage, wider for the
    # self-employed; pensions and allowances for the others.
    noise = rng.standard_normal((n,))
    log_income = np.log(10_000) + 0.55 * income + 0.25 * noise
    log_income[self_emp] += 0.1 + 0.3 * noise[self_emp]
    log_income[retired] = np.log(5_500) + 0.3 * income[retired] + 0.15 * noise[retired]
    log_income[student] = np.log(1_800) + 0.3 * noise[student]
    log_income[unemployed] = np.log(2_500) + 0.4 * noise[unemployed]
    # Distress is *recent*: collection calls, lending apps and late phone bills show
    # it within weeks, while the bank's 24-month delinquency record lags behind.
    distress = 0.1 * risk - 0.1 * z[:, 1] - 0.1 * z[:, 0] + rng.standard_normal(n)
    return Traits(
        income=income,
        stability=stability,
        sophistication=sophistication,
        risk=risk,
        distress=distress,
        shock=rng.standard_normal((n,)),
        occupation=occupation,
        income_cny=np.round(np.exp(log_income), -1),
    )
