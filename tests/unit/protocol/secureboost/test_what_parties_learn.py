"""What crosses between the SecureBoost parties, checked on recorded messages: the
claims of protocol/secureboost/__init__.py, and the operator's refusals."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from models.secureboost.params import BoostParams
from models.secureboost.tree import BANK, OPERATOR
from protocol.crypto import wire
from protocol.crypto.paillier_keys import PaillierPrivateKey, PaillierPublicKey
from protocol.crypto.paillier_vector import CiphertextVector
from protocol.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from protocol.secureboost import messages as m
from protocol.secureboost.driver import train_in_process
from protocol.secureboost.party import BankSbtParty, OperatorSbtParty

Keys = tuple[PaillierPublicKey, PaillierPrivateKey]
Data = tuple[np.ndarray, np.ndarray, np.ndarray]


class Recorder:
    """Wraps the operator: records every message it receives and every reply."""

    def __init__(self, operator: OperatorSbtParty):
        self.operator = operator
        self.received: list[Any] = []
        self.sent: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.operator, name)
        if name in ("model", "close"):
            return method

        def call(message: Any) -> Any:
            self.received.append(message)
            reply = method(message)
            if reply is not None:
                self.sent.append(reply)
            return reply

        return call


def parties(
    data: Data, params: BoostParams, private_key: PaillierPrivateKey
) -> tuple[BankSbtParty, OperatorSbtParty]:
    xb, xo, y = data
    bank = BankSbtParty(
        "job-1",
        xb,
        y,
        params,
        private_key,
        names=tuple(f"b{j}" for j in range(xb.shape[1])),
        operator_features=tuple(range(xo.shape[1])),
    )
    operator = OperatorSbtParty(xo, tuple(f"o{j}" for j in range(xo.shape[1])))
    return bank, operator


def record(data: Data, params: BoostParams, keys: Keys) -> Recorder:
    bank, operator = parties(data, params, keys[1])
    recorder = Recorder(operator)
    train_in_process(bank, recorder)
    return recorder


def leaves_of(value: Any) -> list[Any]:
    """Every field value of a message, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [
            v
            for f in dataclasses.fields(value)
            for v in leaves_of(getattr(value, f.name))
        ]
    if isinstance(value, tuple | list):
        return [v for item in value for v in leaves_of(item)]
    if isinstance(value, dict):
        return [v for item in value.values() for v in leaves_of(item)]
    return [value]


def test_operator_receives_only_ciphertexts_row_sets_and_choices_if_trained(
    keys_and_data: tuple[Keys, Data],
) -> None:
    # Prepare
    keys, data = keys_and_data

    # Execute
    recorder = record(data, BoostParams(n_trees=3), keys)

    # Assert: no float anywhere (no gradient, hessian, label, margin or leaf value);
    # arrays are row indices or boolean masks; numbers are ints.
    for message in recorder.received:
        for value in leaves_of(message):
            if isinstance(value, np.ndarray):
                assert value.dtype.kind in "biu", type(message).__name__
            else:
                assert not isinstance(value, float), type(message).__name__
                assert (
                    isinstance(
                        value, CiphertextVector | PaillierPublicKey | int | str | bool
                    )
                    or value is None
                    or dataclasses.is_dataclass(value)
                )


def test_operator_hears_nothing_of_bank_only_trees_if_mitigation_on(
    keys_and_data: tuple[Keys, Data],
) -> None:
    # Prepare
    keys, data = keys_and_data

    # Execute
    recorder = record(data, BoostParams(n_trees=4, bank_only_trees=2), keys)

    # Assert: after setup, every message names a tree of round 2 or later.
    trees = [getattr(msg, "tree", None) for msg in recorder.received[1:]]
    trees += [
        t
        for msg in recorder.received
        if isinstance(msg, m.LeafSetsRequest)
        for t in msg.trees
    ]
    assert all(t is None or t >= 2 for t in trees)
    assert {t for t in trees if t is not None} == {2, 3}


