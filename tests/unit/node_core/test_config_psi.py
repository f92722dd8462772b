"""PSI settings in the node config: defaults and validation naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from node_core.config import ConfigError, parse_config
from tests.unit.node_core.test_config import SOURCE, base


def test_psi_settings_default_if_not_given() -> None:
    # Execute
    cfg = parse_config(base(), SOURCE)
    # Assert
    limits = cfg.counterpart("operator").limits
    assert (limits.psi_min_set_size, limits.psi_allow_unbalanced) == (100, False)
    assert (cfg.psi.source, cfg.psi.workers, cfg.psi.batch_items) == (None, 0, 4096)
    assert cfg.psi.session_idle_s == 60.0
    policy = cfg.counterpart("operator").policy
    assert (policy.psi_modes, policy.psi_without_job) == (("cardinality",), ())


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        ("psi", {"source": "subscribers"},
         "psi.source: data source 'subscribers' is not declared (known: none)"),
        ("psi", {"batch_items": 0}, "psi.batch_items: must be >= 1, got 0"),
        ("psi", {"epoch_days": 0}, "psi.epoch_days: must be >= 1, got 0"),
        ("limits", {"psi_min_set_size": 500, "psi_max_set_size": 100},
         "counterparts[0].limits.psi_min_set_size: must be <= psi_max_set_size"
         " (100), got 500"),
        ("limits", {"psi_allow_unbalanced": "yes"},
         "counterparts[0].limits.psi_allow_unbalanced: expected true or false,"
         " got 'yes'"),
        ("policy", {"psi_modes": ["all"]},
         "counterparts[0].policy.psi_modes[0]: must be one of 'intersection',"
         " 'both', 'cardinality', got 'all'"),
        ("policy", {"psi_without_job": ["intersection"]},
         "counterparts[0].policy.psi_without_job: only 'cardinality' may run"
         " without a job: intersection and both tell the bank which numbers are"
         " subscribers, so they need an approved job with a purpose"),
    ],
)  # fmt: skip
def test_psi_settings_refused_if_invalid(
    section: str, value: dict[str, Any], message: str
) -> None:
    # Prepare
    raw = base()
    if section == "psi":
        raw["psi"] = value
    else:
        raw["counterparts"][0][section] = value
    # Execute
    with pytest.raises(ConfigError) as info:
        parse_config(raw, SOURCE)
    # Assert
    assert str(info.value) == f"{SOURCE}: {message}"


def test_psi_source_accepted_if_declared(tmp_path: Path) -> None:
    # Prepare
    raw = base()
    raw["data"] = {"subscribers": {"path": str(tmp_path / "s.parquet")}}
    raw["psi"] = {"source": "subscribers"}
    # Execute
    cfg = parse_config(raw, SOURCE)
    # Assert
    assert cfg.psi.source == "subscribers"
