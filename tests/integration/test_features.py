"""`bank-node features`: the operator features a bank's policy offers, from the
operator, with probes outside the policy refused exactly as proposals are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bank_node.cli import main as bank_main
from protocol.errors import PeerCallError
from protocol.jobs.messages import FeatureQuery
from protocol.jobs.service import JobsClient
from tests.joint import _refusal_message, joint_setup
from tests.nodes import Pki


def test_features_lists_what_the_policy_offers_if_asked_by_the_bank(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Prepare: the policy offers o_x0..o_x4 of the operator's 20 columns.
    policy = {"features": ["o_x[0-4]"]}
    with joint_setup(tmp_path, pki, policy=policy):
        # Execute
        code = bank_main(["features", "--config", str(tmp_path / "bank.toml")])
        listed = bank_main(
            ["features", "--json", "--match", "o_x1", "--match", "o_x[23]",
             "--config", str(tmp_path / "bank.toml")]
        )  # fmt: skip
    out = capsys.readouterr().out
    # Assert
    assert code == 0 and listed == 0
    lines = out.splitlines()
    assert lines[:6] == [
        "o_x0  numeric", "o_x1  numeric", "o_x2  numeric", "o_x3  numeric",
        "o_x4  numeric", "5 features offered by operator",
    ]  # fmt: skip
    assert json.loads("\n".join(lines[6:])) == [
        {"name": "o_x1", "kind": "numeric"},
        {"name": "o_x2", "kind": "numeric"},
        {"name": "o_x3", "kind": "numeric"},
    ]


def test_features_refuses_a_probe_as_a_proposal_would_if_outside_the_policy(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Prepare: o_x9 exists but is not offered; o_zz does not exist at all.
    policy = {"features": ["o_x[0-4]"]}
    with joint_setup(tmp_path, pki, policy=policy) as setup:
        answers = {}
        with setup.bank.channel("operator") as channel:
            for probe in ("o_x9", "o_zz"):
                # Execute
                with pytest.raises(PeerCallError) as info:
                    JobsClient(channel, 10).features(FeatureQuery((probe,)))
                answers[probe] = (info.value.code, info.value.details)
                proposal = _refusal_message(setup, probe)
        code = bank_main(
            ["features", "--match", "o_x9", "--config", str(tmp_path / "bank.toml")]
        )
    # Assert: the same answer for an existing and a missing column, and as Propose.
    assert answers["o_x9"] == (
        "PERMISSION_DENIED",
        "requested operator feature 'o_x9' is not available to bank-a"
        " (policy.features)",
    )
    assert answers["o_zz"][1] == answers["o_x9"][1].replace("o_x9", "o_zz")
    assert proposal == answers["o_zz"][1]
    errors = [
        line
        for line in capsys.readouterr().err.splitlines()
        if line.startswith("bank-node: error:")
    ]
    assert code == 2 and len(errors) == 1
    assert errors[0].endswith("is not available to bank-a (policy.features)")


def test_features_lists_aliases_if_the_operator_does_not_disclose_names(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare
    policy = {"features": ["o_x[0-2]"], "disclose_feature_names": False}
    with joint_setup(tmp_path, pki, policy=policy) as setup:
        with setup.bank.channel("operator") as channel:
            # Execute
            features = JobsClient(channel, 10).features(FeatureQuery())
    # Assert
    assert [(f.display_name, f.kind) for f in features] == [
        ("f001", "numeric"), ("f002", "numeric"), ("f003", "numeric"),
    ]  # fmt: skip
