"""The operator's side of SecureBoost: bins, encrypted histograms, its splits' rows.

State per job: its binned training features (binned once at setup), the current
tree's row ciphertexts (installed in the crypto workers), the row set of every node of
that tree it was told about, and the rules of its own winning splits, which become its
model part. It accepts only the protocol's call order (setup, then per tree: gradients,
histogram and split requests for known nodes of at least its minimum of rows, each
node's histogram once, the tree's end; then the end of training, after which only leaf
sets of the kept trees) and checks every field before changing state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from gmpy2 import mpz

from models.secureboost.binning import QuantileBinner, check_features
from models.secureboost.model import OperatorModel
from models.secureboost.tree import (
    BANK,
    OPERATOR,
    PARTIES,
    Node,
    SplitRule,
    Tree,
    pack_leaf_sets,
    reachable_leaves,
    rule_on_bins,
    rule_on_values,
)
from protocol.crypto import paillier_bin_sums as bin_sums
from protocol.crypto.joint_cells import CellGroup, plan_groups
from protocol.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from protocol.secureboost.messages import (
    TRAIN,
    VALIDATION,
    HistogramReply,
    HistogramRequest,
    LeafSetsReply,
    LeafSetsRequest,
    OperatorSplit,
    SbtSetup,
    SbtSetupReply,
    SplitReply,
    SplitRequest,
    TrainingDone,
    TrainingDoneReply,
    TreeDone,
    TreeGradients,
)

MAX_DEPTH_NODES = 2**17  # node ids of depth <= 16


@dataclass
class _TreeState:
    tree: int
    features: tuple[int, ...]
    sample: npt.NDArray[np.int64]  # aligned training rows of the tree (sorted)
    rows: dict[int, npt.NDArray[np.int64]]  # node -> positions in sample (sorted)
    built: set[int] = field(default_factory=set)
    own: dict[int, tuple[SplitRule, int]] = field(default_factory=dict)


class OperatorSbtParty:
    """Passive party: holds the aligned training (and validation) rows' features."""

    def __init__(
        self,
        features: npt.ArrayLike,
        names: tuple[str, ...],
        *,
        validation: npt.ArrayLike | None = None,
        min_node_rows: int = 1,
    ):
        """`min_node_rows`: the operator's floor (its policy): it never sums
        gradients over, nor splits, a node of fewer rows."""
        self.names = tuple(names)
        self.min_node_rows = max(1, int(min_node_rows))
        self.kept_trees: int | None = None
        self.x = check_features(features, self.names, len(self.names))
        self.x_valid = (
            None
            if validation is None
            else check_features(validation, self.names, len(self.names))
        )
        self.setup_message: SbtSetup | None = None
        self.binner: QuantileBinner | None = None
        self.bins: npt.NDArray[np.uint16] | None = None
        self._installed: bin_sums.InstalledRows | None = None
        self._tree: _TreeState | None = None
        self._last_tree = -1
        self._done: dict[int, Tree] = {}
        self._next_split_id = 0
        self._plans: dict[tuple[tuple[int, ...], int], tuple[CellGroup, ...]] = {}
        self.timings: dict[str, float] = {}
        self.stats = bin_sums.BinSumsStats()

    # Setup.

    def setup(self, request: SbtSetup) -> SbtSetupReply:
        if self.setup_message is not None:
            raise FailedPrecondition("secureboost: the job is already set up")
        n_features = len(self.names)
        if (
            not request.features
            or any(not 0 <= f < n_features for f in request.features)
            or len(set(request.features)) != len(request.features)
        ):
            last = n_features - 1
            raise InvalidArgument(
                f"secureboost setup: features must be distinct columns 0..{last}"
            )
        if request.train_rows != self.x.shape[0]:
            raise InvalidArgument(
                f"secureboost setup: {request.train_rows} training rows, the operator "
                f"has {self.x.shape[0]} aligned rows"
            )
        valid_rows = 0 if self.x_valid is None else self.x_valid.shape[0]
        if request.validation_rows != valid_rows:
            raise InvalidArgument(
                f"secureboost setup: {request.validation_rows} validation rows, the "
                f"operator has {valid_rows}"
            )
        if request.min_operator_rows < self.min_node_rows:
            raise PermissionDenied(
                f"secureboost: operator histograms need nodes of at least "
                f"{self.min_node_rows} rows (the job asks for "
                f"{request.min_operator_rows})"
            )
        if not 1 <= request.outputs <= 64:
            raise InvalidArgument("secureboost setup: outputs must be in [1, 64]")
        if not 2 <= request.max_bins <= 256:
            raise InvalidArgument("secureboost setup: max_bins must be in [2, 256]")
        slots = request.gradient_slots
        if slots.n_slots != 2 or slots.max_summands < request.train_rows:
            raise InvalidArgument(
                "secureboost setup: gradient slots must be one (g, h) pair with "
                "headroom for every training row"
            )
        try:
            slots.check_fits(request.public_key.n_bits)
        except ValueError as exc:
            raise InvalidArgument(f"secureboost setup: {exc}") from None
        columns = list(request.features)
        names = tuple(self.names[f] for f in columns)
        self.binner = QuantileBinner.fit(self.x[:, columns], request.max_bins, names)
        self.bins = self.binner.transform(self.x[:, columns])
        self.setup_message = request
        noise_bits = self._noise_bits(request.public_key.n_bits)
        bin_sums.warm_up(request.public_key, noise_bits)
        return SbtSetupReply(self.binner.n_bins, names)

    def _noise_bits(self, _: int) -> int:
        # Row ciphertexts (and node totals) carry DJN exponents below 2^320 when read
        # from the wire (paillier_vector.WIRE_NOISE_BOUND) and 2^256 when fresh; a bin
        # sum adds at most train_rows + 1 of them, the skipped cell subtracts them.
        assert self.setup_message is not None
        rows = self.setup_message.train_rows
        return 320 + int(np.ceil(np.log2(rows + 2))) + 1

    def _setup(self) -> SbtSetup:
        if self.setup_message is None:
            raise FailedPrecondition("secureboost: the job is not set up")
        return self.setup_message

    def _training(self) -> SbtSetup:
        setup = self._setup()
        if self.kept_trees is not None:
            raise FailedPrecondition("secureboost: training is over")
        return setup

    def _check_rows(self, state: _TreeState, node: int) -> None:
        rows = state.rows[node].size
        if rows < max(self.min_node_rows, self._setup().min_operator_rows):
            raise PermissionDenied(
                f"secureboost: node {node} of tree {state.tree} has {rows} rows, "
                f"below the minimum of {self.min_node_rows}"
            )

    # Trees.

    def accept_gradients(self, message: TreeGradients) -> None:
        setup = self._training()
        if self._tree is not None:
            raise FailedPrecondition(
                f"secureboost: tree {self._tree.tree} is not finished"
            )
        if message.tree <= self._last_tree:
            raise FailedPrecondition(
                f"secureboost: tree {message.tree} after tree {self._last_tree}"
            )
        n_features = len(setup.features)
        if (
            not message.features
            or any(not 0 <= f < n_features for f in message.features)
            or len(set(message.features)) != len(message.features)
        ):
            raise InvalidArgument("secureboost gradients: invalid feature list")
        rows = np.asarray(message.rows)
        if (
            rows.ndim != 1
            or rows.size == 0
            or rows.dtype.kind not in "iu"
            or rows[0] < 0
            or rows[-1] >= setup.train_rows
            or np.any(np.diff(rows) <= 0)
        ):
            raise InvalidArgument(
                "secureboost gradients: rows must be sorted distinct training rows"
            )
        vec = message.gradients
        if vec.public_key != setup.public_key:
            raise InvalidArgument("secureboost gradients: encrypted under another key")
        encoding = vec.encoding
        if encoding.packing != setup.gradient_slots or encoding.length != 2 * rows.size:
            raise InvalidArgument(
                "secureboost gradients: expected one ciphertext per row with the "
                "setup's gradient slots"
            )
        started = time.perf_counter()
        if self._installed is not None:
            bin_sums.release_rows(self._installed)
        self._installed = bin_sums.install_rows(vec)
        positions = np.arange(rows.size, dtype=np.int64)
        self._tree = _TreeState(
            message.tree, tuple(message.features), rows.astype(np.int64), {0: positions}
        )
        self._last_tree = message.tree
        self._add_time("install", started)

    def _open_tree(self, tree: int) -> _TreeState:
        if self._tree is None or self._tree.tree != tree:
            raise FailedPrecondition(f"secureboost: tree {tree} is not open")
        return self._tree

    def histograms(self, request: HistogramRequest) -> HistogramReply:
        setup = self._training()
        state = self._open_tree(request.tree)
        if not request.nodes or len({n.node for n in request.nodes}) != len(
            request.nodes
        ):
            raise InvalidArgument("secureboost histograms: no or repeated nodes")
        for node in request.nodes:
            if node.node not in state.rows:
                raise FailedPrecondition(
                    f"secureboost: node {node.node} of tree {request.tree} is unknown"
                )
            if node.node in state.built:
                raise FailedPrecondition(
                    f"secureboost: node {node.node} of tree {request.tree} was built"
                )
            self._check_rows(state, node.node)
            total = node.total
            if (
                total.public_key != setup.public_key
                or len(total.ciphertexts) != 1
                or total.encoding.packing != setup.gradient_slots
            ):
                raise InvalidArgument(
                    f"secureboost histograms: node {node.node}'s total must be one "
                    "ciphertext with the gradient slots"
                )
        assert self.bins is not None and self.binner is not None
        assert self._installed is not None
        started = time.perf_counter()
        columns = list(state.features)
        widths = tuple(self.binner.n_bins[f] + 1 for f in columns)
        jobs = []
        for node in request.nodes:
            rows = state.rows[node.node]
            node_bins = self.bins[state.sample[rows]][:, columns]
            jobs.append(
                bin_sums.NodeJob(
                    rows,
                    node_bins,
                    widths,
                    self._plan(state.features, node_bins),
                    mpz(node.total.ciphertexts[0]),
                )
            )
        sums = bin_sums.node_bin_sums(self._installed, jobs, self.stats)
        self._add_time("histogram", started)
        started = time.perf_counter()
        # Missing bins are left out: the bank derives them from the node's total.
        missing = set((np.cumsum(widths) - 1).tolist())
        flat = [
            c for node_sums in sums for i, c in enumerate(node_sums) if i not in missing
        ]
        packed = bin_sums.flood_and_pack(
            setup.public_key,
            flat,
            setup.gradient_slots,
            noise_bits=self._noise_bits(setup.public_key.n_bits),
            scale_bits=setup.scale_bits,
        )
        self._add_time("pack", started)
        state.built.update(n.node for n in request.nodes)
        return HistogramReply(
            request.tree, tuple(n.node for n in request.nodes), packed
        )

    def _plan(
        self, features: tuple[int, ...], node_bins: npt.NDArray[np.uint16]
    ) -> tuple[CellGroup, ...]:
        """Feature groups for a node, planned once per feature set and size class."""
        bucket = int(np.log2(max(node_bins.shape[0], 1)))
        key = (features, bucket)
        if key not in self._plans:
            self._plans[key] = plan_groups(node_bins)
        return self._plans[key]

    def split(self, request: SplitRequest) -> SplitReply:
        self._training()
        state = self._open_tree(request.tree)
        assert self.bins is not None and self.binner is not None
        seen = set()
        for split in request.splits:
            if split.node in seen or split.node not in state.rows:
                raise FailedPrecondition(
                    f"secureboost: split of unknown or repeated node {split.node}"
                )
            if 2 * split.node + 2 >= MAX_DEPTH_NODES:
                raise InvalidArgument("secureboost: the tree is too deep")
            seen.add(split.node)
            n_rows = state.rows[split.node].size
            if split.owner == BANK:
                if split.left is None or (
                    np.asarray(split.left).dtype != np.bool_
                    or np.asarray(split.left).shape != (n_rows,)
                ):
                    raise InvalidArgument(
                        f"secureboost: left mask of node {split.node} must be "
                        f"{n_rows} booleans"
                    )
            elif split.owner == OPERATOR:
                self._check_rows(state, split.node)
                # After value bin b <= n_bins - 2 either way; after the last one
                # only with missing values going right.
                highest = -1
                if split.feature in state.features:
                    highest = self.binner.n_bins[split.feature] - 1
                    highest -= 1 if split.default_left else 0
                if not 0 <= split.bin <= highest:
                    raise InvalidArgument(
                        f"secureboost: node {split.node}: no candidate "
                        f"({split.feature}, {split.bin})"
                    )
            else:
                raise InvalidArgument(f"secureboost: unknown owner {split.owner!r}")
        replies = []
        for split in request.splits:
            rows = state.rows.pop(split.node)
            if split.owner == BANK:
                left = np.asarray(split.left)
                state.rows[2 * split.node + 1] = rows[left]
                state.rows[2 * split.node + 2] = rows[~left]
                continue
            rule = SplitRule(
                split.feature,
                split.bin,
                self.binner.threshold(split.feature, split.bin),
                split.default_left,
            )
            node_bins = self.bins[state.sample[rows]]
            left = rule_on_bins(node_bins, self.binner.n_bins)(rule)
            split_id = self._next_split_id
            self._next_split_id += 1
            state.own[split.node] = (rule, split_id)
            state.rows[2 * split.node + 1] = rows[left]
            state.rows[2 * split.node + 2] = rows[~left]
            replies.append(OperatorSplit(split.node, split_id, left))
        return SplitReply(request.tree, tuple(replies))

    def finish_tree(self, message: TreeDone) -> None:
        self._training()
        state = self._open_tree(message.tree)
        nodes: dict[int, Node] = {}
        for node_id, owner in message.splits:
            if owner not in PARTIES or node_id in nodes or not 0 <= node_id:
                raise InvalidArgument("secureboost: malformed tree shape")
            node = Node(node_id, 2 * node_id + 1, 2 * node_id + 2, owner)
            if owner == OPERATOR:
                if node_id not in state.own:
                    raise InvalidArgument(
                        f"secureboost: node {node_id} is not one of the operator's "
                        "splits"
                    )
                node.rule, node.split_id = state.own[node_id]
            nodes[node_id] = node
        for node in list(nodes.values()):
            for child in (node.left, node.right):
                nodes.setdefault(child, Node(child))
        if not nodes:
            nodes[0] = Node(0)
        tree = Tree(nodes, message.tree % self._setup().outputs)
        try:
            tree.check()
        except ValueError as exc:
            raise InvalidArgument(f"secureboost: tree {message.tree}: {exc}") from None
        self._tree = None
        if any(n.owner == OPERATOR for n in nodes.values()):
            self._done[message.tree] = tree

    def leaf_sets(self, request: LeafSetsRequest) -> LeafSetsReply:
        setup = self._setup()
        assert self.bins is not None and self.binner is not None
        if request.dataset == TRAIN:
            rules = rule_on_bins(self.bins, self.binner.n_bins)
            n_rows = self.bins.shape[0]
        elif request.dataset == VALIDATION and self.x_valid is not None:
            rules = rule_on_values(self.x_valid[:, list(setup.features)])
            n_rows = self.x_valid.shape[0]
        else:
            raise InvalidArgument(f"secureboost: no dataset {request.dataset!r}")
        out = {}
        for t in request.trees:
            if t not in self._done or (
                self.kept_trees is not None and t >= self.kept_trees
            ):
                raise FailedPrecondition(
                    f"secureboost: the operator holds no part of tree {t}"
                )
            out[t] = pack_leaf_sets(
                reachable_leaves(self._done[t], OPERATOR, rules, n_rows)
            )
        return LeafSetsReply(out)

    def finish_training(self, message: TrainingDone) -> TrainingDoneReply:
        """The end of training: keep the trees below message.trees, free the rows."""
        self._training()
        if self._tree is not None:
            raise FailedPrecondition(
                f"secureboost: tree {self._tree.tree} is not finished"
            )
        if not 0 <= message.trees <= self._last_tree + 1:
            raise InvalidArgument(
                f"secureboost: {message.trees} trees kept, {self._last_tree + 1} "
                "were grown"
            )
        self.kept_trees = message.trees
        self._done = {t: v for t, v in self._done.items() if t < message.trees}
        self.close()
        return TrainingDoneReply(len(self._done))

    def model(self) -> OperatorModel:
        """The operator's model part: its kept trees with rules over the job's
        features, named as disclosed."""
        if self.binner is None or self.kept_trees is None:
            raise FailedPrecondition("secureboost: training has not finished")
        return OperatorModel(dict(self._done), self.binner.names)

    def close(self) -> None:
        if self._installed is not None:
            bin_sums.release_rows(self._installed)
            self._installed = None

    def _add_time(self, key: str, started: float) -> None:
        self.timings[key] = self.timings.get(key, 0.0) + time.perf_counter() - started
