"""The budget of models per set of rows: a second job evaluated on the same rows is
refused within the period, disjoint or old ones are not, and a job spends once."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from node_core.config import CounterpartPolicy
from operator_node.model_budget import ModelBudget
from protocol.errors import PermissionDenied

POLICY = CounterpartPolicy(min_batch_size=100)


def test_spend_refuses_a_second_job_if_it_shares_rows_with_an_evaluated_one(
    tmp_path: Path,
) -> None:
    # Prepare: two jobs on the same 1,000 customers (new PSI order, same rows)
    budget = ModelBudget(tmp_path)
    budget.spend("bank-a", "job-one-aaaa", np.arange(1000), POLICY)
    # Execute
    with pytest.raises(PermissionDenied) as info:
        budget.check("bank-a", "job-two-bbbb", np.arange(1000)[::-1], POLICY)
    # Assert
    assert str(info.value) == (
        "1 earlier jobs of bank-a were evaluated on rows this job shares (at least"
        " 100 in common) in the last 30 days, the budget"
        " (policy.max_models_per_rows = 1); the latest: job job-one-aaaa"
    )


def test_check_accepts_a_job_if_it_shares_fewer_rows_than_a_minimum_batch(
    tmp_path: Path,
) -> None:
    # Prepare
    budget = ModelBudget(tmp_path)
    budget.spend("bank-a", "job-one-aaaa", np.arange(1000), POLICY)
    # Execute / Assert: 99 rows in common, other counterparts' rows do not count
    budget.check("bank-a", "job-two-bbbb", np.arange(901, 2000), POLICY)
    budget.check("bank-b", "job-three-cc", np.arange(1000), POLICY)


def test_spend_is_once_per_job_if_the_job_is_evaluated_again(tmp_path: Path) -> None:
    # Prepare
    budget = ModelBudget(tmp_path)
    budget.spend("bank-a", "job-one-aaaa", np.arange(1000), POLICY)
    # Execute: the job's later evaluations (epochs, splits)
    budget.spend("bank-a", "job-one-aaaa", np.arange(1000), POLICY)
    # Assert
    assert len(list((tmp_path / "evaluated_rows" / "bank-a").iterdir())) == 1


def test_check_accepts_a_job_if_the_earlier_one_is_older_than_the_period(
    tmp_path: Path,
) -> None:
    # Prepare: an evaluation 31 days ago
    folder = tmp_path / "evaluated_rows" / "bank-a"
    folder.mkdir(parents=True)
    then = int(time.time()) - 31 * 86_400
    np.save(folder / f"{then}-job-one-aaaa.npy", np.arange(1000), allow_pickle=False)
    # Execute / Assert: no exception
    ModelBudget(tmp_path).check("bank-a", "job-two-bbbb", np.arange(1000), POLICY)


def test_spend_allows_as_many_models_as_the_policy_if_it_raises_the_budget(
    tmp_path: Path,
) -> None:
    # Prepare
    policy = CounterpartPolicy(min_batch_size=100, max_models_per_rows=2)
    budget = ModelBudget(tmp_path)
    budget.spend("bank-a", "job-one-aaaa", np.arange(1000), policy)
    budget.spend("bank-a", "job-two-bbbb", np.arange(1000), policy)
    # Execute
    with pytest.raises(PermissionDenied) as info:
        budget.spend("bank-a", "job-three-cc", np.arange(1000), policy)
    # Assert
    assert str(info.value).startswith("2 earlier jobs of bank-a were evaluated")
