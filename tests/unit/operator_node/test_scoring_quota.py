"""The operator's scoring quotas: a token bucket per counterpart and a count per UTC
day, each refused with RESOURCE_EXHAUSTED naming its limit."""

from __future__ import annotations

import pytest

from node_core.config import CounterpartLimits
from operator_node.scoring import DAY_S, ScoringQuota
from protocol.errors import ResourceExhausted

T0 = 1_800_000_000.0 - 1_800_000_000.0 % DAY_S + 3600  # 01:00 UTC of some day


def test_quota_refuses_past_the_rate_and_refills_with_time() -> None:
    # Prepare
    quota = ScoringQuota(lambda party: 0.0)
    limits = CounterpartLimits(scoring_per_second=2.0, scoring_daily=100)
    # Execute
    quota.take("bank-a", limits, T0)
    quota.take("bank-a", limits, T0)
    with pytest.raises(ResourceExhausted) as info:
        quota.take("bank-a", limits, T0)
    quota.take("bank-a", limits, T0 + 0.5)  # one token back after half a second
    quota.take("bank-b", limits, T0)  # another counterpart has its own bucket
    # Assert
    assert str(info.value) == (
        "bank-a is over its scoring rate of 2 queries per second"
        " (counterparts[].limits.scoring_per_second)"
    )


def test_quota_refuses_past_the_daily_volume_until_the_next_utc_day() -> None:
    # Prepare
    quota = ScoringQuota(lambda party: 0.0)
    limits = CounterpartLimits(scoring_per_second=1000.0, scoring_daily=3)
    for i in range(3):
        quota.take("bank-a", limits, T0 + i)
    # Execute
    with pytest.raises(ResourceExhausted) as info:
        quota.take("bank-a", limits, T0 + 10)
    quota.take("bank-a", limits, T0 + DAY_S)
    # Assert
    assert "used its 3 scoring queries of today" in str(info.value)


def test_quota_restarts_the_day_if_an_administrator_reset_it() -> None:
    # Prepare
    resets = {"bank-a": 0.0}
    quota = ScoringQuota(lambda party: resets[party])
    limits = CounterpartLimits(scoring_per_second=1000.0, scoring_daily=1)
    quota.take("bank-a", limits, T0)
    # Execute
    resets["bank-a"] = T0 + 5
    quota.take("bank-a", limits, T0 + 6)
    # Assert
    with pytest.raises(ResourceExhausted):
        quota.take("bank-a", limits, T0 + 7)


def test_quota_counts_the_days_queries_from_before_a_restart() -> None:
    # Prepare: the audit log holds 2 of today's queries
    quota = ScoringQuota(lambda party: 0.0, lambda party, since: 2)
    limits = CounterpartLimits(scoring_per_second=1000.0, scoring_daily=3)
    # Execute
    quota.take("bank-a", limits, T0)
    # Assert
    with pytest.raises(ResourceExhausted):
        quota.take("bank-a", limits, T0 + 1)
