"""Trees as each party holds them, and prediction by intersecting leaf sets.

Nodes are numbered like a heap (children of i are 2i + 1 and 2i + 2). Both parties know
a tree's shape and which party owns each split; only the owner of a split knows its
rule (feature, threshold, default direction). The bank additionally holds the leaf
values and, for the operator's splits, the operator's feature index and an opaque
split id the operator assigned. Each party computes, per row, the set of leaves its
own splits allow (both branches at the other party's splits); the two sets intersect
in exactly one leaf.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

BANK = "bank"
OPERATOR = "operator"
PARTIES = (BANK, OPERATOR)


@dataclass(frozen=True)
class SplitRule:
    """What the owner of a split keeps: x < threshold goes left, NaN by default_left."""

    feature: int
    bin: int
    threshold: float
    default_left: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "bin": self.bin,
            "threshold": self.threshold,
            "default_left": self.default_left,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SplitRule:
        return cls(
            int(d["feature"]),
            int(d["bin"]),
            float(d["threshold"]),
            bool(d["default_left"]),
        )


@dataclass
class Node:
    """One node; fields a party does not know stay None."""

    node_id: int
    left: int = -1
    right: int = -1
    owner: str = ""  # "" for a leaf, else the party whose feature splits it
    rule: SplitRule | None = None  # the owner's side only
    feature: int | None = None  # bank side: the owner's feature index
    split_id: int | None = None  # operator splits: the operator's opaque handle
    default_left: bool | None = None  # bank side (it chose the direction)
    loss_change: float | None = None  # bank side
    cover: float | None = None  # bank side: hessian sum
    leaf_value: float | None = None  # bank side, leaves only

    @property
    def is_leaf(self) -> bool:
        return self.owner == ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.node_id}
        if not self.is_leaf:
            out |= {"left": self.left, "right": self.right, "owner": self.owner}
        if self.rule is not None:
            out["rule"] = self.rule.to_dict()
        for key in (
            "feature",
            "split_id",
            "default_left",
            "loss_change",
            "cover",
            "leaf_value",
        ):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Node:
        node = cls(
            int(d["id"]),
            int(d.get("left", -1)),
            int(d.get("right", -1)),
            str(d.get("owner", "")),
        )
        if node.owner not in ("", *PARTIES):
            raise ValueError(f"node {node.node_id}: unknown owner {node.owner!r}")
        if "rule" in d:
            node.rule = SplitRule.from_dict(d["rule"])
        for key, kind in (
            ("feature", int),
            ("split_id", int),
            ("default_left", bool),
            ("loss_change", float),
            ("cover", float),
            ("leaf_value", float),
        ):
            if key in d:
                setattr(node, key, kind(d[key]))
        return node


@dataclass
class Tree:
    """One tree as one party holds it; `output` is the class it scores (0 if binary)."""

    nodes: dict[int, Node] = field(default_factory=dict)
    output: int = 0

    @property
    def leaves(self) -> list[int]:
        return sorted(i for i, n in self.nodes.items() if n.is_leaf)

    def check(self) -> None:
        """Raise ValueError unless the nodes form one binary tree rooted at 0."""
        if 0 not in self.nodes:
            raise ValueError("tree has no root node 0")
        seen = {0}
        stack = [0]
        while stack:
            node = self.nodes[stack.pop()]
            if node.is_leaf:
                continue
            for child in (node.left, node.right):
                if child not in self.nodes or child in seen:
                    raise ValueError(f"node {node.node_id}: bad child {child}")
                seen.add(child)
                stack.append(child)
        if seen != set(self.nodes):
            raise ValueError("tree has unreachable nodes")

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "nodes": [self.nodes[i].to_dict() for i in sorted(self.nodes)],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tree:
        nodes = [Node.from_dict(n) for n in d["nodes"]]
        tree = cls({n.node_id: n for n in nodes}, int(d.get("output", 0)))
        tree.check()
        return tree


GoesLeft = Callable[[SplitRule], npt.NDArray[np.bool_]]


def rule_on_values(x: npt.NDArray[np.float64]) -> GoesLeft:
    """Evaluate the owner's rules on raw feature values (x < threshold, NaN default)."""

    def goes_left(rule: SplitRule) -> npt.NDArray[np.bool_]:
        column = x[:, rule.feature]
        missing = np.isnan(column)
        with np.errstate(invalid="ignore"):
            left = column < rule.threshold
        return np.where(missing, rule.default_left, left)

    return goes_left


def rule_on_bins(bins: npt.NDArray[np.uint16], n_bins: tuple[int, ...]) -> GoesLeft:
    """Evaluate the owner's rules on training bins (bin <= rule.bin, else default)."""

    def goes_left(rule: SplitRule) -> npt.NDArray[np.bool_]:
        column = bins[:, rule.feature]
        missing = column == n_bins[rule.feature]
        return np.where(missing, rule.default_left, column <= rule.bin)

    return goes_left


def reachable_leaves(
    tree: Tree, party: str, goes_left: GoesLeft, n_rows: int
) -> npt.NDArray[np.bool_]:
    """(rows, leaves) mask of the leaves this party's own splits allow per row."""
    leaves = tree.leaves
    column = {leaf: j for j, leaf in enumerate(leaves)}
    out = np.zeros((n_rows, len(leaves)), dtype=bool)
    reach: dict[int, npt.NDArray[np.bool_]] = {0: np.ones(n_rows, dtype=bool)}
    for node_id in sorted(tree.nodes):
        node = tree.nodes[node_id]
        here = reach.pop(node_id)
        if node.is_leaf:
            out[:, column[node_id]] = here
        elif node.owner == party:
            if node.rule is None:
                raise ValueError(f"node {node_id}: own split without a rule")
            left = goes_left(node.rule)
            reach[node.left] = here & left
            reach[node.right] = here & ~left
        else:
            reach[node.left] = here
            reach[node.right] = here
    return out


def pack_leaf_sets(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint8]:
    """(rows, leaves) booleans as (rows, ceil(leaves / 8)) bytes, little bit order."""
    return np.packbits(mask, axis=1, bitorder="little")


def unpack_leaf_sets(
    packed: npt.NDArray[np.uint8], n_leaves: int
) -> npt.NDArray[np.bool_]:
    width = (n_leaves + 7) // 8
    if packed.ndim != 2 or packed.shape[1] != width:
        raise ValueError(f"leaf sets have shape {packed.shape}, want (rows, {width})")
    return np.unpackbits(packed, axis=1, count=n_leaves, bitorder="little").astype(bool)


def leaf_values_from_sets(
    tree: Tree, bank_sets: npt.NDArray[np.bool_], operator_sets: npt.NDArray[np.bool_]
) -> np.ndarray:
    """Per-row leaf value where the two parties' leaf sets meet (exactly one leaf)."""
    both = bank_sets & operator_sets
    hits = both.sum(axis=1)
    if np.any(hits != 1):
        row = int(np.argmax(hits != 1))
        raise ValueError(
            f"row {row} reaches {int(hits[row])} leaves; the parties' trees disagree"
        )
    values = np.array([tree.nodes[leaf].leaf_value or 0.0 for leaf in tree.leaves])
    return values[np.argmax(both, axis=1)]