def test_bank_split_rows_not_sent_if_no_child_splits_further(
    keys_and_data: tuple[Keys, Data],
) -> None:
    # Prepare: depth 2, so splits of depth-1 nodes have children at the maximum depth.
    keys, data = keys_and_data

    # Execute
    recorder = record(data, BoostParams(n_trees=3, max_depth=2), keys)

    # Assert
    requests = [msg for msg in recorder.received if isinstance(msg, m.SplitRequest)]
    bank_splits = [s for r in requests for s in r.splits if s.owner == BANK]
    done = [msg for msg in recorder.received if isinstance(msg, m.TreeDone)]
    assert any((node, BANK) in d.splits for d in done for node in (1, 2))
    assert all(s.node == 0 and s.left is not None for s in bank_splits)


def test_bank_receives_only_sums_sides_and_bin_counts_if_trained(
    keys_and_data: tuple[Keys, Data],
) -> None:
    # Prepare
    keys, data = keys_and_data

    # Execute
    recorder = record(data, BoostParams(n_trees=3), keys)

    # Assert: replies are bin counts and names, re-randomized packed sums, boolean
    # sides with an opaque id per operator split, the count of its kept trees;
    # nothing holds a threshold.
    kinds = {type(reply) for reply in recorder.sent}
    assert kinds <= {
        m.SbtSetupReply,
        m.HistogramReply,
        m.SplitReply,
        m.LeafSetsReply,
        m.TrainingDoneReply,
    }
    for reply in recorder.sent:
        if isinstance(reply, m.HistogramReply):
            assert not reply.sums.needs_rerandomization
            wire.vector_to_bytes(reply.sums)  # refuses vectors not re-randomized
        if isinstance(reply, m.SplitReply):
            for split in reply.splits:
                assert set(vars(split)) == {"node", "split_id", "left"}
                assert split.left.dtype == np.bool_


def test_operator_refuses_setup_if_max_bins_out_of_range(
    keys_and_data: tuple[Keys, Data],
) -> None:
    # Prepare
    keys, data = keys_and_data
    bank, operator = parties(data, BoostParams(), keys[1])
    request = dataclasses.replace(bank.setup_request(), max_bins=1)

    # Execute / Assert: refused before binning anything.
    with pytest.raises(InvalidArgument, match=r"max_bins must be in \[2, 256\]"):
        operator.setup(request)
    assert operator.setup_message is None and operator.bins is None


def test_operator_refuses_calls_out_of_order_if_protocol_skipped(
    keys_and_data: tuple[Keys, Data],
) -> None:
    # Prepare: a tree whose root histogram was built once.
    keys, data = keys_and_data
    bank, operator = parties(data, BoostParams(n_trees=2), keys[1])
    with pytest.raises(FailedPrecondition, match="not set up"):
        operator.histograms(m.HistogramRequest(0, ()))
    operator_reply = operator.setup(bank.setup_request())
    bank.accept_setup(operator_reply)
    bank.start_round()
    bank.start_tree()
    gradients = bank.tree_gradients()
    assert gradients is not None
    operator.accept_gradients(gradients)
    request = bank.histogram_request()
    assert request is not None
    bank.accept_histograms(operator.histograms(request))

    # Execute / Assert
    with pytest.raises(FailedPrecondition, match="node 0 of tree 0 was built"):
        operator.histograms(request)
    with pytest.raises(FailedPrecondition, match="tree 1 is not open"):
        operator.histograms(m.HistogramRequest(1, request.nodes))
    with pytest.raises(FailedPrecondition, match="tree 0 is not finished"):
        operator.accept_gradients(dataclasses.replace(gradients, tree=1))
    with pytest.raises(FailedPrecondition, match="unknown or repeated node 5"):
        operator.split(m.SplitRequest(0, (m.NodeSplit(5, OPERATOR, feature=0, bin=0),)))
    with pytest.raises(InvalidArgument, match="node 0: no candidate \\(0, 99\\)"):
        operator.split(
            m.SplitRequest(0, (m.NodeSplit(0, OPERATOR, feature=0, bin=99),))
        )
    with pytest.raises(InvalidArgument, match="node 0 is not one of the operator's"):
        operator.finish_tree(m.TreeDone(0, ((0, OPERATOR),)))


@pytest.fixture(scope="module")
def keys_and_data(keypair: Keys, credit: Data) -> tuple[Keys, Data]:
    xb, xo, y = credit
    return keypair, (xb[:400], xo[:400], y[:400])


