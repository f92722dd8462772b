"""The bank's side of SecureBoost: labels, keys, gradients, split choices, the model.

A step-wise state machine driven by the job runner (or protocol.secureboost.driver):
each method returns the next message for the operator or takes its reply. The boosting
itself (gradients, samples, its own histograms, gains, leaves) is
models.secureboost.booster.Booster, the same code the plaintext reference runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import numpy.typing as npt

from models.secureboost.booster import Booster, TreePlan
from models.secureboost.grower import Decision, TreeGrower
from models.secureboost.model import BankModel
from models.secureboost.params import BoostParams
from models.secureboost.tree import BANK, OPERATOR, Tree, unpack_leaf_sets
from protocol.crypto import paillier
from protocol.crypto import paillier_raw as raw
from protocol.crypto.fixedpoint import PackingOverflowError, PackingSpec
from protocol.crypto.paillier_keys import PaillierPrivateKey
from protocol.crypto.paillier_vector import CiphertextVector, VectorEncoding
from protocol.errors import FailedPrecondition, InvalidArgument
from protocol.secureboost.messages import (
    TRAIN,
    VALIDATION,
    HistogramReply,
    HistogramRequest,
    LeafSetsReply,
    LeafSetsRequest,
    NodeRequest,
    NodeSplit,
    SbtSetup,
    SbtSetupReply,
    SplitReply,
    SplitRequest,
    TrainingDone,
    TrainingDoneReply,
    TreeDone,
    TreeGradients,
)


class BankSbtParty:
    """Active party: aligned training (and validation) rows' features and labels."""

    def __init__(
        self,
        job_id: str,
        features: npt.ArrayLike,
        labels: npt.ArrayLike,
        params: BoostParams,
        private_key: PaillierPrivateKey,
        *,
        names: tuple[str, ...],
        operator_features: tuple[int, ...],
        validation: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
    ):
        self.job_id = job_id
        self.params = params
        self.private_key = private_key
        self._features = features
        self._labels = labels
        self._names = names
        self._validation = validation
        self.operator_features = tuple(operator_features)
        self.booster: Booster | None = None
        self._round_index = 0
        self._output = 0
        self._plan: TreePlan | None = None
        self._grower: TreeGrower | None = None
        self._tree_done: tuple[Tree, dict[int, npt.NDArray[np.int64]]] | None = None
        self._pending: list[Decision] = []
        self._operator_in_tree = False
        self.finished = False
        self.timings: dict[str, float] = {}
        n_train = int(np.asarray(labels).shape[0])
        self.slots = PackingSpec(
            value_bits=Booster.codec_for(params).value_bits,
            n_slots=2,
            max_summands=max(n_train, 1),
        )
        self.slots.check_fits(private_key.public_key.n_bits)

    @contextmanager
    def _timed(self, key: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[key] = self.timings.get(key, 0.0) + (
                time.perf_counter() - started
            )

    # Setup.

    def setup_request(self) -> SbtSetup:
        n_valid = 0
        if self._validation is not None:
            n_valid = int(np.asarray(self._validation[1]).shape[0])
        return SbtSetup(
            self.job_id,
            self.private_key.public_key,
            self.operator_features,
            self.params.max_bins,
            self.slots,
            Booster.codec_for(self.params).scale_bits,
            self.params.n_outputs,
            int(np.asarray(self._labels).shape[0]),
            n_valid,
            self.params.min_operator_rows,
        )

    def accept_setup(self, reply: SbtSetupReply) -> None:
        if self.booster is not None:
            raise FailedPrecondition("secureboost: setup accepted twice")
        if len(reply.n_bins) != len(self.operator_features) or len(reply.names) != len(
            self.operator_features
        ):
            raise InvalidArgument("secureboost setup reply: one entry per feature")
        if any(not 1 <= b <= self.params.max_bins for b in reply.n_bins):
            raise InvalidArgument("secureboost setup reply: bins out of range")
        valid_x, valid_y = self._validation or (None, None)
        self.booster = Booster(
            self._features,
            self._labels,
            self.params,
            operator_bins=tuple(reply.n_bins),
            bank_names=self._names,
            operator_names=tuple(reply.names),
            x_bank_valid=valid_x,
            labels_valid=valid_y,
        )
        paillier.warm_up(self.private_key)

    def _booster(self) -> Booster:
        if self.booster is None:
            raise FailedPrecondition("secureboost: not set up")
        return self.booster

    # Rounds.

    def start_round(self) -> None:
        """Compute the round's gradients and draw its sample."""
        booster = self._booster()
        if self.finished or booster.round is not None:
            raise FailedPrecondition("secureboost: no round to start")
        booster.start_round(self._round_index)
        self._output = 0

    def start_tree(self) -> bool:
        """Begin the round's next tree; False once every output has its tree."""
        booster = self._booster()
        if booster.round is None or self._grower is not None:
            raise FailedPrecondition("secureboost: no tree to start")
        if self._output >= self.params.n_outputs:
            return False
        self._plan = booster.plan_tree(self._output)
        self._grower = booster.grower(self._plan)
        self._operator_in_tree = False
        self._output += 1
        return True

    def tree_gradients(self) -> TreeGradients | None:
        """Encrypt the tree's (g, h) per sampled row; None when the operator sits the
        tree out (bank-only rounds, or none of its columns drawn)."""
        booster, plan, _ = self._open()
        assert booster.round is not None
        if not plan.operator_features:
            return None
        self._operator_in_tree = True
        k = plan.output
        with self._timed("encrypt"):
            vec = paillier.owner_encrypt_vector(
                self.private_key,
                booster.round.gh[:, 2 * k : 2 * k + 2].ravel(),
                packing=self.slots,
                scale_bits=booster.codec.scale_bits,
            )
        return TreeGradients(
            plan.index, plan.operator_features, booster.round.rows, vec
        )

    @property
    def tree_growing(self) -> bool:
        return self._grower is not None and not self._grower.done

    def _open(self) -> tuple[Booster, TreePlan, TreeGrower]:
        if self._grower is None or self._plan is None:
            raise FailedPrecondition("secureboost: no tree is growing")
        return self._booster(), self._plan, self._grower

    def histogram_request(self) -> HistogramRequest | None:
        """Build the bank's histograms of this level; ask for the operator's."""
        booster, plan, grower = self._open()
        with self._timed("bank_histograms"):
            for task in grower.histogram_tasks(BANK):
                grower.set_histogram(
                    task.node_id, BANK, booster.bank_histogram(grower, task)
                )
        tasks = grower.histogram_tasks(OPERATOR) if self._operator_in_tree else []
        if not tasks:
            return None
        with self._timed("encrypt"):
            nodes = tuple(
                NodeRequest(t.node_id, self._encrypt_total(booster, t.rows))
                for t in tasks
            )
        return HistogramRequest(plan.index, nodes)

    def _encrypt_total(
        self, booster: Booster, rows: npt.NDArray[np.int64]
    ) -> CiphertextVector:
        sums = self._grower_sums(rows)
        plaintext = 0
        for value in reversed(sums.tolist()):
            plaintext = (plaintext << self.slots.slot_bits) + int(value)
        key = self.private_key
        (c,) = raw.owner_encrypt_plaintexts(int(key.p), int(key.q), [plaintext])
        encoding = VectorEncoding(
            self.slots.n_slots,
            booster.codec.scale_bits,
            self.slots.value_bits,
            self.slots,
        )
        return CiphertextVector(
            key.public_key, [c], encoding, magnitude_bound=self.slots.slot_capacity
        )

    def _grower_sums(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        _, _, grower = self._open()
        sums: npt.NDArray[np.int64] = grower.gh[rows].sum(axis=0)
        return sums

    def accept_histograms(self, reply: HistogramReply) -> None:
        booster, plan, grower = self._open()
        tasks = grower.histogram_tasks(OPERATOR)
        expected = tuple(t.node_id for t in tasks)
        layout = grower.layouts[OPERATOR]
        slots = self.slots.n_slots
        value_bins = int(sum(layout.n_bins))
        length = len(tasks) * value_bins * slots
        sums = reply.sums
        if reply.tree != plan.index or reply.nodes != expected:
            raise InvalidArgument("secureboost histograms: not the requested nodes")
        if (
            sums.public_key != self.private_key.public_key
            or sums.encoding.length != length
            or sums.encoding.packing is None
            or sums.encoding.packing.value_bits != self.slots.value_bits
            or sums.encoding.packing.max_summands != self.slots.max_summands
            or sums.encoding.packing.n_slots % slots
        ):
            raise InvalidArgument("secureboost histograms: unexpected layout or key")
        with self._timed("decrypt"):
            try:
                values = paillier.decrypt_ints(self.private_key, sums)
            except PackingOverflowError as exc:
                raise InvalidArgument(f"secureboost histograms: {exc}") from None
        table = np.asarray(values, dtype=np.int64).reshape(
            len(tasks), value_bins, slots
        )
        assert booster.round is not None
        value_rows = np.ones(layout.total_bins, dtype=bool)
        value_rows[layout.offsets[1:] - 1] = False
        for task, node_table in zip(tasks, table, strict=True):
            # Each feature's missing bin is the node total minus its value bins.
            total = self._grower_sums(task.rows)
            full = np.empty((layout.total_bins, slots), dtype=np.int64)
            full[value_rows] = node_table
            value_sums = np.add.reduceat(
                node_table,
                layout.offsets[:-1] - np.arange(len(layout.features)),
                axis=0,
            )
            full[layout.offsets[1:] - 1] = total - value_sums
            grower.set_histogram(task.node_id, OPERATOR, full)

    def split_request(self) -> SplitRequest | None:
        """Choose this level's splits; apply the bank's; None if the operator need not
        hear (the level is then complete)."""
        booster, plan, grower = self._open()
        with self._timed("splits"):
            decisions = grower.decisions()
            message = []
            self._pending = []
            for decision in decisions:
                rows = grower.node_rows(decision.node_id)
                if decision.owner == BANK:
                    rule, left = booster.bank_split(grower, decision, rows)
                    grower.apply(decision.node_id, left, rule=rule)
                    if self._operator_in_tree and grower.children_need(
                        OPERATOR, decision.node_id
                    ):
                        message.append(NodeSplit(decision.node_id, BANK, left))
                    continue
                cand = decision.candidate
                message.append(
                    NodeSplit(
                        decision.node_id,
                        OPERATOR,
                        feature=cand.feature,
                        bin=cand.bin,
                        default_left=cand.default_left,
                    )
                )
                self._pending.append(decision)
        if not message:
            self._next_level()
            return None
        return SplitRequest(plan.index, tuple(message))

    def accept_splits(self, reply: SplitReply) -> None:
        _, plan, grower = self._open()
        expected = [d.node_id for d in self._pending]
        if reply.tree != plan.index or [s.node for s in reply.splits] != expected:
            raise InvalidArgument("secureboost splits: not the requested nodes")
        for split in reply.splits:
            try:
                grower.apply(
                    split.node, np.asarray(split.left), split_id=int(split.split_id)
                )
            except ValueError as exc:
                raise InvalidArgument(f"secureboost splits: {exc}") from None
        self._pending = []
        self._next_level()

    def _next_level(self) -> None:
        _, _, grower = self._open()
        grower.next_level()
        if grower.done:
            self._tree_done = grower.finish()

    def finish_tree(self) -> TreeDone | None:
        """Close the grown tree; the operator hears its final shape if it took part."""
        booster, plan, grower = self._open()
        if not grower.done or self._tree_done is None:
            raise FailedPrecondition("secureboost: the tree is still growing")
        tree, _ = self._tree_done
        if not self._operator_in_tree:
            return None
        splits = tuple(
            (node_id, node.owner)
            for node_id, node in sorted(tree.nodes.items())
            if not node.is_leaf
        )
        return TreeDone(plan.index, splits)

    def leaf_sets_requests(self) -> list[LeafSetsRequest]:
        """Leaf sets the closed tree needs from the operator (sampling, validation)."""
        booster, plan, _ = self._open()
        assert self._tree_done is not None
        tree, _ = self._tree_done
        if not any(n.owner == OPERATOR for n in tree.nodes.values()):
            return []
        requests = []
        if booster.needs_operator_train_sets(tree):
            requests.append(LeafSetsRequest(TRAIN, (plan.index,)))
        if booster.has_validation:
            requests.append(LeafSetsRequest(VALIDATION, (plan.index,)))
        return requests

    def close_tree(self, replies: dict[str, LeafSetsReply]) -> None:
        """Add the closed tree to the margins, with the operator's leaf sets."""
        booster, plan, _ = self._open()
        assert self._tree_done is not None
        tree, leaf_rows = self._tree_done
        n_leaves = len(tree.leaves)

        def sets(dataset: str, rows: int) -> npt.NDArray[np.bool_] | None:
            reply = replies.get(dataset)
            if reply is None:
                return None
            packed = reply.leaf_sets.get(plan.index)
            if packed is None:
                raise InvalidArgument(f"secureboost: no {dataset} leaf sets")
            try:
                mask = unpack_leaf_sets(np.asarray(packed, dtype=np.uint8), n_leaves)
            except ValueError as exc:
                raise InvalidArgument(f"secureboost leaf sets: {exc}") from None
            if mask.shape[0] != rows:
                raise InvalidArgument(f"secureboost: {dataset} leaf sets row count")
            return mask

        try:
            booster.finish_tree(tree, leaf_rows, sets(TRAIN, booster.n_rows))
            if booster.has_validation:
                assert booster.x_valid is not None
                booster.add_validation_tree(
                    tree, sets(VALIDATION, booster.x_valid.shape[0])
                )
        except ValueError as exc:
            raise InvalidArgument(f"secureboost: {exc}") from None
        self._grower = None
        self._plan = None
        self._tree_done = None

    def end_round(self) -> bool:
        """Record the round; True while training goes on."""
        booster = self._booster()
        if self._grower is not None or self._output < self.params.n_outputs:
            raise FailedPrecondition("secureboost: the round's trees are not done")
        stop = booster.end_round()
        self._round_index += 1
        self.finished = stop
        return not stop

    def round_summary(self) -> str:
        """One progress line about the last round: losses and AUC."""
        history = self._booster().model.history
        if not history:
            return "secureboost: no round yet"
        last = history[-1]
        parts = [f"round {int(last['round']) + 1}/{self.params.n_trees}"]
        for key, label in (
            ("train_loss", "train loss"),
            ("valid_loss", "validation loss"),
            ("valid_auc", "validation AUC"),
        ):
            if key in last:
                parts.append(f"{label} {last[key]:.4f}")
        if self.finished and self._booster().stopped:
            parts.append(f"early stop, keeping {self.model().best_rounds} rounds")
        return ", ".join(parts)

    def model(self) -> BankModel:
        if not self.finished:
            raise FailedPrecondition("secureboost: training has not finished")
        return self._booster().final_model()

    def training_done(self) -> TrainingDone:
        """The last message of training: the trees the model keeps."""
        return TrainingDone(len(self.model().trees))

    def accept_training_done(self, reply: TrainingDoneReply) -> None:
        expected = len(self.model().operator_trees())
        if reply.operator_trees != expected:
            raise InvalidArgument(
                f"secureboost: the operator kept {reply.operator_trees} trees with "
                f"its splits, the bank's model has {expected}"
            )
