"""Tests of the plaintext SecureBoost reference: XGBoost's trees, missing values,
multi-class, sampling options, early stopping, persistence and the export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from models.secureboost.histogram import BinLayout, GradientCodec
from models.secureboost.model import BankModel, OperatorModel
from models.secureboost.params import BoostParams
from models.secureboost.reference import joint_predict, train_reference
from models.secureboost.split import best_split
from models.secureboost.tree import BANK, OPERATOR

DATA = Path(__file__).resolve().parents[3] / "data" / "fate"


def integer_data(n: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    """Six integer features (one with 10% missing), labels from a logistic model."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 12, size=(n, 6)).astype(float)
    x[rng.random(n) < 0.1, 2] = np.nan
    missing_effect = np.where(np.isnan(x[:, 2]), 2.0, 0.1 * np.nan_to_num(x[:, 2]))
    logit = 0.4 * x[:, 0] - 0.3 * x[:, 3] + missing_effect - 1.5
    return x, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)


def test_train_reference_grows_xgboost_trees_if_every_value_has_its_own_bin() -> None:
    # Prepare: at most 12 distinct values per feature, so both use one bin per value.
    x, y = integer_data()
    params = BoostParams(n_trees=10, max_depth=3, max_bins=32)
    booster = xgb.train(
        {
            "max_depth": 3,
            "eta": 0.3,
            "objective": "binary:logistic",
            "tree_method": "hist",
            "max_bin": 32,
            "lambda": 1.0,
        },
        xgb.DMatrix(x, y),
        10,
    )

    # Execute
    bank, operator = train_reference(x[:, :3], x[:, 3:], y, params)

    # Assert: same margins (float32 gradients in XGBoost, 2^-20 fixed point here).
    ours = bank.predict_margin(x[:, :3], operator.leaf_sets(x[:, 3:]))[:, 0]
    theirs = booster.predict(xgb.DMatrix(x), output_margin=True)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    first = json.loads(booster.get_dump(dump_format="json", with_stats=True)[0])
    assert bank.trees[0].nodes[0].loss_change == pytest.approx(first["gain"], rel=1e-5)


def test_train_reference_sends_missing_rows_the_learned_way_if_informative() -> None:
    # Prepare: rows with a missing x0 are positives; present values say nothing.
    rng = np.random.default_rng(4)
    x = rng.normal(size=(800, 2))
    missing = rng.random(800) < 0.3
    x[missing, 0] = np.nan
    y = (missing | (rng.random(800) < 0.1)).astype(int)
    params = BoostParams(n_trees=1, max_depth=1)

    # Execute
    bank, operator = train_reference(x[:, :1], x[:, 1:], y, params)

    # Assert: the root splits on the bank's x0 and sends missing rows to the side
    # with the larger leaf value; present values all go the other way.
    root = bank.trees[0].nodes[0]
    assert root.owner == BANK and root.rule is not None
    missing_child = root.left if root.default_left else root.right
    other_child = root.right if root.default_left else root.left
    values = bank.trees[0].nodes
    assert values[missing_child].leaf_value > values[other_child].leaf_value
    probe = np.array([[np.nan, 0.0], [0.5, 0.0]])
    p = joint_predict(bank, operator, probe[:, :1], probe[:, 1:])
    assert p[0] > p[1]


def test_best_split_tries_missing_left_and_right_if_missing_bin_not_empty() -> None:
    # Prepare: one feature with 3 value bins; missing rows have negative g (go left
    # with the low bin), exact integer sums.
    codec = GradientCodec()
    layout = BinLayout((0,), (3,))
    one = 1 << codec.scale_bits
    hist = np.array(
        [
            [-5 * one, 10 * one],
            [0, 10 * one],
            [5 * one, 10 * one],
            [-6 * one, 10 * one],
        ],
        dtype=np.int64,
    )
    total = (int(hist[:, 0].sum()), int(hist[:, 1].sum()))

    # Execute
    split = best_split(hist, layout, total, BoostParams(), codec)

    # Assert
    assert split is not None
    assert (split.bin, split.default_left) == (0, True)
    assert split.left_sums == (-11 * one, 20 * one)


def vehicle() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    guest = pd.read_csv(DATA / "vehicle_scale_hetero_guest.csv")
    host = pd.read_csv(DATA / "vehicle_scale_hetero_host.csv")
    joined = guest.merge(host, on="id", suffixes=("", "_host"))
    bank = joined[[c for c in guest.columns if c not in ("id", "y")]].to_numpy()
    operator = joined[[c + "_host" for c in host.columns if c != "id"]].to_numpy()
    return bank, operator, joined["y"].to_numpy()


def test_train_reference_learns_softmax_if_multi_class() -> None:
    # Prepare
    xb, xo, y = vehicle()
    params = BoostParams(n_trees=15, objective="multi:softmax", n_classes=4)
    train = np.arange(y.size) % 4 != 0

    # Execute
    bank, operator = train_reference(xb[train], xo[train], y[train], params)
    predicted = joint_predict(bank, operator, xb[~train], xo[~train])

    # Assert: one tree per class and round; better than 0.65 accuracy (XGBoost gets
    # about 0.75 on this split).
    assert len(bank.trees) == 60
    assert [t.output for t in bank.trees[:4]] == [0, 1, 2, 3]
    assert (predicted == y[~train]).mean() > 0.65
    joint = np.c_[xb, xo]
    xgb_model = xgb.XGBClassifier(
        n_estimators=15, max_depth=3, learning_rate=0.3, max_bin=32, tree_method="hist"
    )
    xgb_model.fit(joint[train], y[train])
    xgb_accuracy = (xgb_model.predict(joint[~train]) == y[~train]).mean()
    assert abs((predicted == y[~train]).mean() - xgb_accuracy) < 0.05


