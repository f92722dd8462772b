"""Plaintext reference trainer: SecureBoost's algorithm on joined data, in one process.

The oracle of the federated protocol: the same binning per party, the same
fixed-point gradients, samples, histograms and split choices, and the operator's split
ids assigned in the same order, so the federated bank and operator must end with
exactly these two model parts.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from models.secureboost.binning import QuantileBinner, check_features
from models.secureboost.booster import Booster
from models.secureboost.histogram import build_histogram
from models.secureboost.model import BankModel, OperatorModel, operator_view
from models.secureboost.params import BoostParams
from models.secureboost.tree import (
    BANK,
    OPERATOR,
    SplitRule,
    reachable_leaves,
    rule_on_bins,
    rule_on_values,
)


def train_reference(
    x_bank: npt.ArrayLike,
    x_operator: npt.ArrayLike,
    labels: npt.ArrayLike,
    params: BoostParams,
    *,
    bank_names: tuple[str, ...] | None = None,
    operator_names: tuple[str, ...] | None = None,
    x_bank_valid: npt.ArrayLike | None = None,
    x_operator_valid: npt.ArrayLike | None = None,
    labels_valid: npt.ArrayLike | None = None,
) -> tuple[BankModel, OperatorModel]:
    """Train on both parties' features in the clear; return both model parts."""
    xo = check_features(x_operator, operator_names)
    op_binner = QuantileBinner.fit(xo, params.max_bins, operator_names)
    op_bins = op_binner.transform(xo)
    booster = Booster(
        x_bank,
        labels,
        params,
        operator_bins=op_binner.n_bins,
        bank_names=bank_names,
        operator_names=op_binner.names,
        x_bank_valid=x_bank_valid,
        labels_valid=labels_valid,
    )
    if xo.shape[0] != booster.n_rows:
        raise ValueError(f"{xo.shape[0]} operator rows for {booster.n_rows} bank rows")
    xo_valid = None
    if booster.has_validation:
        if x_operator_valid is None:
            raise ValueError("validation needs the operator's validation features")
        xo_valid = check_features(x_operator_valid, op_binner.names, xo.shape[1])
    operator_trees = {}
    next_split_id = 0
    for round_index in range(params.n_trees):
        sample = booster.start_round(round_index)
        round_bins = op_bins[sample.rows]
        for output in range(params.n_outputs):
            plan = booster.plan_tree(output)
            grower = booster.grower(plan)
            own: dict[int, tuple[SplitRule, int]] = {}
            while not grower.done:
                for task in grower.histogram_tasks(BANK):
                    grower.set_histogram(
                        task.node_id, BANK, booster.bank_histogram(grower, task)
                    )
                for task in grower.histogram_tasks(OPERATOR):
                    hist = build_histogram(
                        round_bins[task.rows],
                        grower.layouts[OPERATOR],
                        grower.gh[task.rows],
                    )
                    grower.set_histogram(task.node_id, OPERATOR, hist)
                for decision in grower.decisions():
                    rows = grower.node_rows(decision.node_id)
                    if decision.owner == BANK:
                        rule, left = booster.bank_split(grower, decision, rows)
                        grower.apply(decision.node_id, left, rule=rule)
                        continue
                    cand = decision.candidate
                    rule = SplitRule(
                        cand.feature,
                        cand.bin,
                        op_binner.threshold(cand.feature, cand.bin),
                        cand.default_left,
                    )
                    left = rule_on_bins(round_bins[rows], op_binner.n_bins)(rule)
                    own[decision.node_id] = (rule, next_split_id)
                    grower.apply(decision.node_id, left, split_id=next_split_id)
                    next_split_id += 1
                grower.next_level()
            tree, leaf_rows = grower.finish()
            op_tree = operator_view(tree, own)
            train_sets = None
            if booster.needs_operator_train_sets(tree):
                train_sets = reachable_leaves(
                    op_tree,
                    OPERATOR,
                    rule_on_bins(op_bins, op_binner.n_bins),
                    xo.shape[0],
                )
            booster.finish_tree(tree, leaf_rows, train_sets)
            if op_tree.nodes and any(n.owner == OPERATOR for n in tree.nodes.values()):
                operator_trees[plan.index] = op_tree
            if xo_valid is not None:
                valid_sets = reachable_leaves(
                    op_tree, OPERATOR, rule_on_values(xo_valid), xo_valid.shape[0]
                )
                booster.add_validation_tree(tree, valid_sets)
        if booster.end_round():
            break
    model = booster.final_model()
    kept = set(range(len(model.trees)))
    operator = OperatorModel(
        {t: tree for t, tree in operator_trees.items() if t in kept}, op_binner.names
    )
    return model, operator


def joint_predict(
    bank: BankModel,
    operator: OperatorModel,
    x_bank: npt.ArrayLike,
    x_operator: npt.ArrayLike,
) -> np.ndarray:
    """Both parts' prediction in one process (what federated prediction computes)."""
    return bank.predict(x_bank, operator.leaf_sets(x_operator))
