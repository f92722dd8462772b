"""Level-wise growth of one tree from exact histograms (shared by the bank and the
reference trainer).

Per level: `histogram_tasks` names the nodes whose histograms must be built (the root,
then the smaller child of every split; the larger child is parent - smaller, exact in
integers), `set_histogram` stores each party's histogram of them, `decisions` picks
each node's best split over both parties' candidates (the bank's first on ties) or
makes it a leaf, and `apply` splits a node by the owner's left mask. `finish` prunes by
gamma bottom-up (XGBoost's pruner) and sets the leaf values.

Rows are positions in the round's sample (sorted), and every node keeps its rows sorted,
so a left mask over a node's rows means the same to both parties.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from models.secureboost.histogram import BinLayout, GradientCodec
from models.secureboost.params import BoostParams
from models.secureboost.split import (
    SplitCandidate,
    best_split,
    can_split,
    leaf_weight,
)
from models.secureboost.tree import BANK, OPERATOR, Node, SplitRule, Tree


@dataclass
class _Open:
    node_id: int
    depth: int
    rows: npt.NDArray[np.int64]
    sums: tuple[int, int]
    histograms: dict[str, npt.NDArray[np.int64]] = field(default_factory=dict)


@dataclass(frozen=True)
class HistogramTask:
    node_id: int
    rows: npt.NDArray[np.int64]
    sums: tuple[int, int]


@dataclass(frozen=True)
class Decision:
    node_id: int
    owner: str
    candidate: SplitCandidate


class PartitionMismatch(ValueError):
    """A left mask whose rows do not add up to the split's left sums."""


