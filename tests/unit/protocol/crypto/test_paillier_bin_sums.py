"""Tests of protocol.crypto.paillier_bin_sums: exact encrypted bin sums of many nodes,
with and without the skipped largest cell, and re-randomized packed replies."""

from __future__ import annotations

import numpy as np
import pytest

from protocol.crypto import paillier
from protocol.crypto import paillier_bin_sums as bin_sums
from protocol.crypto import paillier_raw as raw
from protocol.crypto.fixedpoint import PackingSpec
from protocol.crypto.joint_cells import CellGroup, plan_groups
from protocol.crypto.paillier_keys import PaillierPrivateKey, PaillierPublicKey

Keys = tuple[PaillierPublicKey, PaillierPrivateKey]


def encrypted_total(private_key: PaillierPrivateKey, gh: np.ndarray, spec: PackingSpec):
    plaintext = 0
    for value in reversed(gh.sum(axis=0).tolist()):
        plaintext = (plaintext << spec.slot_bits) + int(value)
    return raw.owner_encrypt_plaintexts(
        int(private_key.p), int(private_key.q), [plaintext]
    )[0]


def expected_sums(bins: np.ndarray, widths: tuple[int, ...], gh: np.ndarray) -> list:
    out = []
    for f, width in enumerate(widths):
        for b in range(width):
            out.append(gh[bins[:, f] == b].sum(axis=0).tolist())
    return out


@pytest.mark.parametrize("skip_largest", [True, False])
def test_node_bin_sums_equals_plaintext_sums_if_several_nodes(
    keypair: Keys, skip_largest: bool
) -> None:
    # Prepare: 900 rows, (g, h) slots, 4 features (one with a missing bin in use).
    public_key, private_key = keypair
    rng = np.random.default_rng(0)
    n = 900
    gh = np.c_[rng.integers(-(2**20), 2**20, n), rng.integers(0, 2**18, n)]
    bins = np.c_[
        rng.integers(0, 3, (n, 2)), rng.integers(0, 9, n), rng.integers(0, 2, n)
    ]
    widths = (3, 3, 9, 2)
    spec = PackingSpec(21, 2, n)
    vec = paillier.owner_encrypt_vector(private_key, gh.ravel(), packing=spec)
    installed = bin_sums.install_rows(vec)
    nodes = [
        np.arange(n),
        np.sort(rng.choice(n, 300, replace=False)),
        np.sort(rng.choice(n, 77, replace=False)),
    ]
    jobs = [
        bin_sums.NodeJob(
            rows,
            bins[rows],
            widths,
            plan_groups(bins[rows]),
            encrypted_total(private_key, gh[rows], spec) if skip_largest else None,
        )
        for rows in nodes
    ]

    # Execute
    sums = bin_sums.node_bin_sums(installed, jobs)
    packed = bin_sums.flood_and_pack(
        public_key, [c for s in sums for c in s], spec, noise_bits=300
    )

    # Assert
    values = np.array(paillier.decrypt_ints(private_key, packed)).reshape(-1, 2)
    expected = [
        s for rows in nodes for s in expected_sums(bins[rows], widths, gh[rows])
    ]
    np.testing.assert_array_equal(values, np.array(expected))
    assert len(packed.ciphertexts) < len(expected)
    bin_sums.release_rows(installed)


def test_flood_and_pack_rerandomizes_every_sum_if_packed_twice(keypair: Keys) -> None:
    # Prepare: the same sums packed twice, and packed without flooding.
    public_key, private_key = keypair
    spec = PackingSpec(21, 2, 100)
    plaintexts = [i * 1000 + 7 for i in range(40)]
    sums = raw.owner_encrypt_plaintexts(
        int(private_key.p), int(private_key.q), plaintexts
    )
    nsquare = public_key.nsquare
    block = 1 << (spec.n_slots * spec.slot_bits)
    per = (public_key.n_bits - 3) // (spec.n_slots * spec.slot_bits)
    unflooded = sums[per - 1]
    for c in reversed(sums[: per - 1]):
        unflooded = pow(unflooded, block, nsquare) * c % nsquare

    # Execute
    first = bin_sums.flood_and_pack(public_key, sums, spec, noise_bits=260)
    second = bin_sums.flood_and_pack(public_key, sums, spec, noise_bits=260)

    # Assert: same plaintexts, fresh ciphertexts each time, never the bare packing.
    assert paillier.decrypt_ints(private_key, first) == paillier.decrypt_ints(
        private_key, second
    )
    assert first.ciphertexts[0] != second.ciphertexts[0]
    assert first.ciphertexts[0] != unflooded
    assert not first.needs_rerandomization


def test_node_bin_sums_refuses_job_if_bins_do_not_match_rows(keypair: Keys) -> None:
    # Prepare
    _, private_key = keypair
    spec = PackingSpec(21, 2, 10)
    vec = paillier.owner_encrypt_vector(
        private_key, np.zeros(20, dtype=int), packing=spec
    )
    installed = bin_sums.install_rows(vec)
    job = bin_sums.NodeJob(
        np.arange(10), np.zeros((9, 1), dtype=np.uint16), (2,), (CellGroup((0,)),), None
    )

    # Execute / Assert
    with pytest.raises(ValueError, match="node job 0: bins shape does not match"):
        bin_sums.node_bin_sums(installed, [job])