def test_train_reference_keeps_best_round_if_early_stopping() -> None:
    # Prepare
    xb, xo, y = vehicle()
    params = BoostParams(
        n_trees=200,
        objective="multi:softprob",
        n_classes=4,
        early_stopping_rounds=3,
        learning_rate=0.5,
    )
    train = np.arange(y.size) % 3 != 0

    # Execute
    bank, _ = train_reference(
        xb[train],
        xo[train],
        y[train],
        params,
        x_bank_valid=xb[~train],
        x_operator_valid=xo[~train],
        labels_valid=y[~train],
    )

    # Assert: stopped early, kept the round with the lowest validation loss.
    losses = [h["valid_loss"] for h in bank.history]
    assert len(losses) < 200
    assert bank.best_rounds == int(np.argmin(losses)) + 1
    assert len(bank.trees) == 4 * bank.best_rounds
    assert len(losses) == bank.best_rounds + 3


def test_train_reference_leaves_operator_out_of_first_trees_if_bank_only_trees() -> (
    None
):
    # Prepare
    x, y = integer_data(600)
    params = BoostParams(n_trees=6, bank_only_trees=2)

    # Execute
    bank, operator = train_reference(x[:, :3], x[:, 3:], y, params)

    # Assert
    for tree in bank.trees[:2]:
        assert all(n.owner != OPERATOR for n in tree.nodes.values())
    assert not {0, 1} & set(operator.trees)
    assert set(operator.trees) == set(bank.operator_trees())


@pytest.mark.parametrize(
    "options",
    [{"goss": True}, {"subsample": 0.7}, {"colsample_bytree": 0.5}, {"gamma": 4.0}],
)
def test_train_reference_predicts_joint_margins_if_sampling_or_pruning(
    options: dict[str, object],
) -> None:
    # Prepare
    x, y = integer_data(900)
    params = BoostParams(n_trees=5, **options)

    # Execute
    bank, operator = train_reference(x[:, :3], x[:, 3:], y, params)
    p = joint_predict(bank, operator, x[:, :3], x[:, 3:])

    # Assert: a usable model (training AUC well above chance).
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, p) > 0.7


def test_model_parts_predict_the_same_if_saved_and_loaded() -> None:
    # Prepare
    x, y = integer_data(700)
    bank, operator = train_reference(x[:, :3], x[:, 3:], y, BoostParams(n_trees=4))

    # Execute
    bank_loaded = BankModel.from_dict(json.loads(json.dumps(bank.to_dict())))
    operator_loaded = OperatorModel.from_dict(
        json.loads(json.dumps(operator.to_dict()))
    )

    # Assert
    np.testing.assert_array_equal(
        joint_predict(bank_loaded, operator_loaded, x[:, :3], x[:, 3:]),
        joint_predict(bank, operator, x[:, :3], x[:, 3:]),
    )


def test_bank_model_part_holds_no_operator_threshold_if_operator_splits() -> None:
    # Prepare
    x, y = integer_data(700)
    bank, operator = train_reference(x[:, :3], x[:, 3:] + 0.1234567, y, BoostParams())

    # Execute
    bank_text = json.dumps(bank.to_dict()) + "".join(bank.xgboost_dump())

    # Assert: no operator threshold (all end in .1234567) is in the bank's part.
    thresholds = [
        n.rule.threshold
        for t in operator.trees.values()
        for n in t.nodes.values()
        if n.rule is not None
    ]
    assert thresholds
    assert all(repr(t) not in bank_text for t in thresholds)
    assert "1234567" not in bank_text
    for tree in bank.trees:
        for node in tree.nodes.values():
            if node.owner == OPERATOR:
                assert node.rule is None and node.split_id is not None


def test_xgboost_dump_has_xgboost_keys_if_exported() -> None:
    # Prepare
    x, y = integer_data(700)
    bank, _ = train_reference(x[:, :3], x[:, 3:], y, BoostParams(n_trees=2))
    reference = xgb.train({"max_depth": 3, "tree_method": "hist"}, xgb.DMatrix(x, y), 1)
    xgb_keys = set(
        json.loads(reference.get_dump(dump_format="json", with_stats=True)[0])
    )

    # Execute
    dump = [json.loads(tree) for tree in bank.xgboost_dump()]

    # Assert: the same keys at the root; operator splits as opaque references.
    assert xgb_keys <= set(dump[0])
    nodes = []
    stack = list(dump)
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.get("children", []))
    opaque = [n for n in nodes if "split_ref" in n]
    assert opaque and all(n["split_condition"] is None for n in opaque)
    assert all(n["split_ref"].startswith("operator:") for n in opaque)


def test_feature_importance_counts_splits_of_both_parties_if_trained() -> None:
    # Prepare
    x, y = integer_data(900)
    bank, _ = train_reference(
        x[:, :3],
        x[:, 3:],
        y,
        BoostParams(n_trees=5),
        bank_names=("a", "b", "c"),
        operator_names=("d", "e", "f"),
    )

    # Execute
    importance = bank.feature_importance()

    # Assert
    splits = sum(1 for t in bank.trees for n in t.nodes.values() if not n.is_leaf)
    assert sum(r["splits"] for r in importance) == splits
    assert {r["party"] for r in importance} == {BANK, OPERATOR}
    assert {r["name"] for r in importance if r["party"] == OPERATOR} <= {"d", "e", "f"}
    gains = [r["total_gain"] for r in importance]
    assert gains == sorted(gains, reverse=True)
