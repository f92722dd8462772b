"""Plans for per-feature bin sums with few ciphertext multiplications: joint cells.

Summing one ciphertext per row into the bins of F features costs about F
multiplications per row. Rows that agree on several features can be multiplied
together once: group features, sum each row into its *cell* (its tuple of bins in the
group), then project the cells onto each feature's bins. Categorical and skewed
features (sex, marital status, months overdue, zero balances) have few joint cells, so
a group of them costs little more than one feature. Projections go through a binary
hierarchy (cells of A u B -> cells of A and of B -> ...), and with the node total known
(encrypted) the largest cell of each group is never summed at all: it is the total
divided by the product of the other cells.

Counting multiplications (the first item of a product is free), merging groups A and B
changes the cost by

    cells(A u B) - rows - 1 + (big(A) + big(B) - big(A u B)) - INVERSION_COST,

where big is the row count of the largest cell (skipped). `plan_groups` merges
greedily while that is negative. Everything here is plaintext bookkeeping on bin
indices of one party; the results are exact whatever the plan, only the cost differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# A modular inversion mod n^2 costs about this many multiplications (measured: 58 us
# against 6.5 us at 2048 bits); merging two groups saves one.
INVERSION_COST = 9
# Beyond this many features only neighbours (by cell count) are tried as merges.
FULL_SEARCH_FEATURES = 24
NEIGHBOURS = 8


@dataclass(frozen=True)
class CellGroup:
    """A feature (leaf: one column) or the union of two groups (children)."""

    features: tuple[int, ...]  # columns of the bin matrix
    children: tuple[CellGroup, ...] = ()

    @property
    def is_leaf(self) -> bool:
        return not self.children


@dataclass
class _Candidate:
    group: CellGroup
    codes: npt.NDArray[np.int64]  # dense cell id per row
    n_codes: int
    cells: int  # non-empty cells
    big: int  # rows in the largest cell


def _dense(
    codes: npt.NDArray[np.int64], n_codes: int
) -> tuple[npt.NDArray[np.int64], int, int]:
    """Renumber codes densely; return (codes, non-empty cells, largest count)."""
    if n_codes <= 8 * codes.size + 1024:
        counts = np.bincount(codes, minlength=n_codes)
        present = counts > 0
        remap = np.cumsum(present) - 1
        return remap[codes], int(present.sum()), int(counts.max(initial=0))
    values, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    return inverse.astype(np.int64), int(values.size), int(counts.max(initial=0))


def _merge_stats(a: _Candidate, b: _Candidate) -> tuple[int, int]:
    combined = a.codes * b.n_codes + b.codes
    n = a.n_codes * b.n_codes
    if n <= 8 * combined.size + 1024:
        counts = np.bincount(combined, minlength=n)
        return int(np.count_nonzero(counts)), int(counts.max(initial=0))
    _, counts = np.unique(combined, return_counts=True)
    return int(counts.size), int(counts.max(initial=0))


def _benefit(a: _Candidate, b: _Candidate, rows: int, skip_largest: bool) -> int:
    cells, big = _merge_stats(a, b)
    benefit = rows + 1 - cells
    if skip_largest:
        benefit += INVERSION_COST - (a.big + b.big - big)
    return benefit


def plan_groups(
    bins: npt.NDArray[np.integer], *, skip_largest: bool = True
) -> tuple[CellGroup, ...]:
    """Greedy grouping of the bin matrix's columns (see module docstring)."""
    rows, n_features = bins.shape
    if n_features == 0:
        return ()
    pool: list[_Candidate] = []
    for j in range(n_features):
        column = bins[:, j].astype(np.int64)
        n_codes = int(column.max(initial=0)) + 1
        codes, cells, big = _dense(column, n_codes)
        pool.append(_Candidate(CellGroup((j,)), codes, cells, cells, big))
    if rows == 0:
        return tuple(c.group for c in pool)
    benefits: dict[tuple[int, int], int] = {}
    ids = {id(c): c for c in pool}

    def neighbours(c: _Candidate) -> list[_Candidate]:
        if len(pool) <= FULL_SEARCH_FEATURES:
            return [o for o in pool if o is not c]
        # The closest in cell count; ties (many alike columns) broken by position
        # after c, so alike columns pair with different partners instead of all
        # with the same first few (which left most of them unmerged).
        here = pool.index(c)
        order = sorted(
            range(len(pool)),
            key=lambda i: (abs(pool[i].cells - c.cells), (i - here) % len(pool)),
        )
        return [pool[i] for i in order if i != here][:NEIGHBOURS]

    def key(a: _Candidate, b: _Candidate) -> tuple[int, int]:
        return (id(a), id(b)) if id(a) < id(b) else (id(b), id(a))

    for c in pool:
        for o in neighbours(c):
            k = key(c, o)
            if k not in benefits:
                benefits[k] = _benefit(c, o, rows, skip_largest)
    while benefits:
        (ia, ib), gain = max(benefits.items(), key=lambda kv: kv[1])
        if gain <= 0:
            break
        a, b = ids[ia], ids[ib]
        combined = a.codes * b.n_codes + b.codes
        codes, cells, big = _dense(combined, a.n_codes * b.n_codes)
        merged = _Candidate(
            CellGroup(a.group.features + b.group.features, (a.group, b.group)),
            codes,
            cells,
            cells,
            big,
        )
        pool = [c for c in pool if c is not a and c is not b] + [merged]
        ids[id(merged)] = merged
        benefits = {k: v for k, v in benefits.items() if ia not in k and ib not in k}
        for o in neighbours(merged):
            benefits[key(merged, o)] = _benefit(merged, o, rows, skip_largest)
    return tuple(sorted((c.group for c in pool), key=lambda g: g.features))


