"""A split-NN job on a bank node without the SuperLink's certificate is refused before
it is proposed: no approval, PSI budget or model budget is spent on a job that could
not train (found by a README walkthrough: the job used to fail in its train stage)."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from bank_node.job_runner import JobRunner
from bank_node.jobspec import parse_job_spec
from node_core.config import ConfigError
from tests.joint import joint_setup
from tests.nodes import Pki


def test_split_nn_job_refused_before_proposal_if_the_bank_has_no_superlink_cert(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: a bank config without [split_nn] superlink_cert / superlink_key
    doc = {
        "job": {"name": "nn-model", "purpose": "credit_risk"},
        "data": {"source": "customers"},
        "operator": {"features": ["o_*"]},
        "model": {"type": "split_nn", "rounds": 2},
        "report": {"output": str(tmp_path / "reports")},
    }
    path = tmp_path / "job.toml"
    path.write_text(tomli_w.dumps(doc))
    spec = parse_job_spec(doc, path)
    with joint_setup(tmp_path, pki) as setup:
        runner = JobRunner(setup.bank, spec, progress=lambda _: None)
        # Execute
        with pytest.raises(ConfigError) as info:
            runner.run()
        # Assert: the message names the keys; neither node has a job
        assert "split_nn.superlink_cert, superlink_key, superlink_ca" in str(info.value)
        assert setup.bank.store.list_jobs() == []
        assert setup.operator.ctx.store.list_jobs() == []