def test_operator_sees_every_large_gradient_row_if_goss(
    keys_and_data: tuple[Keys, Data],
) -> None:
    # Prepare: the first round's gradients are p - y with p the label mean.
    keys, data = keys_and_data
    _, _, y = data
    params = BoostParams(n_trees=1, goss=True, goss_top_rate=0.2, goss_other_rate=0.1)

    # Execute
    recorder = record(data, params, keys)

    # Assert: the documented leak: the 20% rows with the largest |g| (here: the
    # positives, the minority) are all in the sample the operator receives.
    (gradients,) = [m_ for m_ in recorder.received if isinstance(m_, m.TreeGradients)]
    magnitude = np.abs(y.mean() - y)
    top = np.argsort(-magnitude, kind="stable")[: int(round(0.2 * y.size))]
    assert set(top.tolist()) <= set(gradients.rows.tolist())
    assert gradients.rows.size == int(round(0.2 * y.size)) + int(round(0.1 * y.size))


def test_operator_sums_no_node_below_its_minimum_if_min_operator_rows(
    keys_and_data: tuple[Keys, Data],
) -> None:
    # Prepare: the operator's floor is 100 rows; the bank asks for the same. The
    # operator notes the size of every node it sums or splits.
    keys, data = keys_and_data
    xo = data[1]
    params = BoostParams(n_trees=3, max_depth=4, min_operator_rows=100)
    bank, _ = parties(data, params, keys[1])
    sizes: list[int] = []

    class Noting(OperatorSbtParty):
        def histograms(self, request: m.HistogramRequest) -> m.HistogramReply:
            assert self._tree is not None
            sizes.extend(self._tree.rows[n.node].size for n in request.nodes)
            return super().histograms(request)

        def split(self, request: m.SplitRequest) -> m.SplitReply:
            assert self._tree is not None
            sizes.extend(
                self._tree.rows[s.node].size
                for s in request.splits
                if s.owner == OPERATOR
            )
            return super().split(request)

    operator = Noting(xo, tuple(f"o{j}" for j in range(xo.shape[1])),
                      min_node_rows=100)  # fmt: skip

    # Execute
    model = train_in_process(bank, operator)[0]

    # Assert: every histogram and operator split is over at least 100 rows, and
    # smaller nodes still split, on the bank's features.
    assert sizes and min(sizes) >= 100
    small_splits = [
        n for t in model.trees for n in t.nodes.values()
        if not n.is_leaf and n.owner == BANK and n.cover is not None
        and n.cover < 100 * 0.1
    ]  # fmt: skip
    assert small_splits


def test_operator_refuses_setup_if_job_minimum_below_its_policy(
    keys_and_data: tuple[Keys, Data],
) -> None:
    # Prepare
    keys, data = keys_and_data
    xo = data[1]
    bank, _ = parties(data, BoostParams(min_operator_rows=50), keys[1])
    operator = OperatorSbtParty(xo, tuple(f"o{j}" for j in range(xo.shape[1])),
                                min_node_rows=100)  # fmt: skip

    # Execute / Assert: refused before binning anything.
    with pytest.raises(PermissionDenied, match="nodes of at least 100 rows"):
        operator.setup(bank.setup_request())
    assert operator.setup_message is None


def test_operator_refuses_histograms_if_node_below_its_minimum(
    keys_and_data: tuple[Keys, Data],
) -> None:
    # Prepare: a bank that ignores the floor it announced.
    keys, data = keys_and_data
    xo = data[1]
    bank, _ = parties(data, BoostParams(n_trees=1, min_operator_rows=100), keys[1])
    operator = OperatorSbtParty(xo, tuple(f"o{j}" for j in range(xo.shape[1])),
                                min_node_rows=100)  # fmt: skip
    bank.accept_setup(operator.setup(bank.setup_request()))
    bank.start_round()
    bank.start_tree()
    gradients = bank.tree_gradients()
    assert gradients is not None
    operator.accept_gradients(gradients)
    request = bank.histogram_request()
    assert request is not None
    operator.histograms(request)
    left = np.zeros(gradients.rows.size, dtype=bool)
    left[:10] = True
    operator.split(m.SplitRequest(0, (m.NodeSplit(0, BANK, left),)))

    small = m.HistogramRequest(0, (m.NodeRequest(1, request.nodes[0].total),))

    # Execute / Assert
    with pytest.raises(PermissionDenied, match="node 1 of tree 0 has 10 rows"):
        operator.histograms(small)
