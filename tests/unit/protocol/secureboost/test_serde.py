"""SecureBoost messages and typed streams: a round trip for every pair and the
rejection of each malformed field with its exact message, with the production key size
(2048 bits: nothing shorter crosses the wire)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from models.secureboost.booster import Booster
from models.secureboost.params import BoostParams
from models.secureboost.tree import BANK, OPERATOR
from protocol.crypto import paillier, wire
from protocol.crypto.fixedpoint import PackingSpec
from protocol.crypto.paillier_keys import (
    PaillierPrivateKey,
    PaillierPublicKey,
    generate_keypair,
)
from protocol.crypto.paillier_vector import CiphertextVector
from protocol.errors import InvalidArgument
from protocol.proto.duet.v1 import common_pb2
from protocol.proto.duet.v1 import secureboost_pb2 as pb
from protocol.secureboost import messages as m
from protocol.secureboost import serde
from tests.unit.protocol.wire import through_wire, with_fields

JOB = "a1b2c3d4e5f6a7b8"
TRAIN_ROWS, VALID_ROWS = 10, 4
Keys = tuple[PaillierPublicKey, PaillierPrivateKey]


@pytest.fixture(scope="module")
def keys() -> Keys:
    return generate_keypair()


@pytest.fixture(scope="module")
def slots() -> PackingSpec:
    codec = Booster.codec_for(BoostParams())
    return PackingSpec(codec.value_bits, 2, TRAIN_ROWS)


def encrypt(keys: Keys, slots: PackingSpec, values: list[float]) -> CiphertextVector:
    codec = Booster.codec_for(BoostParams())
    return paillier.owner_encrypt_vector(
        keys[1], np.asarray(values), packing=slots, scale_bits=codec.scale_bits
    )


def context_for(keys: Keys) -> serde.ContextFor:
    def context(job_id: str) -> m.SbtWireContext:
        assert job_id == JOB
        return m.SbtWireContext(keys[0], TRAIN_ROWS, VALID_ROWS)

    return context


@pytest.fixture(scope="module")
def setup(keys: Keys, slots: PackingSpec) -> m.SbtSetup:
    return m.SbtSetup(JOB, keys[0], (3, 0, 7), 32, slots, 20, 1, TRAIN_ROWS,
                      VALID_ROWS, 64)  # fmt: skip


def refused(call: Callable[[], Any]) -> str:
    with pytest.raises(InvalidArgument) as info:
        call()
    return str(info.value)


# ---- masks ---------------------------------------------------------------------------
@pytest.mark.parametrize("rows", [0, 1, 7, 8, 9, 100])
def test_mask_round_trips_if_any_length(rows: int) -> None:
    # Prepare
    mask = np.random.default_rng(rows).random(rows) < 0.5
    # Execute
    back = serde.mask_from_proto(through_wire(serde.mask_to_proto(mask)), "F", rows)
    # Assert
    assert back.dtype == np.bool_ and np.array_equal(back, mask)
    assert len(serde.mask_to_proto(mask).bits) == -(-rows // 8)


@pytest.mark.parametrize(
    ("msg", "rows", "message"),
    [
        (pb.SbtRowMask(rows=9, bits=b"\x01"), None,
         "F.bits: 1 bytes for 9 rows, expected 2"),
        (pb.SbtRowMask(rows=3, bits=b"\x09"), None,
         "F.bits: padding bits after row 3 set"),
        (pb.SbtRowMask(rows=8, bits=b"\x01"), 9, "F.rows: 8, expected 9"),
        (pb.SbtRowMask(rows=2**33, bits=b""), None, "F.rows: at most 4294967295"),
    ],
)  # fmt: skip
def test_mask_from_proto_raises_if_malformed(
    msg: pb.SbtRowMask, rows: int | None, message: str
) -> None:
    # Execute / Assert
    assert refused(lambda: serde.mask_from_proto(msg, "F", rows)) == message


# ---- Setup ---------------------------------------------------------------------------
def test_setup_round_trips_if_valid(setup: m.SbtSetup) -> None:
    # Execute
    back = serde.setup_from_proto(through_wire(serde.setup_to_proto(setup)))
    # Assert
    assert back == setup


def _short_key() -> bytes:
    public, _ = generate_keypair(1024, allow_insecure_test_key=True)
    return wire.public_key_to_bytes(public)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("job_id", "X", "SbtSetupRequest.job_id: job id must be 8-64 lowercase"
         " letters, digits or '-'"),
        ("public_key", b"", "SbtSetupRequest.public_key: public key is truncated"),
        ("public_key", "short", "SbtSetupRequest.public_key: 1024-bit Paillier keys"
         " are refused; the minimum is 2048 bits (allow_insecure_test_key=True is"
         " for tests only)"),
        ("features", [], "SbtSetupRequest.features: none requested"),
        ("features", [1, 1], "SbtSetupRequest.features: a value repeats"),
        ("features", [100_001], "SbtSetupRequest.features: at most 100000, got"
         " 100001"),
        ("max_bins", 1, "SbtSetupRequest.max_bins: must be 2..256"),
        ("max_bins", 257, "SbtSetupRequest.max_bins: must be 2..256"),
        ("gradient_slots", pb.SbtGradientSlots(value_bits=40, slots=3,
         max_summands=10), "SbtSetupRequest.gradient_slots: two slots (g, h) of"
         " 1..1024 value bits"),
        ("gradient_slots", pb.SbtGradientSlots(value_bits=1024, slots=2,
         max_summands=10), "SbtSetupRequest.gradient_slots: packing needs 2058"
         " bits (2 slots x 1029 bits) but a 2048-bit key holds 2045"),
        ("scale_bits", 0, "SbtSetupRequest.scale_bits: must be between 1 and"
         " value_bits - 1"),
        ("outputs", 0, "SbtSetupRequest.outputs: must be 1..64"),
        ("outputs", 65, "SbtSetupRequest.outputs: must be 1..64"),
        ("train_rows", 0, "SbtSetupRequest.train_rows: must be 1..4294967295"
         " (validation 0..)"),
        ("min_operator_rows", 0, "SbtSetupRequest.min_operator_rows: must be"
         " 1..4294967295"),
    ],
)  # fmt: skip
def test_setup_from_proto_raises_if_field_malformed(
    setup: m.SbtSetup, field: str, value: Any, message: str
) -> None:
    # Prepare
    msg = serde.setup_to_proto(setup)
    if field == "gradient_slots":
        msg.gradient_slots.CopyFrom(value)
    else:
        msg = with_fields(msg, **{field: _short_key() if value == "short" else value})
    # Execute / Assert
    assert refused(lambda: serde.setup_from_proto(msg)) == message


def test_setup_from_proto_raises_if_gradient_slots_missing(setup: m.SbtSetup) -> None:
    # Prepare
    msg = serde.setup_to_proto(setup)
    msg.ClearField("gradient_slots")
    # Execute / Assert
    assert refused(lambda: serde.setup_from_proto(msg)) == (
        "SbtSetupRequest.gradient_slots: missing"
    )


def test_setup_reply_round_trips_if_the_requested_features() -> None:
    # Prepare
    reply = m.SbtSetupReply((32, 5), ("age", "f002"))
    # Execute
    back = serde.setup_reply_from_proto(
        through_wire(serde.setup_reply_to_proto(reply, (4, 1))), (4, 1)
    )
    # Assert
    assert back == reply


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ([pb.SbtFeatureBins(feature=1, name="a", bins=2)],
         "SbtSetupReply.features: not the requested features"),
        ([pb.SbtFeatureBins(feature=4, name="a", bins=0)],
         "SbtSetupReply.features[0].bins: must be 1..256"),
        ([pb.SbtFeatureBins(feature=4, name="", bins=3)],
         "SbtSetupReply.features[0].name: 1..128 characters"),
    ],
)  # fmt: skip
def test_setup_reply_from_proto_raises_if_malformed(
    features: list[pb.SbtFeatureBins], message: str
) -> None:
    # Prepare
    msg = pb.SbtSetupReply(features=features)
    # Execute / Assert
    assert refused(lambda: serde.setup_reply_from_proto(msg, (4,))) == message


# ---- Gradients -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def gradients(keys: Keys, slots: PackingSpec) -> m.TreeGradients:
    rows = np.array([0, 3, 4, 9])
    vector = encrypt(keys, slots, [0.5, 0.25, -0.5, 0.25, 0.1, 0.2, -0.3, 0.2])
    return m.TreeGradients(2, (1, 0), rows, vector)


def test_gradients_stream_round_trips_if_valid(
    keys: Keys, gradients: m.TreeGradients
) -> None:
    # Prepare: 100-byte chunks, so the payload spans many.
    upload = serde.gradients_to_proto(JOB, gradients, TRAIN_ROWS, chunk_bytes=100)
    messages = [through_wire(msg) for msg in upload]
    # Execute
    job_id, back = serde.gradients_from_proto(messages, context_for(keys), 1 << 20)
    # Assert
    assert job_id == JOB and len(messages) > 5
    assert (back.tree, back.features) == (gradients.tree, gradients.features)
    assert np.array_equal(back.rows, gradients.rows)
    assert back.gradients.ciphertexts == gradients.gradients.ciphertexts
    assert back.gradients.encoding == gradients.gradients.encoding


def _upload(
    gradients: m.TreeGradients, **tree_fields: Any
) -> list[pb.SbtGradientsUpload]:
    messages = list(serde.gradients_to_proto(JOB, gradients, TRAIN_ROWS, 1 << 20))
    head = messages[0].tree
    for name, value in tree_fields.items():
        if name == "sample":
            head.sample.CopyFrom(value)
        else:
            head.CopyFrom(with_fields(head, **{name: value}))
    return messages


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"job_id": "no"}, "SbtTreeGradients.job_id: job id must be 8-64 lowercase"
         " letters, digits or '-'"),
        ({"tree": 640_001}, "SbtTreeGradients.tree: at most 640000, got 640001"),
        ({"features": []}, "SbtTreeGradients.features: none drawn"),
        ({"features": [2, 2]}, "SbtTreeGradients.features: a value repeats"),
        ({"sample": pb.SbtRowMask(rows=9, bits=b"\x01\x00")},
         "SbtTreeGradients.sample.rows: 9, expected 10"),
        ({"sample": pb.SbtRowMask(rows=10, bits=b"\x00\x00")},
         "SbtTreeGradients.sample: no row drawn"),
    ],
)  # fmt: skip
def test_gradients_from_proto_raises_if_tree_field_malformed(
    keys: Keys, gradients: m.TreeGradients, fields: dict[str, Any], message: str
) -> None:
    # Prepare
    messages = _upload(gradients, **fields)
    # Execute / Assert
    assert (
        refused(
            lambda: serde.gradients_from_proto(messages, context_for(keys), 1 << 20)
        )
        == message
    )


def test_gradients_from_proto_raises_if_stream_malformed(
    keys: Keys, gradients: m.TreeGradients
) -> None:
    # Prepare
    good = _upload(gradients)
    header = good[1].gradients.header
    other_job = pb.SbtGradientsUpload(gradients=common_pb2.Chunk(header=header))
    other_job.gradients.header.session_id = "ffffffffffffffff"
    cut = [good[0], good[1], pb.SbtGradientsUpload(gradients=common_pb2.Chunk(
        data=good[2].gradients.data[:-1]))]  # fmt: skip
    bad_bytes = [good[0], good[1], pb.SbtGradientsUpload(gradients=common_pb2.Chunk(
        data=b"x" * len(good[2].gradients.data)))]  # fmt: skip
    context = context_for(keys)
    cases = {
        "SbtGradientsUpload: the stream must start with the tree": [good[1]],
        "SbtGradientsUpload: only gradients may follow the first message": [
            good[0],
            good[0],
        ],
        "SbtGradientsUpload.gradients: belongs to another job": [
            good[0],
            other_job,
            *good[2:],
        ],
        "stream 'secureboost.gradients': ended after"
        f" {len(good[2].gradients.data) - 1} of {header.total_bytes} announced"
        " bytes": cut,
        "SbtGradientsUpload.gradients: not a Paillier ciphertext vector: bad magic"
        " b'xxxx'": bad_bytes,
    }
    for message, messages in cases.items():
        # Execute / Assert
        assert (
            refused(
                lambda messages=messages: serde.gradients_from_proto(
                    messages, context, 1 << 20
                )
            )
            == message
        )


# ---- Histograms ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def histogram_request(keys: Keys, slots: PackingSpec) -> m.HistogramRequest:
    total = encrypt(keys, slots, [1.5, 2.0])
    return m.HistogramRequest(3, (m.NodeRequest(1, total), m.NodeRequest(6, total)))


def test_histogram_request_round_trips_if_valid(
    keys: Keys, histogram_request: m.HistogramRequest
) -> None:
    # Execute
    job_id, back = serde.histogram_request_from_proto(
        through_wire(serde.histogram_request_to_proto(JOB, histogram_request)),
        context_for(keys),
    )
    # Assert
    assert job_id == JOB and back.tree == 3
    assert [n.node for n in back.nodes] == [1, 6]
    assert [n.total.ciphertexts for n in back.nodes] == [
        n.total.ciphertexts for n in histogram_request.nodes
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"job_id": ""}, "SbtHistogramRequest.job_id: job id must be 8-64 lowercase"
         " letters, digits or '-'"),
        ({"tree": 10**7}, "SbtHistogramRequest.tree: at most 640000, got 10000000"),
        ({"nodes": []}, "SbtHistogramRequest.nodes: none requested"),
        ({"nodes": [pb.SbtNodeRequest(node=1), pb.SbtNodeRequest(node=1)]},
         "SbtHistogramRequest.nodes: a value repeats"),
        ({"nodes": [pb.SbtNodeRequest(node=2**17)]},
         "SbtHistogramRequest.nodes: at most 131070, got 131072"),
        ({"nodes": [pb.SbtNodeRequest(node=1, total=b"")]},
         "SbtHistogramRequest.nodes[0].total: ciphertext vector is truncated"),
    ],
)  # fmt: skip
def test_histogram_request_from_proto_raises_if_field_malformed(
    keys: Keys,
    histogram_request: m.HistogramRequest,
    fields: dict[str, Any],
    message: str,
) -> None:
    # Prepare
    msg = with_fields(
        serde.histogram_request_to_proto(JOB, histogram_request), **fields
    )
    # Execute / Assert
    assert (
        refused(lambda: serde.histogram_request_from_proto(msg, context_for(keys)))
        == message
    )


@pytest.fixture(scope="module")
def histogram_reply(keys: Keys) -> m.HistogramReply:
    codec = Booster.codec_for(BoostParams())
    packing = PackingSpec(codec.value_bits, 20, TRAIN_ROWS)
    sums = paillier.owner_encrypt_vector(
        keys[1], np.linspace(-1, 1, 50), packing=packing, scale_bits=codec.scale_bits
    )
    return m.HistogramReply(3, (1, 6), sums)


def test_histogram_reply_stream_round_trips_if_valid(
    keys: Keys, histogram_reply: m.HistogramReply
) -> None:
    # Prepare
    messages = [
        through_wire(msg)
        for msg in serde.histogram_reply_to_proto(histogram_reply, JOB, 64)
    ]
    # Execute
    back = serde.histogram_reply_from_proto(messages, JOB, keys[0], 1 << 20)
    # Assert
    assert (back.tree, back.nodes) == (3, (1, 6))
    assert back.sums.ciphertexts == histogram_reply.sums.ciphertexts
    assert back.sums.encoding == histogram_reply.sums.encoding


def test_histogram_reply_from_proto_raises_if_malformed(
    keys: Keys, histogram_reply: m.HistogramReply
) -> None:
    # Prepare
    good = list(serde.histogram_reply_to_proto(histogram_reply, JOB, 1 << 20))
    repeated = pb.SbtHistogramDownload(
        layout=pb.SbtHistogramLayout(tree=3, nodes=[1, 1])
    )
    cases = {
        "SbtHistogramDownload: the stream must start with the layout": good[1:],
        "SbtHistogramLayout.nodes: a value repeats": [repeated, *good[1:]],
        "SbtHistogramDownload.sums: belongs to another job": good,
        "SbtHistogramDownload: only sums may follow the first message": [
            good[0],
            good[0],
        ],
    }
    for message, messages in cases.items():
        job = "ffffffffffffffff" if "another job" in message else JOB
        # Execute / Assert
        assert (
            refused(
                lambda messages=messages, job=job: serde.histogram_reply_from_proto(
                    messages, job, keys[0], 1 << 20
                )
            )
            == message
        )


# ---- Split ---------------------------------------------------------------------------
SPLIT_REQUEST = m.SplitRequest(
    4,
    (
        m.NodeSplit(1, BANK, np.array([True, False, True, True, False])),
        m.NodeSplit(2, OPERATOR, feature=3, bin=17, default_left=True),
    ),
)


def test_split_request_round_trips_if_valid() -> None:
    # Execute
    job_id, back = serde.split_request_from_proto(
        through_wire(serde.split_request_to_proto(JOB, SPLIT_REQUEST))
    )
    # Assert
    assert job_id == JOB and back.tree == 4
    bank, operator = back.splits
    assert (bank.node, bank.owner, bank.feature) == (1, BANK, -1)
    assert bank.left is not None and bank.left.tolist() == [1, 0, 1, 1, 0]
    assert operator == SPLIT_REQUEST.splits[1]


def _split(**fields: Any) -> pb.SbtSplitRequest:
    return pb.SbtSplitRequest(job_id=JOB, tree=1, splits=[pb.SbtNodeSplit(**fields)])


LEFT = pb.SbtRowMask(rows=3, bits=b"\x05")


@pytest.mark.parametrize(
    ("msg", "message"),
    [
        (pb.SbtSplitRequest(job_id=JOB, tree=1), "SbtSplitRequest.splits: none sent"),
        (pb.SbtSplitRequest(job_id=JOB, tree=1, splits=[
            pb.SbtNodeSplit(node=1, owner=pb.SBT_OWNER_BANK, left=LEFT)] * 2),
         "SbtSplitRequest.splits.node: a value repeats"),
        (_split(node=0), "SbtSplitRequest.splits[0].owner: must be bank or operator"),
        (_split(node=0, owner=pb.SBT_OWNER_BANK),
         "SbtSplitRequest.splits[0].left: a bank split needs its rows"),
        (_split(node=0, owner=pb.SBT_OWNER_BANK, left=LEFT, bin=3),
         "SbtSplitRequest.splits[0]: a bank split carries no feature, bin or"
         " direction"),
        (_split(node=0, owner=pb.SBT_OWNER_BANK,
                left=pb.SbtRowMask(rows=3, bits=b"")),
         "SbtSplitRequest.splits[0].left.bits: 0 bytes for 3 rows, expected 1"),
        (_split(node=0, owner=pb.SBT_OWNER_OPERATOR, left=LEFT),
         "SbtSplitRequest.splits[0].left: an operator split carries no rows"),
        (_split(node=0, owner=pb.SBT_OWNER_OPERATOR, bin=300),
         "SbtSplitRequest.splits[0].bin: at most 256, got 300"),
    ],
)  # fmt: skip
def test_split_request_from_proto_raises_if_field_malformed(
    msg: pb.SbtSplitRequest, message: str
) -> None:
    # Execute / Assert
    assert refused(lambda: serde.split_request_from_proto(msg)) == message


def test_split_reply_round_trips_if_valid() -> None:
    # Prepare
    reply = m.SplitReply(4, (m.OperatorSplit(2, 11, np.array([False, True, True])),))
    # Execute
    back = serde.split_reply_from_proto(through_wire(serde.split_reply_to_proto(reply)))
    # Assert
    (split,) = back.splits
    assert back.tree == 4 and (split.node, split.split_id) == (2, 11)
    assert split.left.tolist() == [False, True, True]


def test_split_reply_from_proto_raises_if_rows_missing() -> None:
    # Prepare
    msg = pb.SbtSplitReply(tree=1, splits=[pb.SbtOperatorSplit(node=2, split_id=1)])
    # Execute / Assert
    assert refused(lambda: serde.split_reply_from_proto(msg)) == (
        "SbtSplitReply.splits[0].left: missing"
    )


# ---- FinishTree ----------------------------------------------------------------------
def test_tree_done_round_trips_if_valid() -> None:
    # Prepare
    done = m.TreeDone(5, ((0, OPERATOR), (1, BANK)))
    # Execute
    job_id, back = serde.tree_done_from_proto(
        through_wire(serde.tree_done_to_proto(JOB, done))
    )
    # Assert
    assert job_id == JOB and back == done


@pytest.mark.parametrize(
    ("splits", "message"),
    [
        ([pb.SbtInternalNode(node=0)],
         "SbtTreeDone.splits[0].owner: must be bank or operator"),
        ([pb.SbtInternalNode(node=0, owner=pb.SBT_OWNER_BANK)] * 2,
         "SbtTreeDone.splits: a value repeats"),
    ],
)  # fmt: skip
def test_tree_done_from_proto_raises_if_malformed(
    splits: list[pb.SbtInternalNode], message: str
) -> None:
    # Prepare
    msg = pb.SbtTreeDone(job_id=JOB, tree=1, splits=splits)
    # Execute / Assert
    assert refused(lambda: serde.tree_done_from_proto(msg)) == message


# ---- LeafSets ------------------------------------------------------------------------
LEAF_REQUEST = m.LeafSetsRequest(m.VALIDATION, (2, 7))


def test_leaf_sets_request_round_trips_if_valid() -> None:
    # Execute
    job_id, back = serde.leaf_sets_request_from_proto(
        through_wire(serde.leaf_sets_request_to_proto(JOB, LEAF_REQUEST))
    )
    # Assert
    assert job_id == JOB and back == LEAF_REQUEST


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"split": 0}, "SbtLeafSetsRequest.split: must be train or validation"),
        ({"trees": []}, "SbtLeafSetsRequest.trees: none requested"),
        ({"trees": [3, 3]}, "SbtLeafSetsRequest.trees: a value repeats"),
    ],
)  # fmt: skip
def test_leaf_sets_request_from_proto_raises_if_field_malformed(
    fields: dict[str, Any], message: str
) -> None:
    # Prepare
    msg = with_fields(serde.leaf_sets_request_to_proto(JOB, LEAF_REQUEST), **fields)
    # Execute / Assert
    assert refused(lambda: serde.leaf_sets_request_from_proto(msg)) == message


@pytest.fixture(scope="module")
def leaf_reply() -> m.LeafSetsReply:
    rng = np.random.default_rng(0)
    return m.LeafSetsReply(
        {
            2: rng.integers(0, 255, (VALID_ROWS, 1), dtype=np.uint8),
            7: rng.integers(0, 255, (VALID_ROWS, 3), dtype=np.uint8),
        }
    )


def test_leaf_sets_reply_stream_round_trips_if_valid(
    leaf_reply: m.LeafSetsReply,
) -> None:
    # Prepare
    messages = [
        through_wire(msg)
        for msg in serde.leaf_sets_reply_to_proto(
            leaf_reply, LEAF_REQUEST, VALID_ROWS, JOB, 5
        )
    ]
    # Execute
    back = serde.leaf_sets_reply_from_proto(messages, JOB, LEAF_REQUEST, VALID_ROWS)
    # Assert
    assert set(back.leaf_sets) == {2, 7}
    for tree, sets in leaf_reply.leaf_sets.items():
        assert np.array_equal(back.leaf_sets[tree], sets)


def test_leaf_sets_reply_from_proto_raises_if_malformed(
    leaf_reply: m.LeafSetsReply,
) -> None:
    # Prepare
    good = list(
        serde.leaf_sets_reply_to_proto(leaf_reply, LEAF_REQUEST, VALID_ROWS, JOB, 1024)
    )

    def layout(**fields: Any) -> pb.SbtLeafSetsDownload:
        out = pb.SbtLeafSetsDownload()
        out.CopyFrom(good[0])
        for name, value in fields.items():
            if name == "trees":
                del out.layout.trees[:]
                out.layout.trees.extend(value)
            else:
                setattr(out.layout, name, value)
        return out

    tree = pb.SbtTreeLeafSets
    cases = {
        "SbtLeafSetsDownload: the stream must start with the layout": good[1:],
        "SbtLeafSetsLayout.split: not the requested split": [
            layout(split=common_pb2.DATA_SPLIT_TRAIN),
            *good[1:],
        ],
        "SbtLeafSetsLayout.rows: 5, expected 4": [layout(rows=5), *good[1:]],
        "SbtLeafSetsLayout.trees: not the requested trees": [
            layout(trees=[tree(tree=2, row_bytes=1)]),
            *good[1:],
        ],
        "SbtLeafSetsLayout.trees[1].row_bytes: must be 1..8192": [
            layout(trees=[tree(tree=2, row_bytes=1), tree(tree=7, row_bytes=0)]),
            *good[1:],
        ],
        "stream 'secureboost.leaf_sets' announces 16 bytes, over the limit of 8"
        " bytes": [
            layout(trees=[tree(tree=2, row_bytes=1), tree(tree=7, row_bytes=1)]),
            *good[1:],
        ],
    }
    for message, messages in cases.items():
        # Execute
        with pytest.raises(Exception) as info:
            serde.leaf_sets_reply_from_proto(messages, JOB, LEAF_REQUEST, VALID_ROWS)
        # Assert
        assert str(info.value) == message


# ---- Finish --------------------------------------------------------------------------
def test_finish_round_trips_if_valid() -> None:
    # Execute
    job_id, back = serde.finish_from_proto(
        through_wire(serde.finish_to_proto(JOB, m.TrainingDone(17)))
    )
    reply = serde.finish_reply_from_proto(
        through_wire(serde.finish_reply_to_proto(m.TrainingDoneReply(9)))
    )
    # Assert
    assert (job_id, back, reply) == (JOB, m.TrainingDone(17), m.TrainingDoneReply(9))


@pytest.mark.parametrize(
    ("msg", "message"),
    [
        (pb.SbtFinishRequest(job_id="a", trees=1), "SbtFinishRequest.job_id: job id"
         " must be 8-64 lowercase letters, digits or '-'"),
        (pb.SbtFinishRequest(job_id=JOB, trees=640_001),
         "SbtFinishRequest.trees: at most 640000, got 640001"),
    ],
)  # fmt: skip
def test_finish_from_proto_raises_if_field_malformed(
    msg: pb.SbtFinishRequest, message: str
) -> None:
    # Execute / Assert
    assert refused(lambda: serde.finish_from_proto(msg)) == message
