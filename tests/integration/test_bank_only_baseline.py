"""The bank-only baseline is the joint training minus the operator's features: with
operator features that carry nothing (constant columns), the joint protocol and the
plaintext baseline reach the same model."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bank_node.job_runner import JobRunner
from node_core.node import NodeContext
from operator_node.cli import operator_services
from scripts.fate_data import write_party_files
from tests.joint import bank_config, job_spec, operator_config
from tests.nodes import Pki, running_node


def test_bank_only_baseline_equals_joint_model_if_operator_features_are_constant(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: the operator's two features are constants (standardised to 0), so the
    # joint model is the bank's model, trained through the protocol.
    files = write_party_files("breast", tmp_path / "data")
    operator = pd.read_csv(files.operator, dtype={"phone": str})[["phone"]]
    operator["o_c1"], operator["o_c2"] = 1.0, 2.0
    operator.to_csv(files.operator, index=False)
    spec = job_spec(
        tmp_path,
        model={
            "epochs": 20,
            "batch_size": 128,
            "learning_rate": 3.0,  # the validation loss turns up within 20 epochs
            "optimizer": "nesterov",
            "momentum": 0.5,
            "lr_decay": 0.1,
            "l2": 0.01,
            "early_stopping_patience": 2,
        },
    )
    # Constant features give every row one operator score, which the operator's
    # evaluation rules refuse by default (operator_node/evaluation_rules.py).
    relaxed = {
        "max_rows_per_score": 1_000_000,
        "max_score_share": 1.0,
        "min_rank_mixing": 0.0,
    }
    with running_node(
        operator_config(tmp_path, pki, files, relaxed), operator_services
    ) as node:
        bank = NodeContext.open(bank_config(tmp_path, pki, files, node.address))
        try:
            # Execute
            run = JobRunner(bank, spec, progress=lambda _: None).run()
        finally:
            bank.store.close()
    report = json.loads((run.report_dir / "report.json").read_text())
    # Assert: same AUC (up to CKKS precision) and the same early-stopping decision.
    # The breast validation split has 64 x 107 = 6,848 (positive, negative) pairs; the
    # CKKS noise carried through 20 epochs of gradients may order a few near-tied pairs
    # differently (one pair = 1.5e-4 of AUC; 2.9e-4 = two pairs was seen): at most 3.
    summary = run.summary
    assert summary["validation_auc"] == pytest.approx(
        summary["bank_only_validation_auc"], abs=3.01 / 6848
    )
    assert summary["best_epoch"] == summary["bank_only_best_epoch"]
    assert summary["epochs_run"] < 20  # early stopping decided on both sides
    assert report["metadata"]["bank_only_model"].startswith(
        "the same logistic regression on the bank's own inputs only"
    )