class TreeGrower:
    """Grow one tree; `gh` holds the round's encoded (g, h) of this tree's output."""

    def __init__(
        self,
        gh: npt.NDArray[np.int64],
        params: BoostParams,
        codec: GradientCodec,
        layouts: dict[str, BinLayout],
        output: int = 0,
    ):
        self.gh = gh
        self.params = params
        self.codec = codec
        self.layouts = layouts
        self.tree = Tree(output=output)
        rows = np.arange(gh.shape[0], dtype=np.int64)
        root = _Open(0, 0, rows, _sums(gh, rows))
        self._level: list[_Open] = [root]
        self._parents: dict[int, _Open] = {}
        self._leaf_rows: dict[int, npt.NDArray[np.int64]] = {}
        self._stats: dict[int, tuple[int, int]] = {}
        self._pending: dict[int, Decision] = {}
        self._next: list[_Open] = []

    @property
    def done(self) -> bool:
        return not self._level

    def _grows(self, node: _Open) -> bool:
        return node.depth < self.params.max_depth and can_split(
            node.sums, self.params, self.codec
        )

    def histogram_tasks(self, party: str = BANK) -> list[HistogramTask]:
        """Nodes of this level whose histograms `party` must build (see module
        docstring). The operator's skip nodes under params.min_operator_rows: of a
        pair it builds the smaller child if that is large enough, else the larger
        one (no subtraction), else neither."""
        tasks = []
        by_parent: dict[int, list[_Open]] = {}
        for node in self._level:
            by_parent.setdefault((node.node_id - 1) // 2, []).append(node)
        for node in self._level:
            if node.node_id == 0:
                if self._grows(node) and self._candidates_of(party, node):
                    tasks.append(HistogramTask(0, node.rows, node.sums))
                continue
            pair = by_parent[(node.node_id - 1) // 2]
            if not any(self._grows(n) for n in pair):
                continue
            smaller = min(pair, key=lambda n: (n.rows.size, n.node_id))
            if self._candidates_of(party, smaller):
                built = smaller
            else:
                built = max(pair, key=lambda n: (n.rows.size, -n.node_id))
                if not (self._grows(built) and self._candidates_of(party, built)):
                    continue
            if node is built:
                tasks.append(HistogramTask(node.node_id, node.rows, node.sums))
        return tasks

    def _candidates_of(self, party: str, node: _Open) -> bool:
        """Whether `party`'s features are candidates at the node."""
        if party not in self.layouts:
            return False
        return party == BANK or node.rows.size >= self.params.min_operator_rows

    def node_rows(self, node_id: int) -> npt.NDArray[np.int64]:
        """Sorted round positions of an open node's rows."""
        return self._find(node_id).rows

    def histogram(self, node_id: int, party: str) -> npt.NDArray[np.int64] | None:
        """A party's histogram of an open node, if built or derived."""
        return self._find(node_id).histograms.get(party)

    def set_histogram(
        self, node_id: int, party: str, histogram: npt.NDArray[np.int64]
    ) -> None:
        node = self._find(node_id)
        layout = self.layouts[party]
        if histogram.shape != (layout.total_bins, 2):
            raise ValueError(
                f"{party} histogram of node {node_id} has shape {histogram.shape}, "
                f"expected ({layout.total_bins}, 2)"
            )
        node.histograms[party] = histogram

    def decisions(self) -> list[Decision]:
        """Derive siblings' histograms, then choose every node's split or leaf."""
        for node in self._level:
            parent = self._parents.get((node.node_id - 1) // 2)
            sibling = self._sibling(node)
            if node.node_id == 0 or parent is None or sibling is None:
                continue
            for party, hist in parent.histograms.items():
                if party not in node.histograms and party in sibling.histograms:
                    node.histograms[party] = hist - sibling.histograms[party]
        decisions = []
        for node in self._level:
            best: tuple[str, SplitCandidate] | None = None
            if self._grows(node):
                for party in (BANK, OPERATOR):
                    if not self._candidates_of(party, node):
                        continue
                    if party not in node.histograms:
                        raise ValueError(f"node {node.node_id}: no {party} histogram")
                    candidate = best_split(
                        node.histograms[party],
                        self.layouts[party],
                        node.sums,
                        self.params,
                        self.codec,
                    )
                    if candidate is not None and (
                        best is None or candidate.loss_change > best[1].loss_change
                    ):
                        best = (party, candidate)
            if best is None:
                self._make_leaf(node)
                continue
            decision = Decision(node.node_id, best[0], best[1])
            self._pending[node.node_id] = decision
            decisions.append(decision)
        self._next = []
        return decisions

    def apply(
        self,
        node_id: int,
        left: npt.NDArray[np.bool_],
        *,
        rule: SplitRule | None = None,
        split_id: int | None = None,
    ) -> None:
        """Split a decided node by the owner's mask over its (sorted) rows."""
        decision = self._pending.pop(node_id)
        node = self._find(node_id)
        if left.shape != node.rows.shape or left.dtype != np.bool_:
            raise PartitionMismatch(
                f"left mask of node {node_id} must be {node.rows.size} booleans"
            )
        left_rows, right_rows = node.rows[left], node.rows[~left]
        left_sums = _sums(self.gh, left_rows)
        if left_sums != decision.candidate.left_sums:
            raise PartitionMismatch(
                f"the rows sent left at node {node_id} do not add up to the split's "
                "left sums"
            )
        right_sums = (node.sums[0] - left_sums[0], node.sums[1] - left_sums[1])
        cand = decision.candidate
        self.tree.nodes[node_id] = Node(
            node_id,
            2 * node_id + 1,
            2 * node_id + 2,
            decision.owner,
            rule=rule,
            feature=cand.feature,
            split_id=split_id,
            default_left=cand.default_left,
            loss_change=cand.loss_change,
            cover=self._cover(node.sums),
        )
        self._stats[node_id] = node.sums
        self._parents[node_id] = node
        depth = node.depth + 1
        self._next.append(_Open(2 * node_id + 1, depth, left_rows, left_sums))
        self._next.append(_Open(2 * node_id + 2, depth, right_rows, right_sums))

    def children_need(self, party: str, node_id: int) -> bool:
        """After `apply`: whether a child of the node may split on `party`'s
        features (only then must that party learn the node's partition)."""
        children = [n for n in self._next if (n.node_id - 1) // 2 == node_id]
        return any(self._grows(n) and self._candidates_of(party, n) for n in children)

    def next_level(self) -> None:
        """Move to the children created by `apply` (call after every decision)."""
        if self._pending:
            raise ValueError(
                f"nodes {sorted(self._pending)} were decided but not split"
            )
        # Parents of the previous level are no longer needed.
        keep = {(n.node_id - 1) // 2 for n in self._next}
        self._parents = {k: v for k, v in self._parents.items() if k in keep}
        self._level = sorted(self._next, key=lambda n: n.node_id)
        self._next = []

    def finish(self) -> tuple[Tree, dict[int, npt.NDArray[np.int64]]]:
        """Prune by gamma, set leaf values; return the tree and each leaf's rows."""
        if self._level:
            raise ValueError("the tree still has open nodes")
        self._prune()
        return self.tree, self._leaf_rows

    def _prune(self) -> None:
        gamma = self.params.gamma
        changed = True
        while changed:
            changed = False
            for node_id in sorted(self.tree.nodes, reverse=True):
                node = self.tree.nodes[node_id]
                if node.is_leaf:
                    continue
                left, right = self.tree.nodes[node.left], self.tree.nodes[node.right]
                if left.is_leaf and right.is_leaf and (node.loss_change or 0.0) < gamma:
                    rows = np.concatenate(
                        [
                            self._leaf_rows.pop(node.left),
                            self._leaf_rows.pop(node.right),
                        ]
                    )
                    del self.tree.nodes[node.left], self.tree.nodes[node.right]
                    sums = self._stats[node_id]
                    self.tree.nodes[node_id] = self._leaf_node(node_id, sums)
                    self._leaf_rows[node_id] = np.sort(rows)
                    changed = True

    def _make_leaf(self, node: _Open) -> None:
        self.tree.nodes[node.node_id] = self._leaf_node(node.node_id, node.sums)
        self._leaf_rows[node.node_id] = node.rows

    def _leaf_node(self, node_id: int, sums: tuple[int, int]) -> Node:
        return Node(
            node_id,
            cover=self._cover(sums),
            leaf_value=leaf_weight(sums, self.params, self.codec),
        )

    def _cover(self, sums: tuple[int, int]) -> float:
        return float(self.codec.decode(np.asarray(sums[1])))

    def _find(self, node_id: int) -> _Open:
        for node in self._level:
            if node.node_id == node_id:
                return node
        raise KeyError(f"node {node_id} is not open")

    def _sibling(self, node: _Open) -> _Open | None:
        sibling_id = node.node_id + 1 if node.node_id % 2 == 1 else node.node_id - 1
        for other in self._level:
            if other.node_id == sibling_id:
                return other
        return None


def _sums(gh: npt.NDArray[np.int64], rows: npt.NDArray[np.int64]) -> tuple[int, int]:
    total = gh[rows].sum(axis=0)
    return int(total[0]), int(total[1])
