"""Node config validation: every error names the file, the key and the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from node_core.config import ConfigError, load_config, parse_config

SOURCE = Path("/etc/duet/bank.toml")


def base() -> dict[str, Any]:
    return {
        "party_id": "bank-a",
        "role": "bank",
        "listen": "127.0.0.1:50052",
        "state_dir": "state",
        "tls": {"ca": "certs/ca.pem", "cert": "certs/b.pem", "key": "certs/b.key"},
        "counterparts": [
            {
                "party_id": "operator",
                "identity": "operator",
                "address": "op.example:443",
            }
        ],
    }


def test_parse_config_resolves_paths_and_defaults_if_valid() -> None:
    # Execute
    cfg = parse_config(base(), SOURCE)
    # Assert
    assert cfg.state_dir == Path("/etc/duet/state")
    assert cfg.tls.key == Path("/etc/duet/certs/b.key")
    assert cfg.transport.deadline_s == 30.0
    assert cfg.counterpart("operator").limits.max_transfer_mb == 1024.0


def _with(path: str, value: Any) -> dict[str, Any]:
    doc = base()
    target: Any = doc
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    if value is _DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("party_id", _DELETE, "party_id: missing required key"),
        ("party_id", "Bank A", "party_id: party id must be lowercase letters, digits,"
         " '.' or '-'"),
        ("role", "broker", "role: must be one of 'operator', 'bank', got 'broker'"),
        ("listen", "localhost", "listen: expected host:port, got 'localhost'"),
        ("listen", "127.0.0.1:99999",
         "listen: expected host:port, got '127.0.0.1:99999'"),
        ("tls.cert", 5, "tls.cert: expected a non-empty path string"),
        ("tls.pem", "x", "tls.pem: unknown key"),
        ("tls.ca", _DELETE, "counterparts[0].ca: missing: pin the counterpart to the"
         " CA that issues its certificates (or set tls.ca)"),
        ("counterparts", [], "counterparts: at least one counterpart is required"),
        ("counterparts", {"party_id": "x"},
         "counterparts: expected an array of tables ([[counterparts]])"),
        ("counterparts.0.identity", _DELETE,
         "counterparts[0].identity: missing required key"),
        ("counterparts.0.address", "nowhere",
         "counterparts[0].address: expected host:port, got 'nowhere'"),
        ("counterparts.0.party_id", "bank-a",
         "counterparts[0].party_id: a node cannot be its own counterpart"),
        ("counterparts.0.limits", {"max_transfer_mb": -1},
         "counterparts[0].limits.max_transfer_mb: must be >= 0, got -1"),
        ("counterparts.0.limits", {"max_transfer_mb": 0},
         "counterparts[0].limits.max_transfer_mb: must be > 0"),
        ("transport", {"deadline_s": 0}, "transport.deadline_s: must be > 0"),
        ("transport", {"stream_idle_s": 0}, "transport.stream_idle_s: must be > 0"),
        ("jobs", {"session_idle_s": 0}, "jobs.session_idle_s: must be > 0"),
        ("jobs", {"heartbeat_s": 30},
         "jobs.heartbeat_s: must be below jobs.heartbeat_timeout_s (30)"),
        ("counterparts.0.limits", {"max_concurrent_calls": 16},
         "counterparts[0].limits.max_concurrent_calls: must be below"
         " transport.max_workers (16), so one counterpart never holds every worker;"
         " got 16"),
        ("counterparts.0.limits", {"max_rows": 5},
         "counterparts[0].limits.max_rows: unknown key"),
        ("transport", {"chunk_kb": "big"},
         "transport.chunk_kb: expected an integer, got 'big'"),
        ("psi", {"session_idle_s": 0}, "psi.session_idle_s: must be > 0, got 0"),
        ("psi", {"retention_days": 0}, "psi.retention_days: must be > 0, got 0"),
        ("log", {"format": "xml"},
         "log.format: must be one of 'json', 'text', got 'xml'"),
        ("counterparts.0.policy", {"max_rows_per_score": 0},
         "counterparts[0].policy.max_rows_per_score: must be >= 1, got 0"),
        ("counterparts.0.policy", {"max_models_per_rows": 0},
         "counterparts[0].policy.max_models_per_rows: must be >= 1, got 0"),
        ("counterparts.0.policy", {"max_score_share": 1.5},
         "counterparts[0].policy.max_score_share: must be in (0, 1], got 1.5"),
        ("scoring", {"enabled": True},
         "scoring.api_keys: at least one key is needed to call the API"),
        ("scoring", {"api_keys": [{"name": "r", "role": "scorer", "sha256": "x"}]},
         "scoring.api_keys[0].sha256: not a SHA-256 hex digest"),
        ("scoring", {"api_keys": [{"name": "r", "role": "root", "sha256": "x"}]},
         "scoring.api_keys[0].role: must be one of 'scorer', 'auditor', 'admin',"
         " got 'root'"),
        ("scoring", {"deadline_ms": 0},
         "scoring.deadline_ms: must be between 1 and 60000"),
        ("scoring", {"counterpart": "operator-b"},
         "scoring.counterpart: no counterpart 'operator-b'"),
        ("counterparts.0.limits", {"scoring_daily": 0},
         "counterparts[0].limits.scoring_daily: must be > 0"),
    ],
)  # fmt: skip
def test_parse_config_raises_naming_key_if_invalid(
    path: str, value: Any, message: str
) -> None:
    # Execute
    with pytest.raises(ConfigError) as info:
        parse_config(_with(path, value), SOURCE)
    # Assert
    assert str(info.value) == f"{SOURCE}: {message}"


def test_parse_config_raises_if_counterpart_identity_duplicated() -> None:
    # Prepare
    doc = base()
    doc["counterparts"].append({"party_id": "operator-2", "identity": "operator"})
    # Execute
    with pytest.raises(ConfigError) as info:
        parse_config(doc, SOURCE)
    # Assert
    assert (
        str(info.value)
        == f"{SOURCE}: counterparts[1].identity: duplicate identity 'operator'"
    )


def test_parse_config_raises_if_identity_column_declared_as_feature() -> None:
    # Prepare
    doc = base()
    doc["data"] = {
        "customers": {"path": "c.csv", "identity": ["name"], "categorical": ["name"]}
    }
    # Execute
    with pytest.raises(ConfigError) as info:
        parse_config(doc, SOURCE)
    # Assert
    assert str(info.value) == (
        f"{SOURCE}: data.customers.identity:"
        " identity columns can never be features: name"
    )


def test_load_config_raises_if_toml_invalid(tmp_path: Path) -> None:
    # Prepare
    path = tmp_path / "bad.toml"
    path.write_text("party_id = \n")
    # Execute
    with pytest.raises(ConfigError) as info:
        load_config(path)
    # Assert
    assert str(info.value).startswith(f"{path}: not valid TOML:")


def test_load_config_raises_if_file_missing(tmp_path: Path) -> None:
    # Execute / Assert
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.toml")


def test_parse_config_raises_naming_key_if_consent_key_unreadable(
    tmp_path: Path,
) -> None:
    # Prepare
    bad = tmp_path / "key.pem"
    bad.write_text("not a key")
    # Execute
    with pytest.raises(ConfigError) as info:
        parse_config(_with("counterparts.0.consent_key", str(bad)), SOURCE)
    # Assert
    assert str(info.value).startswith(
        f"{SOURCE}: counterparts[0].consent_key: {bad}: not a readable PEM public key"
    )
