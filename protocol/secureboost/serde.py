"""SecureBoost messages: proto <-> domain (the only module touching secureboost_pb2).

Requests carry their job id next to the domain message: `x_from_proto` returns
(job_id, message). Decoding ciphertexts and the round's sample needs the job's key and
split sizes, which only the job knows: those functions take `context_for(job_id)`,
which the operator's handler answers after checking the job (so nothing is decoded for
a job the caller may not use). Three payloads are typed streams (protocol.streams):
the gradients (bank -> operator), the packed bin sums and the leaf sets (operator ->
bank), each a typed first message and then the chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
import numpy.typing as npt

from models.secureboost.tree import BANK, OPERATOR
from protocol.crypto import wire
from protocol.crypto.fixedpoint import PackingSpec
from protocol.crypto.paillier_keys import PaillierPublicKey
from protocol.crypto.paillier_vector import CiphertextVector
from protocol.domain import Split, StreamHeader
from protocol.errors import InvalidArgument
from protocol.proto.duet.v1 import secureboost_pb2 as pb
from protocol.secureboost import messages as m
from protocol.serde import (
    check_job_id,
    opened_stream,
    split_from_proto,
    split_to_proto,
)
from protocol.streams import chunk_stream, open_stream

ContextFor = Callable[[str], m.SbtWireContext]

MAX_FEATURES = 100_000  # operator columns of one job
MAX_TREES = 10_000 * 64  # rounds x classes (BoostParams' limits)
MAX_NODE = 2**17 - 2  # heap ids of depth <= 16 (BoostParams.max_depth <= 16)
MAX_ROWS = 2**32 - 1
MAX_BINS = 256
MAX_NAME = 128
MAX_VALUE_BITS = 1024
MAX_LEAF_BYTES = 2**16 // 8  # 2^16 leaves at depth 16

_OWNER_TO_PROTO = {BANK: pb.SBT_OWNER_BANK, OPERATOR: pb.SBT_OWNER_OPERATOR}
_OWNER_FROM_PROTO = {int(v): k for k, v in _OWNER_TO_PROTO.items()}


# ---- shared pieces -------------------------------------------------------------------
def mask_to_proto(mask: npt.ArrayLike) -> pb.SbtRowMask:
    bits = np.asarray(mask, dtype=bool)
    return pb.SbtRowMask(
        rows=bits.size, bits=np.packbits(bits, bitorder="little").tobytes()
    )


def mask_from_proto(
    msg: pb.SbtRowMask, field: str, rows: int | None = None
) -> npt.NDArray[np.bool_]:
    """The mask's booleans; `rows`, when given, is the row count it must range over."""
    if rows is not None and msg.rows != rows:
        raise InvalidArgument(f"{field}.rows: {msg.rows}, expected {rows}")
    if msg.rows > MAX_ROWS:
        raise InvalidArgument(f"{field}.rows: at most {MAX_ROWS}")
    if len(msg.bits) != -(-msg.rows // 8):
        raise InvalidArgument(
            f"{field}.bits: {len(msg.bits)} bytes for {msg.rows} rows, expected"
            f" {-(-msg.rows // 8)}"
        )
    packed = np.frombuffer(msg.bits, dtype=np.uint8)
    bits = np.unpackbits(packed, bitorder="little").astype(bool)
    if bits[msg.rows :].any():
        raise InvalidArgument(f"{field}.bits: padding bits after row {msg.rows} set")
    return bits[: msg.rows]


def _vector_from(data: bytes, key: PaillierPublicKey, field: str) -> CiphertextVector:
    try:
        return wire.vector_from_bytes(data, key)
    except ValueError as exc:
        raise InvalidArgument(f"{field}: {exc}") from None


def _index(value: int, limit: int, field: str) -> int:
    if value > limit:
        raise InvalidArgument(f"{field}: at most {limit}, got {value}")
    return int(value)


def _distinct(values: Iterable[int], limit: int, field: str) -> tuple[int, ...]:
    out = tuple(_index(v, limit, field) for v in values)
    if len(set(out)) != len(out):
        raise InvalidArgument(f"{field}: a value repeats")
    return out


def _owner_from(value: int, field: str) -> str:
    owner = _OWNER_FROM_PROTO.get(value)
    if owner is None:
        raise InvalidArgument(f"{field}: must be bank or operator")
    return owner


# ---- Setup ---------------------------------------------------------------------------
def setup_to_proto(s: m.SbtSetup) -> pb.SbtSetupRequest:
    slots = s.gradient_slots
    return pb.SbtSetupRequest(
        job_id=s.job_id,
        public_key=wire.public_key_to_bytes(s.public_key),
        features=list(s.features),
        max_bins=s.max_bins,
        gradient_slots=pb.SbtGradientSlots(
            value_bits=slots.value_bits,
            slots=slots.n_slots,
            max_summands=slots.max_summands,
        ),
        scale_bits=s.scale_bits,
        outputs=s.outputs,
        train_rows=s.train_rows,
        validation_rows=s.validation_rows,
        min_operator_rows=s.min_operator_rows,
    )


def setup_from_proto(msg: pb.SbtSetupRequest) -> m.SbtSetup:
    check_job_id(msg.job_id, "SbtSetupRequest.job_id")
    try:
        # Refuses keys below 2048 bits (no test-only flag crosses the wire).
        public_key = wire.public_key_from_bytes(bytes(msg.public_key))
    except ValueError as exc:
        raise InvalidArgument(f"SbtSetupRequest.public_key: {exc}") from None
    if not msg.features:
        raise InvalidArgument("SbtSetupRequest.features: none requested")
    features = _distinct(msg.features, MAX_FEATURES, "SbtSetupRequest.features")
    if not 2 <= msg.max_bins <= MAX_BINS:
        raise InvalidArgument(f"SbtSetupRequest.max_bins: must be 2..{MAX_BINS}")
    if not msg.HasField("gradient_slots"):
        raise InvalidArgument("SbtSetupRequest.gradient_slots: missing")
    slots = msg.gradient_slots
    if not 1 <= slots.value_bits <= MAX_VALUE_BITS or slots.slots != 2:
        raise InvalidArgument(
            "SbtSetupRequest.gradient_slots: two slots (g, h) of 1.."
            f"{MAX_VALUE_BITS} value bits"
        )
    try:
        packing = PackingSpec(
            int(slots.value_bits), int(slots.slots), int(slots.max_summands)
        )
        packing.check_fits(public_key.n_bits)
    except ValueError as exc:
        raise InvalidArgument(f"SbtSetupRequest.gradient_slots: {exc}") from None
    if not 0 < msg.scale_bits < slots.value_bits:
        raise InvalidArgument(
            "SbtSetupRequest.scale_bits: must be between 1 and value_bits - 1"
        )
    if not 1 <= msg.outputs <= 64:
        raise InvalidArgument("SbtSetupRequest.outputs: must be 1..64")
    if not 0 < msg.train_rows <= MAX_ROWS or msg.validation_rows > MAX_ROWS:
        raise InvalidArgument(
            f"SbtSetupRequest.train_rows: must be 1..{MAX_ROWS} (validation 0..)"
        )
    if not 0 < msg.min_operator_rows <= MAX_ROWS:
        raise InvalidArgument(
            f"SbtSetupRequest.min_operator_rows: must be 1..{MAX_ROWS}"
        )
    return m.SbtSetup(
        job_id=msg.job_id,
        public_key=public_key,
        features=features,
        max_bins=int(msg.max_bins),
        gradient_slots=packing,
        scale_bits=int(msg.scale_bits),
        outputs=int(msg.outputs),
        train_rows=int(msg.train_rows),
        validation_rows=int(msg.validation_rows),
        min_operator_rows=int(msg.min_operator_rows),
    )


def setup_reply_to_proto(
    r: m.SbtSetupReply, features: tuple[int, ...]
) -> pb.SbtSetupReply:
    return pb.SbtSetupReply(
        features=[
            pb.SbtFeatureBins(feature=f, name=name, bins=bins)
            for f, name, bins in zip(features, r.names, r.n_bins, strict=True)
        ]
    )


def setup_reply_from_proto(
    msg: pb.SbtSetupReply, features: tuple[int, ...]
) -> m.SbtSetupReply:
    """The reply to a setup that asked for `features` (in that order)."""
    if tuple(f.feature for f in msg.features) != features:
        raise InvalidArgument("SbtSetupReply.features: not the requested features")
    for i, f in enumerate(msg.features):
        if not 1 <= f.bins <= MAX_BINS:
            raise InvalidArgument(
                f"SbtSetupReply.features[{i}].bins: must be 1..{MAX_BINS}"
            )
        if not 0 < len(f.name) <= MAX_NAME:
            raise InvalidArgument(
                f"SbtSetupReply.features[{i}].name: 1..{MAX_NAME} characters"
            )
    return m.SbtSetupReply(
        tuple(int(f.bins) for f in msg.features), tuple(f.name for f in msg.features)
    )


# ---- Gradients (client stream) -------------------------------------------------------
def gradients_to_proto(
    job_id: str, g: m.TreeGradients, train_rows: int, chunk_bytes: int
) -> Iterator[pb.SbtGradientsUpload]:
    sample = np.zeros(train_rows, dtype=bool)
    sample[g.rows] = True
    yield pb.SbtGradientsUpload(
        tree=pb.SbtTreeGradients(
            job_id=job_id,
            tree=g.tree,
            features=list(g.features),
            sample=mask_to_proto(sample),
        )
    )
    payload = wire.vector_to_bytes(g.gradients)
    header = StreamHeader(m.GRADIENTS_KIND, len(payload), job_id)
    for chunk in chunk_stream(header, [payload], chunk_bytes):
        yield pb.SbtGradientsUpload(gradients=chunk)


def gradients_from_proto(
    messages: Iterable[pb.SbtGradientsUpload], context_for: ContextFor, max_bytes: int
) -> tuple[str, m.TreeGradients]:
    """The tree's gradients; `context_for` checks the job before any payload is read."""
    head, chunks = opened_stream(messages, "tree", "gradients", "SbtGradientsUpload")
    job_id = check_job_id(head.job_id, "SbtTreeGradients.job_id")
    tree = _index(head.tree, MAX_TREES, "SbtTreeGradients.tree")
    if not head.features:
        raise InvalidArgument("SbtTreeGradients.features: none drawn")
    features = _distinct(head.features, MAX_FEATURES, "SbtTreeGradients.features")
    context = context_for(job_id)
    sample = mask_from_proto(head.sample, "SbtTreeGradients.sample", context.train_rows)
    rows = np.flatnonzero(sample).astype(np.int64)
    if rows.size == 0:
        raise InvalidArgument("SbtTreeGradients.sample: no row drawn")
    incoming = open_stream(
        chunks,
        expected_kinds=[m.GRADIENTS_KIND],
        max_bytes=max_bytes,
    )
    if incoming.header.session_id != job_id:
        raise InvalidArgument("SbtGradientsUpload.gradients: belongs to another job")
    vector = _vector_from(
        bytes(incoming.read_all()), context.public_key, "SbtGradientsUpload.gradients"
    )
    return job_id, m.TreeGradients(tree, features, rows, vector)


# ---- Histograms (server stream) ------------------------------------------------------
def histogram_request_to_proto(
    job_id: str, r: m.HistogramRequest
) -> pb.SbtHistogramRequest:
    return pb.SbtHistogramRequest(
        job_id=job_id,
        tree=r.tree,
        nodes=[
            pb.SbtNodeRequest(node=n.node, total=wire.vector_to_bytes(n.total))
            for n in r.nodes
        ],
    )


def histogram_request_from_proto(
    msg: pb.SbtHistogramRequest, context_for: ContextFor
) -> tuple[str, m.HistogramRequest]:
    job_id = check_job_id(msg.job_id, "SbtHistogramRequest.job_id")
    tree = _index(msg.tree, MAX_TREES, "SbtHistogramRequest.tree")
    if not msg.nodes:
        raise InvalidArgument("SbtHistogramRequest.nodes: none requested")
    _distinct((n.node for n in msg.nodes), MAX_NODE, "SbtHistogramRequest.nodes")
    key = context_for(job_id).public_key
    nodes = tuple(
        m.NodeRequest(
            int(n.node),
            _vector_from(n.total, key, f"SbtHistogramRequest.nodes[{i}].total"),
        )
        for i, n in enumerate(msg.nodes)
    )
    return job_id, m.HistogramRequest(tree, nodes)


def histogram_reply_to_proto(
    r: m.HistogramReply, job_id: str, chunk_bytes: int
) -> Iterator[pb.SbtHistogramDownload]:
    yield pb.SbtHistogramDownload(
        layout=pb.SbtHistogramLayout(tree=r.tree, nodes=list(r.nodes))
    )
    payload = wire.vector_to_bytes(r.sums)
    header = StreamHeader(m.HISTOGRAMS_KIND, len(payload), job_id)
    for chunk in chunk_stream(header, [payload], chunk_bytes):
        yield pb.SbtHistogramDownload(sums=chunk)


def histogram_reply_from_proto(
    messages: Iterable[pb.SbtHistogramDownload],
    job_id: str,
    key: PaillierPublicKey,
    max_bytes: int,
) -> m.HistogramReply:
    layout, chunks = opened_stream(messages, "layout", "sums", "SbtHistogramDownload")
    tree = _index(layout.tree, MAX_TREES, "SbtHistogramLayout.tree")
    nodes = _distinct(layout.nodes, MAX_NODE, "SbtHistogramLayout.nodes")
    incoming = open_stream(
        chunks,
        expected_kinds=[m.HISTOGRAMS_KIND],
        max_bytes=max_bytes,
    )
    if incoming.header.session_id != job_id:
        raise InvalidArgument("SbtHistogramDownload.sums: belongs to another job")
    sums = _vector_from(bytes(incoming.read_all()), key, "SbtHistogramDownload.sums")
    return m.HistogramReply(tree, nodes, sums)


# ---- Split ---------------------------------------------------------------------------
def split_request_to_proto(job_id: str, r: m.SplitRequest) -> pb.SbtSplitRequest:
    splits = []
    for s in r.splits:
        if s.owner == BANK:
            assert s.left is not None
            splits.append(
                pb.SbtNodeSplit(
                    node=s.node,
                    owner=_OWNER_TO_PROTO[BANK],
                    left=mask_to_proto(s.left),
                )
            )
        else:
            splits.append(
                pb.SbtNodeSplit(
                    node=s.node,
                    owner=_OWNER_TO_PROTO[OPERATOR],
                    feature=s.feature,
                    bin=s.bin,
                    default_left=s.default_left,
                )
            )
    return pb.SbtSplitRequest(job_id=job_id, tree=r.tree, splits=splits)


def split_request_from_proto(msg: pb.SbtSplitRequest) -> tuple[str, m.SplitRequest]:
    job_id = check_job_id(msg.job_id, "SbtSplitRequest.job_id")
    tree = _index(msg.tree, MAX_TREES, "SbtSplitRequest.tree")
    if not msg.splits:
        raise InvalidArgument("SbtSplitRequest.splits: none sent")
    _distinct((s.node for s in msg.splits), MAX_NODE, "SbtSplitRequest.splits.node")
    splits = []
    for i, s in enumerate(msg.splits):
        field = f"SbtSplitRequest.splits[{i}]"
        owner = _owner_from(s.owner, f"{field}.owner")
        if owner == BANK:
            if not s.HasField("left"):
                raise InvalidArgument(f"{field}.left: a bank split needs its rows")
            if s.feature or s.bin or s.default_left:
                raise InvalidArgument(
                    f"{field}: a bank split carries no feature, bin or direction"
                )
            left = mask_from_proto(s.left, f"{field}.left")
            splits.append(m.NodeSplit(int(s.node), BANK, left))
            continue
        if s.HasField("left"):
            raise InvalidArgument(f"{field}.left: an operator split carries no rows")
        splits.append(
            m.NodeSplit(
                int(s.node),
                OPERATOR,
                feature=_index(s.feature, MAX_FEATURES, f"{field}.feature"),
                bin=_index(s.bin, MAX_BINS, f"{field}.bin"),
                default_left=bool(s.default_left),
            )
        )
    return job_id, m.SplitRequest(tree, tuple(splits))


def split_reply_to_proto(r: m.SplitReply) -> pb.SbtSplitReply:
    return pb.SbtSplitReply(
        tree=r.tree,
        splits=[
            pb.SbtOperatorSplit(
                node=s.node, split_id=s.split_id, left=mask_to_proto(s.left)
            )
            for s in r.splits
        ],
    )


def split_reply_from_proto(msg: pb.SbtSplitReply) -> m.SplitReply:
    tree = _index(msg.tree, MAX_TREES, "SbtSplitReply.tree")
    _distinct((s.node for s in msg.splits), MAX_NODE, "SbtSplitReply.splits.node")
    splits = []
    for i, s in enumerate(msg.splits):
        field = f"SbtSplitReply.splits[{i}]"
        if not s.HasField("left"):
            raise InvalidArgument(f"{field}.left: missing")
        splits.append(
            m.OperatorSplit(
                int(s.node),
                _index(s.split_id, 2**63 - 1, f"{field}.split_id"),
                mask_from_proto(s.left, f"{field}.left"),
            )
        )
    return m.SplitReply(tree, tuple(splits))


# ---- FinishTree ----------------------------------------------------------------------
def tree_done_to_proto(job_id: str, d: m.TreeDone) -> pb.SbtTreeDone:
    return pb.SbtTreeDone(
        job_id=job_id,
        tree=d.tree,
        splits=[
            pb.SbtInternalNode(node=node, owner=_OWNER_TO_PROTO[owner])
            for node, owner in d.splits
        ],
    )


def tree_done_from_proto(msg: pb.SbtTreeDone) -> tuple[str, m.TreeDone]:
    job_id = check_job_id(msg.job_id, "SbtTreeDone.job_id")
    tree = _index(msg.tree, MAX_TREES, "SbtTreeDone.tree")
    nodes = _distinct((s.node for s in msg.splits), MAX_NODE, "SbtTreeDone.splits")
    owners = tuple(
        _owner_from(s.owner, f"SbtTreeDone.splits[{i}].owner")
        for i, s in enumerate(msg.splits)
    )
    return job_id, m.TreeDone(tree, tuple(zip(nodes, owners, strict=True)))


# ---- LeafSets (server stream) --------------------------------------------------------
def _split_of(dataset: str) -> Split:
    return Split(dataset)


def leaf_sets_request_to_proto(
    job_id: str, r: m.LeafSetsRequest
) -> pb.SbtLeafSetsRequest:
    return pb.SbtLeafSetsRequest(
        job_id=job_id, split=split_to_proto(_split_of(r.dataset)), trees=list(r.trees)
    )


def leaf_sets_request_from_proto(
    msg: pb.SbtLeafSetsRequest,
) -> tuple[str, m.LeafSetsRequest]:
    job_id = check_job_id(msg.job_id, "SbtLeafSetsRequest.job_id")
    split = split_from_proto(msg.split, "SbtLeafSetsRequest.split")
    if not msg.trees:
        raise InvalidArgument("SbtLeafSetsRequest.trees: none requested")
    trees = _distinct(msg.trees, MAX_TREES, "SbtLeafSetsRequest.trees")
    return job_id, m.LeafSetsRequest(split.value, trees)


def leaf_sets_reply_to_proto(
    r: m.LeafSetsReply,
    request: m.LeafSetsRequest,
    rows: int,
    job_id: str,
    chunk_bytes: int,
) -> Iterator[pb.SbtLeafSetsDownload]:
    sets = [np.ascontiguousarray(r.leaf_sets[t], dtype=np.uint8) for t in request.trees]
    yield pb.SbtLeafSetsDownload(
        layout=pb.SbtLeafSetsLayout(
            split=split_to_proto(_split_of(request.dataset)),
            rows=rows,
            trees=[
                pb.SbtTreeLeafSets(tree=t, row_bytes=s.shape[1])
                for t, s in zip(request.trees, sets, strict=True)
            ],
        )
    )
    header = StreamHeader(m.LEAF_SETS_KIND, sum(s.nbytes for s in sets), job_id)
    for chunk in chunk_stream(header, sets, chunk_bytes):
        yield pb.SbtLeafSetsDownload(sets=chunk)


def leaf_sets_reply_from_proto(
    messages: Iterable[pb.SbtLeafSetsDownload],
    job_id: str,
    request: m.LeafSetsRequest,
    rows: int,
) -> m.LeafSetsReply:
    """The sets of exactly the requested trees over the split's `rows` rows."""
    layout, chunks = opened_stream(messages, "layout", "sets", "SbtLeafSetsDownload")
    if split_from_proto(layout.split, "SbtLeafSetsLayout.split").value != (
        request.dataset
    ):
        raise InvalidArgument("SbtLeafSetsLayout.split: not the requested split")
    if layout.rows != rows:
        raise InvalidArgument(f"SbtLeafSetsLayout.rows: {layout.rows}, expected {rows}")
    if tuple(t.tree for t in layout.trees) != request.trees:
        raise InvalidArgument("SbtLeafSetsLayout.trees: not the requested trees")
    widths = []
    for i, t in enumerate(layout.trees):
        if not 1 <= t.row_bytes <= MAX_LEAF_BYTES:
            raise InvalidArgument(
                f"SbtLeafSetsLayout.trees[{i}].row_bytes: must be 1..{MAX_LEAF_BYTES}"
            )
        widths.append(int(t.row_bytes))
    total = rows * sum(widths)
    incoming = open_stream(
        chunks,
        expected_kinds=[m.LEAF_SETS_KIND],
        max_bytes=total,
    )
    if incoming.header.session_id != job_id or incoming.header.total_bytes != total:
        raise InvalidArgument(
            f"SbtLeafSetsDownload.sets: expected {total} bytes of this job's sets"
        )
    data = np.frombuffer(bytes(incoming.read_all()), dtype=np.uint8)
    out = {}
    offset = 0
    for tree, width in zip(request.trees, widths, strict=True):
        size = rows * width
        out[tree] = data[offset : offset + size].reshape(rows, width)
        offset += size
    return m.LeafSetsReply(out)


# ---- Finish --------------------------------------------------------------------------
def finish_to_proto(job_id: str, f: m.TrainingDone) -> pb.SbtFinishRequest:
    return pb.SbtFinishRequest(job_id=job_id, trees=f.trees)


def finish_from_proto(msg: pb.SbtFinishRequest) -> tuple[str, m.TrainingDone]:
    job_id = check_job_id(msg.job_id, "SbtFinishRequest.job_id")
    return job_id, m.TrainingDone(
        _index(msg.trees, MAX_TREES, "SbtFinishRequest.trees")
    )


def finish_reply_to_proto(r: m.TrainingDoneReply) -> pb.SbtFinishReply:
    return pb.SbtFinishReply(operator_trees=r.operator_trees)


def finish_reply_from_proto(msg: pb.SbtFinishReply) -> m.TrainingDoneReply:
    return m.TrainingDoneReply(
        _index(msg.operator_trees, MAX_TREES, "SbtFinishReply.operator_trees")
    )


def ack_to_proto() -> pb.SbtAck:
    return pb.SbtAck()


def ack_from_proto(msg: pb.SbtAck) -> None:
    """An empty acknowledgement: nothing to convert or check."""
