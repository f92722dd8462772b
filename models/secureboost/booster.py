"""The bank's boosting loop without the operator: gradients, samples, its own
histograms and splits, margins, validation and early stopping.

The federated bank (protocol/secureboost) and the plaintext reference trainer both
drive this class; they differ only in where the operator's histograms and partitions
come from, so their models agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.metrics import roc_auc
from models.secureboost import objective
from models.secureboost.binning import QuantileBinner, check_features
from models.secureboost.grower import Decision, HistogramTask, TreeGrower
from models.secureboost.histogram import (
    BinLayout,
    GradientCodec,
    build_histogram,
    check_exact_sum_bound,
)
from models.secureboost.model import BankModel
from models.secureboost.params import BINARY, BoostParams
from models.secureboost.sampling import sample_columns, sample_rows
from models.secureboost.tree import (
    BANK,
    OPERATOR,
    SplitRule,
    Tree,
    leaf_values_from_sets,
    reachable_leaves,
    rule_on_bins,
    rule_on_values,
)


@dataclass(frozen=True)
class RoundSample:
    """One boosting round: sampled training rows and their encoded (g, h) per output."""

    index: int
    rows: npt.NDArray[np.int64]  # sorted indices into the aligned training rows
    gh: npt.NDArray[np.int64]  # (rows, 2 * outputs): g_0, h_0, g_1, h_1, ...
    uses_operator: bool


@dataclass(frozen=True)
class TreePlan:
    index: int  # global tree index: round * outputs + output
    output: int
    bank_features: tuple[int, ...]
    operator_features: tuple[int, ...]  # empty: the operator takes no part


class Booster:
    """Bank-side state of one training run (see module docstring)."""

    def __init__(
        self,
        x_bank: npt.ArrayLike,
        labels: npt.ArrayLike,
        params: BoostParams,
        *,
        operator_bins: tuple[int, ...],
        bank_names: tuple[str, ...] | None = None,
        operator_names: tuple[str, ...] | None = None,
        x_bank_valid: npt.ArrayLike | None = None,
        labels_valid: npt.ArrayLike | None = None,
    ):
        self.params = params
        x = check_features(x_bank, bank_names)
        self.binner = QuantileBinner.fit(x, params.max_bins, bank_names)
        self.bins = self.binner.transform(x)
        self.labels = objective.check_labels(labels, params)
        if self.labels.size != x.shape[0]:
            raise ValueError(
                f"{self.labels.size} labels for {x.shape[0]} rows of bank features"
            )
        if self.labels.size < 2:
            raise ValueError("training needs at least 2 rows")
        self.codec = self.codec_for(params)
        check_exact_sum_bound(self.codec.value_bits, self.labels.size)
        self.operator_bins = tuple(operator_bins)
        self.operator_names = operator_names or tuple(
            f"operator_x{j}" for j in range(len(self.operator_bins))
        )
        self.bank_layout = BinLayout(tuple(range(x.shape[1])), self.binner.n_bins)
        self.operator_layout = BinLayout(
            tuple(range(len(self.operator_bins))), self.operator_bins
        )
        self.rng = np.random.default_rng(params.seed)
        self.base = objective.base_margin(self.labels, params)
        self.margins = np.tile(self.base, (self.labels.size, 1))
        self.model = BankModel(
            params, self.base.copy(), [], self.binner.names, self.operator_names
        )
        self.x_valid: np.ndarray | None = None
        self.labels_valid: npt.NDArray[np.int64] | None = None
        if x_bank_valid is not None:
            if labels_valid is None:
                raise ValueError("validation features need validation labels")
            self.x_valid = check_features(x_bank_valid, bank_names, x.shape[1])
            self.labels_valid = objective.check_labels(labels_valid, params)
            if self.labels_valid.size != self.x_valid.shape[0]:
                raise ValueError("validation labels and features differ in rows")
            self.valid_margins = np.tile(self.base, (self.labels_valid.size, 1))
        elif params.early_stopping_rounds:
            raise ValueError("early stopping needs a validation split")
        self._best: tuple[float, int] | None = None
        self.stopped = False
        self.round: RoundSample | None = None

    @staticmethod
    def codec_for(params: BoostParams) -> GradientCodec:
        """The fixed-point codec of a job's gradients (bound covers GOSS weights)."""
        return GradientCodec.for_amplification(params.goss_amplification)

    @property
    def n_rows(self) -> int:
        return int(self.labels.size)

    @property
    def has_validation(self) -> bool:
        return self.x_valid is not None

    # Rounds and trees.

    def start_round(self, index: int) -> RoundSample:
        g, h = objective.gradients(self.margins, self.labels, self.params)
        rows, weights = sample_rows(g, self.params, self.rng)
        w = weights[:, None]
        gh = np.empty((rows.size, 2 * g.shape[1]), dtype=np.int64)
        gh[:, 0::2] = self.codec.encode(g[rows] * w)
        gh[:, 1::2] = self.codec.encode(h[rows] * w)
        uses_operator = (
            bool(self.operator_bins) and index >= self.params.bank_only_trees
        )
        self.round = RoundSample(index, rows, gh, uses_operator)
        return self.round

    def plan_tree(self, output: int) -> TreePlan:
        assert self.round is not None
        bank, operator = sample_columns(
            len(self.bank_layout.features),
            len(self.operator_bins),
            self.params,
            self.rng,
        )
        if not self.round.uses_operator:
            operator = ()
        index = self.round.index * self.params.n_outputs + output
        return TreePlan(index, output, bank, operator)

    def grower(self, plan: TreePlan) -> TreeGrower:
        assert self.round is not None
        layouts = {BANK: self.bank_layout.select(plan.bank_features)}
        if plan.operator_features:
            layouts[OPERATOR] = self.operator_layout.select(plan.operator_features)
        gh = self.round.gh[:, 2 * plan.output : 2 * plan.output + 2]
        return TreeGrower(
            np.ascontiguousarray(gh), self.params, self.codec, layouts, plan.output
        )

    def bank_histogram(
        self, grower: TreeGrower, task: HistogramTask
    ) -> npt.NDArray[np.int64]:
        assert self.round is not None
        rows = self.round.rows[task.rows]
        return build_histogram(
            self.bins[rows], grower.layouts[BANK], grower.gh[task.rows]
        )

    def bank_split(
        self, grower: TreeGrower, decision: Decision, node_rows: npt.NDArray[np.int64]
    ) -> tuple[SplitRule, npt.NDArray[np.bool_]]:
        """The rule and left mask of a bank split over the node's rows."""
        assert self.round is not None
        cand = decision.candidate
        rule = SplitRule(
            cand.feature,
            cand.bin,
            self.binner.threshold(cand.feature, cand.bin),
            cand.default_left,
        )
        goes_left = rule_on_bins(
            self.bins[self.round.rows[node_rows]], self.binner.n_bins
        )
        return rule, goes_left(rule)

    def finish_tree(
        self,
        tree: Tree,
        leaf_rows: dict[int, npt.NDArray[np.int64]],
        operator_train_sets: npt.NDArray[np.bool_] | None = None,
    ) -> None:
        """Add a tree's output to the training margins.

        When the round sampled every row, the grower's leaf rows suffice; otherwise
        the operator's leaf sets over all training rows are needed (trees that use the
        operator) and intersected with the bank's.
        """
        assert self.round is not None
        self.model.trees.append(tree)
        column = self.margins[:, tree.output]
        if self.round.rows.size == self.n_rows:
            for leaf, rows in leaf_rows.items():
                column[self.round.rows[rows]] += tree.nodes[leaf].leaf_value or 0.0
            return
        bank_sets = reachable_leaves(
            tree, BANK, rule_on_bins(self.bins, self.binner.n_bins), self.n_rows
        )
        op = operator_train_sets
        if op is None:
            op = np.ones_like(bank_sets)
        column += leaf_values_from_sets(tree, bank_sets, op)

    def needs_operator_train_sets(self, tree: Tree) -> bool:
        assert self.round is not None
        uses = any(n.owner == OPERATOR for n in tree.nodes.values())
        return uses and self.round.rows.size != self.n_rows

    def add_validation_tree(
        self, tree: Tree, operator_sets: npt.NDArray[np.bool_] | None
    ) -> None:
        assert self.x_valid is not None
        bank_sets = reachable_leaves(
            tree, BANK, rule_on_values(self.x_valid), self.x_valid.shape[0]
        )
        op = np.ones_like(bank_sets) if operator_sets is None else operator_sets
        self.valid_margins[:, tree.output] += leaf_values_from_sets(tree, bank_sets, op)

    def end_round(self) -> bool:
        """Record the round's losses; return True when training should stop."""
        assert self.round is not None
        index = self.round.index
        entry = {
            "round": float(index),
            "train_loss": objective.loss(self.margins, self.labels, self.params),
        }
        if self.params.objective == BINARY and _both_classes(self.labels):
            entry["train_auc"] = roc_auc(self.labels, self.margins[:, 0])
        if self.x_valid is not None and self.labels_valid is not None:
            valid = objective.loss(self.valid_margins, self.labels_valid, self.params)
            entry["valid_loss"] = valid
            if self.params.objective == BINARY and _both_classes(self.labels_valid):
                margins = self.valid_margins[:, 0]
                entry["valid_auc"] = roc_auc(self.labels_valid, margins)
            if self._best is None or valid < self._best[0]:
                self._best = (valid, index)
        self.model.history.append(entry)
        self.round = None
        patience = self.params.early_stopping_rounds
        if patience and self._best is not None and index - self._best[1] >= patience:
            self.model.truncate(self._best[1] + 1)
            self.stopped = True
            return True
        return index + 1 >= self.params.n_trees

    def final_model(self) -> BankModel:
        if self._best is not None and self.model.best_rounds is None:
            self.model.best_rounds = len(self.model.trees) // self.params.n_outputs
        return self.model


def _both_classes(labels: npt.NDArray[np.int64]) -> bool:
    return bool(labels.min(initial=0) != labels.max(initial=0))
