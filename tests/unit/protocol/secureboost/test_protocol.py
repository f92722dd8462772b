"""The two SecureBoost parties through the in-process driver: the federated model is
exactly the plaintext reference (splits, leaf values, operator split ids), for binary
and multi-class, with missing values, sampling, pruning and early stopping; saved parts
predict the same."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.secureboost.model import BankModel, OperatorModel
from models.secureboost.params import BoostParams
from models.secureboost.reference import joint_predict, train_reference
from models.secureboost.tree import OPERATOR
from protocol.crypto.paillier_keys import (
    PaillierPrivateKey,
    PaillierPublicKey,
    generate_keypair,
)
from protocol.secureboost.driver import predict_in_process, train_in_process
from protocol.secureboost.party import BankSbtParty, OperatorSbtParty

Keys = tuple[PaillierPublicKey, PaillierPrivateKey]
Data = tuple[np.ndarray, np.ndarray, np.ndarray]


def names(prefix: str, n: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{j}" for j in range(n))


def federated(
    data: Data, params: BoostParams, private_key: PaillierPrivateKey, valid: bool = True
) -> tuple[BankModel, OperatorModel, np.ndarray]:
    """Train through the driver on 2/3 of the rows (validation on the rest)."""
    xb, xo, y = data
    train = np.arange(y.size) % 3 != 0
    bank = BankSbtParty(
        "job-1",
        xb[train],
        y[train],
        params,
        private_key,
        names=names("b", xb.shape[1]),
        operator_features=tuple(range(xo.shape[1])),
        validation=(xb[~train], y[~train]) if valid else None,
    )
    operator = OperatorSbtParty(
        xo[train], names("o", xo.shape[1]), validation=xo[~train] if valid else None
    )
    bank_model, operator_model = train_in_process(bank, operator)
    return bank_model, operator_model, train


def reference(
    data: Data, params: BoostParams, train: np.ndarray, valid: bool = True
) -> tuple[BankModel, OperatorModel]:
    xb, xo, y = data
    extra = {}
    if valid:
        extra = {
            "x_bank_valid": xb[~train],
            "x_operator_valid": xo[~train],
            "labels_valid": y[~train],
        }
    return train_reference(
        xb[train],
        xo[train],
        y[train],
        params,
        bank_names=names("b", xb.shape[1]),
        operator_names=names("o", xo.shape[1]),
        **extra,
    )


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"goss": True},
        {"subsample": 0.6, "colsample_bytree": 0.6},
        {"gamma": 3.0, "n_trees": 20, "early_stopping_rounds": 2},
        {"bank_only_trees": 2},
        {"min_child_weight": 5.0, "reg_lambda": 3.0, "max_depth": 4},
        {"min_operator_rows": 120, "max_depth": 4},
    ],
)
def test_train_in_process_equals_reference_if_binary(
    keypair: Keys, credit: Data, options: dict[str, object]
) -> None:
    # Prepare
    params = BoostParams(**{"n_trees": 4, **options})

    # Execute
    bank_model, operator_model, train = federated(credit, params, keypair[1])

    # Assert: the same model parts as the plaintext reference, to the last bit.
    ref_bank, ref_operator = reference(credit, params, train)
    assert bank_model.to_dict() == ref_bank.to_dict()
    assert operator_model.to_dict() == ref_operator.to_dict()
    assert any(n.owner == OPERATOR for t in bank_model.trees for n in t.nodes.values())


def test_train_in_process_equals_reference_if_multi_class(
    keypair: Keys, vehicle: Data
) -> None:
    # Prepare: four classes share one ciphertext per row and round.
    params = BoostParams(
        n_trees=2, max_depth=2, objective="multi:softprob", n_classes=4
    )

    # Execute
    bank_model, operator_model, train = federated(vehicle, params, keypair[1])

    # Assert
    ref_bank, ref_operator = reference(vehicle, params, train)
    assert bank_model.to_dict() == ref_bank.to_dict()
    assert operator_model.to_dict() == ref_operator.to_dict()
    assert len(bank_model.trees) == 8


def test_predict_in_process_equals_sum_of_saved_parts_if_loaded(
    keypair: Keys, credit: Data, tmp_path
) -> None:
    # Prepare: each party saves its part as JSON and loads it back.
    params = BoostParams(n_trees=4)
    bank_model, operator_model, train = federated(credit, params, keypair[1])
    (tmp_path / "bank.json").write_text(json.dumps(bank_model.to_dict()))
    (tmp_path / "operator.json").write_text(json.dumps(operator_model.to_dict()))
    bank_loaded = BankModel.from_dict(json.loads((tmp_path / "bank.json").read_text()))
    operator_loaded = OperatorModel.from_dict(
        json.loads((tmp_path / "operator.json").read_text())
    )
    xb, xo, _ = credit

    # Execute
    margins = bank_loaded.predict_margin(
        xb[~train], operator_loaded.leaf_sets(xo[~train], bank_loaded.operator_trees())
    )
    probability = predict_in_process(
        bank_loaded, operator_loaded, xb[~train], xo[~train]
    )

    # Assert: the base margin plus each tree's leaf, where both parties' paths meet.
    expected = np.full(int((~train).sum()), bank_model.base_margin[0])
    ref_bank, ref_operator = reference(credit, params, train)
    for t, tree in enumerate(ref_bank.trees):
        single = BankModel(
            params,
            np.zeros(1),
            [tree],
            ref_bank.bank_features,
            ref_bank.operator_features,
        )
        sets = (
            ref_operator.leaf_sets(xo[~train], [t]) if t in ref_operator.trees else {}
        )
        expected += single.predict_margin(xb[~train], {0: sets[t]} if sets else {})[
            :, 0
        ]
    np.testing.assert_allclose(margins[:, 0], expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(
        probability, joint_predict(ref_bank, ref_operator, xb[~train], xo[~train])
    )


def test_train_in_process_sends_missing_rows_the_learned_way_if_operator_feature(
    keypair: Keys,
) -> None:
    # Prepare: the operator's x0 is missing exactly for most positives.
    rng = np.random.default_rng(3)
    n = 450
    y = (rng.random(n) < 0.4).astype(int)
    xo = rng.normal(size=(n, 2))
    xo[(y == 1) & (rng.random(n) < 0.9), 0] = np.nan
    xb = rng.normal(size=(n, 2))
    params = BoostParams(n_trees=1, max_depth=1)

    # Execute
    bank_model, operator_model, _ = federated((xb, xo, y), params, keypair[1], False)

    # Assert: the root is the operator's x0 with missing rows sent to the larger leaf.
    root = bank_model.trees[0].nodes[0]
    assert root.owner == OPERATOR and root.feature == 0
    rule = operator_model.trees[0].nodes[0].rule
    assert rule is not None and rule.default_left == root.default_left
    probe_bank = np.zeros((2, 2))
    probe_operator = np.array([[np.nan, 0.0], [0.0, 0.0]])
    p = predict_in_process(bank_model, operator_model, probe_bank, probe_operator)
    assert p[0] > p[1]


@pytest.mark.slow
def test_train_in_process_equals_reference_if_default_2048_bit_key(
    credit: Data,
) -> None:
    # Prepare: the production key size.
    _, private_key = generate_keypair()
    params = BoostParams(n_trees=2, max_depth=2)

    # Execute
    bank_model, operator_model, train = federated(credit, params, private_key)

    # Assert
    ref_bank, ref_operator = reference(credit, params, train)
    assert private_key.public_key.n_bits == 2048
    assert bank_model.to_dict() == ref_bank.to_dict()
    assert operator_model.to_dict() == ref_operator.to_dict()
