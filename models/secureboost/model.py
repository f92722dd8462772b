"""The two persisted halves of a SecureBoost model, their prediction and the bank's
XGBoost-style export.

BankModel: objective, base margin, every tree's shape and leaf values, the rules of the
bank's own splits, and for the operator's splits only the operator's feature index (its
disclosed name) and an opaque split id. OperatorModel: the shape of every tree the
operator took part in and the rules (feature, threshold, default direction) of its own
splits, nothing else. Predicting needs both: the operator computes per tree and row
the set of leaves its splits allow; the bank intersects it with its own set.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from models.secureboost import objective
from models.secureboost.binning import check_features
from models.secureboost.params import SOFTMAX, BoostParams
from models.secureboost.tree import (
    BANK,
    OPERATOR,
    Node,
    SplitRule,
    Tree,
    leaf_values_from_sets,
    pack_leaf_sets,
    reachable_leaves,
    rule_on_values,
    unpack_leaf_sets,
)

BANK_FORMAT = "duet.secureboost.bank/v1"
OPERATOR_FORMAT = "duet.secureboost.operator/v1"


@dataclass
class BankModel:
    params: BoostParams
    base_margin: np.ndarray
    trees: list[Tree]
    bank_features: tuple[str, ...]
    operator_features: tuple[str, ...]  # names or aliases the operator disclosed
    history: list[dict[str, float]] = field(default_factory=list)
    best_rounds: int | None = None

    @property
    def n_outputs(self) -> int:
        return self.params.n_outputs

    def uses_operator(self, tree_index: int) -> bool:
        return any(n.owner == OPERATOR for n in self.trees[tree_index].nodes.values())

    def operator_trees(self) -> list[int]:
        """Trees with at least one operator split (the operator holds a part of)."""
        return [t for t in range(len(self.trees)) if self.uses_operator(t)]

    def bank_leaf_sets(self, x_bank: npt.ArrayLike) -> list[npt.NDArray[np.bool_]]:
        x = check_features(x_bank, self.bank_features, len(self.bank_features))
        rules = rule_on_values(x)
        return [reachable_leaves(t, BANK, rules, x.shape[0]) for t in self.trees]

    def predict_margin(
        self,
        x_bank: npt.ArrayLike,
        operator_leaf_sets: dict[int, npt.NDArray[np.uint8]],
    ) -> np.ndarray:
        """(rows, outputs) margins; operator sets (packed) for every operator tree."""
        bank_sets = self.bank_leaf_sets(x_bank)
        n_rows = bank_sets[0].shape[0] if bank_sets else np.asarray(x_bank).shape[0]
        margins = np.tile(self.base_margin, (n_rows, 1))
        for t, tree in enumerate(self.trees):
            n_leaves = len(tree.leaves)
            if t in operator_leaf_sets:
                op = unpack_leaf_sets(operator_leaf_sets[t], n_leaves)
                if op.shape[0] != n_rows:
                    raise ValueError(
                        f"operator leaf sets of tree {t} have {op.shape[0]} rows, "
                        f"expected {n_rows}"
                    )
            elif self.uses_operator(t):
                raise ValueError(f"tree {t} needs the operator's leaf sets")
            else:
                op = np.ones((n_rows, n_leaves), dtype=bool)
            margins[:, tree.output] += leaf_values_from_sets(tree, bank_sets[t], op)
        return margins

    def predict(
        self,
        x_bank: npt.ArrayLike,
        operator_leaf_sets: dict[int, npt.NDArray[np.uint8]],
    ) -> np.ndarray:
        """P(y = 1) (binary), class probabilities (softprob) or classes (softmax)."""
        p = objective.probabilities(
            self.predict_margin(x_bank, operator_leaf_sets), self.params
        )
        if self.params.objective == SOFTMAX:
            return np.argmax(p, axis=1)
        return p

    def feature_importance(self) -> list[dict[str, Any]]:
        """Split count ("weight") and total gain per feature of both parties."""
        stats: dict[tuple[str, int], list[float]] = {}
        for tree in self.trees:
            for node in tree.nodes.values():
                if node.is_leaf or node.feature is None:
                    continue
                entry = stats.setdefault((node.owner, node.feature), [0, 0.0])
                entry[0] += 1
                entry[1] += node.loss_change or 0.0
        rows = []
        for (party, feature), (count, gain) in stats.items():
            names = self.bank_features if party == BANK else self.operator_features
            rows.append(
                {
                    "party": party,
                    "feature": feature,
                    "name": names[feature],
                    "splits": int(count),
                    "total_gain": gain,
                    "mean_gain": gain / count,
                }
            )
        return sorted(rows, key=lambda r: (-r["total_gain"], r["party"], r["feature"]))

    def xgboost_dump(self) -> list[str]:
        """One JSON string per tree in XGBoost's get_dump(dump_format="json") shape.

        Bank splits carry the bank feature's name and threshold; an operator split
        carries the operator feature's disclosed name, "split_condition": null and an
        opaque "split_ref" ("operator:<split id>"): its threshold stays with the
        operator. "missing" is the child that rows without a value take.
        """
        return [json.dumps(self._dump_node(tree, 0, 0)) for tree in self.trees]

    def _dump_node(self, tree: Tree, node_id: int, depth: int) -> dict[str, Any]:
        node = tree.nodes[node_id]
        if node.is_leaf:
            return {"nodeid": node_id, "leaf": node.leaf_value, "cover": node.cover}
        if node.owner == BANK and node.rule is not None:
            name = self.bank_features[node.rule.feature]
            condition: float | None = node.rule.threshold
            extra: dict[str, Any] = {}
        else:
            name = self.operator_features[node.feature or 0]
            condition = None
            extra = {"split_ref": f"operator:{node.split_id}"}
        missing = node.left if node.default_left else node.right
        return {
            "nodeid": node_id,
            "depth": depth,
            "split": name,
            "split_condition": condition,
            **extra,
            "yes": node.left,
            "no": node.right,
            "missing": missing,
            "gain": node.loss_change,
            "cover": node.cover,
            "children": [
                self._dump_node(tree, node.left, depth + 1),
                self._dump_node(tree, node.right, depth + 1),
            ],
        }

    def truncate(self, rounds: int) -> None:
        """Keep the first `rounds` boosting rounds (early stopping's best)."""
        self.trees = self.trees[: rounds * self.n_outputs]
        self.best_rounds = rounds

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": BANK_FORMAT,
            "params": self.params.to_dict(),
            "base_margin": [float(v) for v in self.base_margin],
            "bank_features": list(self.bank_features),
            "operator_features": list(self.operator_features),
            "best_rounds": self.best_rounds,
            "history": self.history,
            "trees": [t.to_dict() for t in self.trees],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BankModel:
        if data.get("format") != BANK_FORMAT:
            raise ValueError(
                f"not a bank SecureBoost model: format {data.get('format')!r}"
            )
        params = BoostParams.from_dict(data["params"])
        model = cls(
            params,
            np.asarray(data["base_margin"], dtype=np.float64),
            [Tree.from_dict(t) for t in data["trees"]],
            tuple(data["bank_features"]),
            tuple(data["operator_features"]),
            list(data.get("history", [])),
            data.get("best_rounds"),
        )
        if model.base_margin.shape != (params.n_outputs,):
            raise ValueError("bank model: base_margin does not match the objective")
        return model


@dataclass
class OperatorModel:
    """The operator's part: shapes and its own rules, per tree index of the model."""

    trees: dict[int, Tree]
    features: tuple[str, ...]

    def leaf_sets(
        self, x_operator: npt.ArrayLike, trees: Sequence[int] | None = None
    ) -> dict[int, npt.NDArray[np.uint8]]:
        """Per tree, (rows, bytes) packed sets of the leaves its own splits allow."""
        x = check_features(x_operator, self.features, len(self.features))
        rules = rule_on_values(x)
        wanted = sorted(self.trees) if trees is None else list(trees)
        out = {}
        for t in wanted:
            if t not in self.trees:
                raise KeyError(f"the operator holds no part of tree {t}")
            mask = reachable_leaves(self.trees[t], OPERATOR, rules, x.shape[0])
            out[t] = pack_leaf_sets(mask)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": OPERATOR_FORMAT,
            "features": list(self.features),
            "trees": {str(t): tree.to_dict() for t, tree in sorted(self.trees.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OperatorModel:
        if data.get("format") != OPERATOR_FORMAT:
            raise ValueError(
                f"not an operator SecureBoost model: format {data.get('format')!r}"
            )
        return cls(
            {int(t): Tree.from_dict(d) for t, d in data["trees"].items()},
            tuple(data["features"]),
        )


def operator_view(tree: Tree, own: dict[int, tuple[SplitRule, int]]) -> Tree:
    """The operator's copy of a finished tree: shape, owners, own rules, split ids."""
    nodes = {}
    for node_id, node in tree.nodes.items():
        copy = Node(node_id, node.left, node.right, node.owner)
        if node.owner == OPERATOR:
            copy.rule, copy.split_id = own[node_id]
        nodes[node_id] = copy
    return Tree(nodes, tree.output)
