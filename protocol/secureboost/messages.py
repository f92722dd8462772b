"""Domain messages of SecureBoost: exactly what crosses between the bank and the
operator (the future proto contract; serde converts these, nothing else).

Rows are always positions: `TreeGradients.rows` are indices into the aligned training
rows (sorted), and a node's rows are positions into its tree's `rows`, kept sorted, so
a boolean mask over a node's rows means the same to both parties. Trees are numbered
round * outputs + output; nodes like a heap (children of j are 2j + 1 and 2j + 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from protocol.crypto.fixedpoint import PackingSpec
from protocol.crypto.paillier_keys import PaillierPublicKey
from protocol.crypto.paillier_vector import CiphertextVector

TRAIN = "train"
VALIDATION = "validation"
DATASETS = (TRAIN, VALIDATION)

# StreamHeader.kind of the three chunked payloads.
GRADIENTS_KIND = "secureboost.gradients"
HISTOGRAMS_KIND = "secureboost.histograms"
LEAF_SETS_KIND = "secureboost.leaf_sets"


@dataclass(frozen=True)
class SbtWireContext:
    """What decoding a job's messages needs besides the bytes: the bank's key and the
    number of rows of each split."""

    public_key: PaillierPublicKey
    train_rows: int
    validation_rows: int

    def rows(self, dataset: str) -> int:
        return self.train_rows if dataset == TRAIN else self.validation_rows


@dataclass(frozen=True)
class SbtSetup:
    """Bank -> operator, once per job: key, binning and the gradient packing."""

    job_id: str
    public_key: PaillierPublicKey
    features: tuple[int, ...]  # the operator's columns this job may use
    max_bins: int
    # One row's plaintext: two slots (g, h) of the tree's output, each value_bits wide
    # plus headroom for max_summands = the training rows.
    gradient_slots: PackingSpec
    scale_bits: int
    outputs: int  # trees per round: 1, or the classes of a softmax
    train_rows: int
    validation_rows: int
    # The bank asks for histograms and operator splits only at nodes of at least this
    # many rows (BoostParams.min_operator_rows); the operator refuses a value below
    # its own policy minimum.
    min_operator_rows: int = 1


@dataclass(frozen=True)
class SbtSetupReply:
    """Operator -> bank: value bins per usable feature (each has one more, missing)
    and the names or aliases it discloses, in SbtSetup.features order."""

    n_bins: tuple[int, ...]
    names: tuple[str, ...]


@dataclass(frozen=True)
class TreeGradients:
    """Bank -> operator, once per tree that uses the operator's features: the round's
    sample, the operator columns drawn for the tree, and each sampled row's (g, h) of
    the tree's output (multi-class: one tree, and one such message, per class)."""

    tree: int
    features: tuple[int, ...]
    rows: npt.NDArray[np.int64]  # sorted aligned training rows of the round's sample
    gradients: CiphertextVector  # one ciphertext per row (gradient_slots), rows order


@dataclass(frozen=True)
class NodeRequest:
    node: int
    # The node's (G, H) sums, encrypted like one row (one ciphertext): lets the
    # operator skip summing the largest cell of each feature group.
    total: CiphertextVector


@dataclass(frozen=True)
class HistogramRequest:
    """Bank -> operator: build these nodes' histograms over the tree's columns."""

    tree: int
    nodes: tuple[NodeRequest, ...]


@dataclass(frozen=True)
class HistogramReply:
    """Operator -> bank: for each requested node, each feature, each value bin: the
    encrypted (G, H) sums, re-randomized and packed into as few
    ciphertexts as the key holds. Missing bins are not sent: the bank knows the node's
    total and derives each feature's missing bin as total - value bins."""

    tree: int
    nodes: tuple[int, ...]
    sums: CiphertextVector


@dataclass(frozen=True)
class NodeSplit:
    """One split the bank decided. A bank split is sent only when a child may still
    split (the operator needs the children's rows), with `left` over the node's rows.
    An operator split says "your candidate (feature, bin) won", rows with a missing
    value going left iff default_left."""

    node: int
    owner: str  # "bank" | "operator"
    left: npt.NDArray[np.bool_] | None = None
    feature: int = -1
    bin: int = -1
    default_left: bool = False


@dataclass(frozen=True)
class SplitRequest:
    tree: int
    splits: tuple[NodeSplit, ...]


@dataclass(frozen=True)
class OperatorSplit:
    """Operator -> bank: which of the node's rows go left, and the opaque id under
    which the operator keeps the split's threshold."""

    node: int
    split_id: int
    left: npt.NDArray[np.bool_]


@dataclass(frozen=True)
class SplitReply:
    tree: int
    splits: tuple[OperatorSplit, ...]


@dataclass(frozen=True)
class TreeDone:
    """Bank -> operator: the final (pruned) tree's split nodes and their owners."""

    tree: int
    splits: tuple[tuple[int, str], ...]  # (node, owner) of every internal node


@dataclass(frozen=True)
class LeafSetsRequest:
    """Bank -> operator: per tree, which leaves its splits allow for every row of the
    aligned training or validation rows."""

    dataset: str
    trees: tuple[int, ...]


@dataclass(frozen=True)
class LeafSetsReply:
    """Per requested tree, (rows, ceil(leaves / 8)) bytes: bit j (little-endian in
    each byte) of a row is set when its j-th leaf (ascending node id) is allowed."""

    leaf_sets: dict[int, npt.NDArray[np.uint8]]


@dataclass(frozen=True)
class TrainingDone:
    """Bank -> operator, once: training is over and the model keeps the trees below
    `trees` (early stopping drops the rest). The operator stores its part; only leaf
    sets of the kept trees may be asked for afterwards (batch prediction)."""

    trees: int


@dataclass(frozen=True)
class TrainingDoneReply:
    """How many of the kept trees hold an operator split (the bank checks it against
    its own part)."""

    operator_trees: int
