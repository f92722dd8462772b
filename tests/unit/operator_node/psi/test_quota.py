"""The operator's daily PSI budget: atomic check-and-charge per counterpart and day."""

from __future__ import annotations

from pathlib import Path

from operator_node.psi.quota import DailyBudget

DAY = 1_790_000_000.0  # some UTC afternoon
NEXT_DAY = DAY + 86_400


def test_charge_granted_until_limit_if_within_budget(tmp_path: Path) -> None:
    # Prepare
    budget = DailyBudget(tmp_path)
    # Execute
    first = budget.charge("bank-a", 600, 1000, DAY)
    second = budget.charge("bank-a", 400, 1000, DAY)
    # Assert
    assert (first.granted, first.used_before) == (True, 0)
    assert (second.granted, second.used_before) == (True, 600)
    assert budget.used("bank-a", DAY) == 1000


def test_charge_refused_and_not_counted_if_over_limit(tmp_path: Path) -> None:
    # Prepare
    budget = DailyBudget(tmp_path)
    budget.charge("bank-a", 600, 1000, DAY)
    # Execute
    refused = budget.charge("bank-a", 401, 1000, DAY)
    # Assert
    assert (refused.granted, refused.used_before) == (False, 600)
    assert budget.used("bank-a", DAY) == 600


def test_charge_counts_apart_if_other_day_or_counterpart(tmp_path: Path) -> None:
    # Prepare
    budget = DailyBudget(tmp_path)
    budget.charge("bank-a", 1000, 1000, DAY)
    # Execute
    next_day = budget.charge("bank-a", 1000, 1000, NEXT_DAY)
    other_bank = budget.charge("bank-b", 1000, 1000, DAY)
    # Assert
    assert next_day.granted and other_bank.granted
    assert next_day.day == "2026-09-22"


def test_budget_survives_restart_if_reopened(tmp_path: Path) -> None:
    # Prepare
    DailyBudget(tmp_path).charge("bank-a", 700, 1000, DAY)
    # Execute
    reopened = DailyBudget(tmp_path).charge("bank-a", 301, 1000, DAY)
    # Assert
    assert not reopened.granted