@dataclass(frozen=True)
class Projection:
    """Cells of `source` summed into cells of `target` by `mapping` (source cell ->
    target cell). Leaf targets are features: their cells are the feature's bins."""

    source: int
    target: int
    mapping: npt.NDArray[np.int64]
    n_target: int


@dataclass(frozen=True)
class GroupCells:
    """One top-level group on one node's rows: what to multiply and in what order.

    Nodes of the hierarchy are numbered 0 (the group) upwards; `projections` are in
    an order where every source is computed before it is used; `leaf_of_feature[f]` is
    the hierarchy node holding feature f's bins; `skipped_bins[f]` is the bin of
    feature f that the skipped (largest) cell falls in, or -1 when nothing is skipped.
    """

    features: tuple[int, ...]
    cell_of_row: npt.NDArray[np.int64]
    n_cells: int
    skipped_cell: int
    projections: tuple[Projection, ...]
    leaf_of_feature: dict[int, int]
    skipped_bins: dict[int, int]


def group_cells(
    bins: npt.NDArray[np.integer],
    widths: Sequence[int],
    group: CellGroup,
    *,
    skip_largest: bool,
) -> GroupCells:
    """Cells of `group` on these rows (bins: rows x columns; widths: bins per column
    including the missing bin)."""
    projections: list[Projection] = []
    leaf_of_feature: dict[int, int] = {}
    counter = [0]

    def build(g: CellGroup) -> tuple[int, npt.NDArray[np.int64], int]:
        """Return (hierarchy id, dense cell id per row, number of cells) of g."""
        node = counter[0]
        counter[0] += 1
        if g.is_leaf:
            (feature,) = g.features
            leaf_of_feature[feature] = node
            return node, bins[:, feature].astype(np.int64), int(widths[feature])
        built = [build(child) for child in g.children]
        (_, codes_a, _), (_, codes_b, n_b) = built
        combined = codes_a * n_b + codes_b
        values, inverse = np.unique(combined, return_inverse=True)
        child_codes = (values // n_b, values % n_b)
        for (child, _, n_child), mapping in zip(built, child_codes, strict=True):
            projections.append(Projection(node, child, mapping, n_child))
        return node, inverse.astype(np.int64), int(values.size)

    root, cell_of_row, n_cells = build(group)
    assert root == 0
    projections.sort(key=lambda p: p.source)
    skipped = -1
    skipped_bins: dict[int, int] = {}
    if skip_largest and cell_of_row.size:
        counts = np.bincount(cell_of_row, minlength=n_cells)
        skipped = int(np.argmax(counts))
        row = int(np.argmax(cell_of_row == skipped))
        skipped_bins = {f: int(bins[row, f]) for f in group.features}
    return GroupCells(
        group.features,
        cell_of_row,
        n_cells,
        skipped,
        tuple(projections),
        leaf_of_feature,
        skipped_bins,
    )


def multiplication_count(cells: GroupCells) -> int:
    """Multiplications the plan costs on its rows (before the skip's fix-up)."""
    rows = cells.cell_of_row
    if cells.skipped_cell >= 0:
        rows = rows[rows != cells.skipped_cell]
    total = int(rows.size - np.count_nonzero(np.bincount(rows, minlength=1)))
    for p in cells.projections:
        used = np.count_nonzero(np.bincount(p.mapping, minlength=1))
        total += int(p.mapping.size - used)
    return total
