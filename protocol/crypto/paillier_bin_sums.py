"""Encrypted per-feature bin sums of many nodes at once: joint cells, all cores, one
re-randomized and packed reply.

The computing party holds one packed ciphertext per row (e.g. a row's (g, h) under the
key holder's key) and, per node, the rows and its own bin indices. Work:

1. `install_rows` sends the round's ciphertexts to every worker process once.
2. `node_bin_sums` multiplies rows into the joint cells of each feature group
   (protocol/crypto/joint_cells) and projects the cells onto every feature's bins, in
   worker processes, each taking a chunk of a group's rows sorted by cell; merges the
   chunks' bins; and recovers each group's largest, skipped cell from the node's
   encrypted total (one inversion).
3. `flood_and_pack` packs as many bin sums as the key holds into one ciphertext
   (Horner's rule, like paillier_compress) and re-randomizes each packed ciphertext.

Re-randomizing is what makes the packed ciphertexts safe to send: the packed
ciphertext's DJN exponent is a known combination of the rows' (and the total's)
exponents, which the key holder could partly recover; multiplying by h_s^R with R
uniform and STATISTICAL_SECURITY_BITS longer than that combination makes it
statistically independent of which rows were summed (paillier_raw's flooding, applied
once per packed ciphertext). With an 8-bit-window table that is ~300 multiplications
per packed ciphertext, against ~860 for flooding its 27 sums one by one or a 2048-bit
exponentiation for phe's uniform r^n.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import gmpy2
import numpy as np
import numpy.typing as npt
from gmpy2 import mpz

from protocol.crypto import paillier_raw as raw
from protocol.crypto import parallel
from protocol.crypto.fixedpoint import PackingSpec, plaintext_capacity_bits
from protocol.crypto.joint_cells import (
    CellGroup,
    GroupCells,
    group_cells,
    multiplication_count,
)
from protocol.crypto.paillier_keys import PaillierPublicKey
from protocol.crypto.paillier_vector import CiphertextVector, VectorEncoding

# Rows per worker task: below this the task overhead (~1 ms) shows.
MIN_CHUNK_ROWS = 512
# Rounds of row ciphertexts a worker keeps (the current one and the one being built).
_KEPT_ROUNDS = 2

_rounds_lock = threading.Lock()
_rounds: dict[str, tuple[mpz, list[mpz]]] = {}
_tokens = itertools.count()


# Worker side: module-level functions, so the spawn-based pool can call them.


def _install(token: str, n: int, blob: bytes, width: int) -> None:
    cts = raw.from_fixed_bytes(blob, width)
    with _rounds_lock:
        _rounds[token] = (mpz(n) * mpz(n), cts)
        while len(_rounds) > _KEPT_ROUNDS:
            del _rounds[next(iter(_rounds))]


def _release(token: str) -> None:
    with _rounds_lock:
        _rounds.pop(token, None)


def _group_bins(
    token: str,
    positions: bytes,
    bounds: bytes,
    segment_cells: bytes,
    projections: tuple[tuple[int, int, int, bytes], ...],
    leaves: tuple[tuple[int, int], ...],
    width: int,
) -> tuple[tuple[int, bytes, bytes], ...]:
    """One chunk of one feature group: rows -> cells -> ... -> each feature's bins.

    positions: row ciphertext indices sorted by cell, cut into segments by `bounds`,
    segment i belonging to cell segment_cells[i]. projections: (source node, target
    node, first source cell, int32 mapping of source cells from that one on to target
    cells), sources before targets. leaves:
    (feature, node). Returns per feature (feature, bin ids, products) of the bins this
    chunk touched.
    """
    with _rounds_lock:
        if token not in _rounds:
            raise KeyError(f"rows {token} are not installed in this worker")
        nsquare, cts = _rounds[token]
    index = np.frombuffer(positions, dtype=np.int32).tolist()
    edges = np.frombuffer(bounds, dtype=np.int64).tolist()
    cells: dict[int, mpz] = {}
    for cell, (start, stop) in zip(
        np.frombuffer(segment_cells, dtype=np.int64).tolist(),
        itertools.pairwise(edges),
        strict=True,
    ):
        acc = cts[index[start]]
        for i in range(start + 1, stop):
            acc = acc * cts[index[i]] % nsquare
        current = cells.get(cell)
        cells[cell] = acc if current is None else current * acc % nsquare
    nodes: dict[int, dict[int, mpz]] = {0: cells}
    for source, target, first, mapping_bytes in projections:
        mapping = np.frombuffer(mapping_bytes, dtype=np.int32).tolist()
        out: dict[int, mpz] = {}
        get = out.get
        for cell, value in nodes[source].items():
            t = mapping[cell - first]
            current = get(t)
            out[t] = value if current is None else current * value % nsquare
        nodes[target] = out
    result = []
    for feature, node in leaves:
        bins = nodes[node]
        ids = np.fromiter(bins.keys(), dtype=np.int64, count=len(bins))
        result.append(
            (feature, ids.tobytes(), raw.to_fixed_bytes(list(bins.values()), width))
        )
    return tuple(result)


# Window of the packed-flooding table: an exponent of ~2400 bits (a 2048-bit key's
# packed plaintext plus the flooding margin) costs 300 multiplications with 256-entry
# rows, a 40 MB table per process; 12-bit rows would need 400 MB.
FLOOD_WINDOW_BITS = 8
_KEPT_FLOOD_TABLES = 2
_flood_tables: dict[int, raw.FixedBaseTable] = {}


def _flood_table(n: int, bits: int) -> raw.FixedBaseTable:
    with _rounds_lock:
        table = _flood_tables.get(n)
        if table is None:
            # The same base h_s as DJN encryption (paillier_raw), in coarser rows.
            n_mpz = mpz(n)
            table = raw.FixedBaseTable(
                raw.derive_djn_base(n_mpz), n_mpz * n_mpz, FLOOD_WINDOW_BITS
            )
            while len(_flood_tables) >= _KEPT_FLOOD_TABLES:  # 40 MB each
                del _flood_tables[next(iter(_flood_tables))]
            _flood_tables[n] = table
    table.ensure_exponent_bits(bits)
    return table


def _flood_and_pack(
    n: int, blob: bytes, width: int, noise_bits: int, block_bits: int
) -> bytes:
    """Pack the sums (Horner), then flood the packed exponent once.

    Sum j carries a DJN exponent e_j with |e_j| < 2^noise_bits, so the packed
    ciphertext carries E = sum_j e_j 2^(j * block_bits), |E| < 2^(noise_bits +
    block_bits * (count - 1)). Multiplying by h_s^R with R uniform and
    STATISTICAL_SECURITY_BITS longer makes the exponent E + R statistically close
    (<= 2^-40) to uniform whatever the e_j, as flooding each sum would, for one
    exponentiation instead of one per sum.
    """
    cts = raw.from_fixed_bytes(blob, width)
    nsquare = mpz(n) * mpz(n)
    shift = mpz(1) << block_bits
    acc = cts[-1]
    for c in reversed(cts[:-1]):
        acc = gmpy2.powmod(acc, shift, nsquare) * c % nsquare
    bits = noise_bits + block_bits * (len(cts) - 1) + raw.STATISTICAL_SECURITY_BITS
    (r,) = raw.random_exponents(bits, 1)
    acc = acc * _flood_table(n, bits).power(r) % nsquare
    return raw.to_fixed_bytes([acc], width)


def _warm_flood_table(n: int, bits: int) -> None:
    _flood_table(n, bits)


# Party side.


@dataclass(frozen=True)
class InstalledRows:
    """A round's row ciphertexts, present in every worker under `token`."""

    token: str
    public_key: PaillierPublicKey
    ciphertexts: list[mpz]
    noise_bits: int  # DJN exponent bits of one row ciphertext


def install_rows(vec: CiphertextVector) -> InstalledRows:
    """Send the row ciphertexts to every worker (and keep them here for inline runs)."""
    if vec.noise_bound is None:
        raise ValueError("row ciphertexts must carry DJN randomness (noise_bound)")
    token = f"rows-{next(_tokens)}"
    key = vec.public_key
    with _rounds_lock:  # this process runs single tasks inline
        _rounds[token] = (key.nsquare, vec.ciphertexts)
        while len(_rounds) > _KEPT_ROUNDS:
            del _rounds[next(iter(_rounds))]
    pool = parallel.process_pool()
    if pool is not None:
        blob = raw.to_fixed_bytes(vec.ciphertexts, key.ciphertext_width)
        pool.broadcast(_install, (token, int(key.n), blob, key.ciphertext_width))
    return InstalledRows(token, key, vec.ciphertexts, vec.noise_bound.bit_length())


def release_rows(rows: InstalledRows) -> None:
    _release(rows.token)
    pool = parallel.process_pool()
    if pool is not None:
        pool.broadcast(_release, (rows.token,))


@dataclass(frozen=True)
class NodeJob:
    """One node: its rows (positions in the installed round), their bins over the
    requested features (rows x features, each feature's widths[f] bins including the
    missing bin), the feature groups and the node's encrypted total (None: no skip)."""

    rows: npt.NDArray[np.int64]
    bins: npt.NDArray[np.integer]
    widths: tuple[int, ...]
    groups: tuple[CellGroup, ...]
    total: mpz | None


@dataclass
class BinSumsStats:
    multiplications: int = 0
    inversions: int = 0
    rows: int = 0


def node_bin_sums(
    installed: InstalledRows, jobs: Sequence[NodeJob], stats: BinSumsStats | None = None
) -> list[list[mpz]]:
    """Per job, the encrypted sum of every bin of every feature, features in order.

    Empty bins are mpz(1) (Enc(0) without randomness; `flood_and_pack` randomizes).
    """
    key = installed.public_key
    nsquare, width = key.nsquare, key.ciphertext_width
    plans: list[tuple[int, GroupCells]] = []
    for j, job in enumerate(jobs):
        if job.bins.shape != (job.rows.size, len(job.widths)):
            raise ValueError(f"node job {j}: bins shape does not match rows/widths")
        skip = job.total is not None
        for group in job.groups:
            plans.append(
                (j, group_cells(job.bins, job.widths, group, skip_largest=skip))
            )
    tasks, owners = _group_tasks(installed, jobs, plans, width)
    results = parallel.map_processes(_group_bins, tasks)
    bins: list[dict[int, list[mpz | None]]] = [
        {f: [None] * jobs[j].widths[f] for f in plan.features} for j, plan in plans
    ]
    merges = 0
    for plan_index, result in zip(owners, results, strict=True):
        features = bins[plan_index]
        for feature, ids, blob in result:
            acc = features[feature]
            for b, product in zip(
                np.frombuffer(ids, dtype=np.int64).tolist(),
                raw.from_fixed_bytes(blob, width),
                strict=True,
            ):
                current = acc[b]
                if current is None:
                    acc[b] = product
                else:
                    acc[b] = current * product % nsquare
                    merges += 1
    fixes = 0
    for (j, plan), features in zip(plans, bins, strict=True):
        if plan.skipped_cell >= 0:
            total = jobs[j].total
            assert total is not None
            fixes += _recover_skipped(plan, features, total, nsquare)
    if stats is not None:
        stats.rows += sum(int(job.rows.size) for job in jobs)
        stats.multiplications += sum(multiplication_count(p) for _, p in plans)
        stats.multiplications += merges + fixes
        stats.inversions += sum(1 for _, p in plans if p.skipped_cell >= 0)
    out: list[list[mpz]] = [[] for _ in jobs]
    by_job: dict[int, dict[int, list[mpz | None]]] = {}
    for (j, _), features in zip(plans, bins, strict=True):
        by_job.setdefault(j, {}).update(features)
    for j, job in enumerate(jobs):
        features = by_job.get(j, {})
        for f in range(len(job.widths)):
            column = features.get(f, [None] * job.widths[f])
            out[j].extend(mpz(1) if c is None else c for c in column)
    return out


def _group_tasks(
    installed: InstalledRows,
    jobs: Sequence[NodeJob],
    plans: list[tuple[int, GroupCells]],
    width: int,
) -> tuple[list[tuple[object, ...]], list[int]]:
    """Worker tasks: chunks of each group's rows sorted by cell, with the hierarchy."""
    sorted_rows = []
    total_rows = 0
    for job_index, plan in plans:
        keep = plan.cell_of_row != plan.skipped_cell
        rows = jobs[job_index].rows[keep]
        cells = plan.cell_of_row[keep]
        order = np.argsort(cells, kind="stable")
        sorted_rows.append((rows[order], cells[order]))
        total_rows += rows.size
    target = max(MIN_CHUNK_ROWS, -(-total_rows // (4 * parallel.worker_count())))
    tasks: list[tuple[object, ...]] = []
    owners = []
    for plan_index, ((_, plan), (rows, cells)) in enumerate(
        zip(plans, sorted_rows, strict=True)
    ):
        deeper = tuple(
            (p.source, p.target, 0, p.mapping.astype(np.int32).tobytes())
            for p in plan.projections
            if p.source != 0
        )
        top = [p for p in plan.projections if p.source == 0]
        leaves = tuple(plan.leaf_of_feature.items())
        for start in range(0, rows.size, target):
            stop = min(start + target, rows.size)
            chunk_cells = cells[start:stop]
            change = np.flatnonzero(np.diff(chunk_cells)) + 1
            bounds = np.concatenate(([0], change, [stop - start])).astype(np.int64)
            # A chunk holds a run of cells: send only its slice of the top mappings.
            lo, hi = int(chunk_cells[0]), int(chunk_cells[-1]) + 1
            projections = (
                tuple(
                    (
                        p.source,
                        p.target,
                        lo,
                        p.mapping[lo:hi].astype(np.int32).tobytes(),
                    )
                    for p in top
                )
                + deeper
            )
            tasks.append(
                (
                    installed.token,
                    rows[start:stop].astype(np.int32).tobytes(),
                    bounds.tobytes(),
                    chunk_cells[bounds[:-1]].astype(np.int64).tobytes(),
                    projections,
                    leaves,
                    width,
                )
            )
            owners.append(plan_index)
    return tasks, owners


def _recover_skipped(
    plan: GroupCells,
    features: dict[int, list[mpz | None]],
    total: mpz,
    nsquare: mpz,
) -> int:
    """Put the skipped cell (total / product of the others) into its bins."""
    count = 0
    others: mpz | None = None
    for value in features[plan.features[0]]:
        if value is not None:
            others = value if others is None else others * value % nsquare
            count += 1
    skipped = (
        total if others is None else total * gmpy2.invert(others, nsquare) % nsquare
    )
    for f, b in plan.skipped_bins.items():
        column = features[f]
        current = column[b]
        column[b] = skipped if current is None else current * skipped % nsquare
        count += 1
    return count


def flood_and_pack(
    public_key: PaillierPublicKey,
    sums: Sequence[mpz],
    slots: PackingSpec,
    *,
    noise_bits: int,
    scale_bits: int = 0,
) -> CiphertextVector:
    """Pack as many bin sums as fit into one ciphertext, each packed ciphertext
    re-randomized by flooding (see _flood_and_pack).

    `slots` is the packing of one bin sum (e.g. (G, H) with headroom for the rows);
    `noise_bits` bounds the bits of any DJN exponent a sum can carry.
    """
    block_bits = slots.n_slots * slots.slot_bits
    per_ciphertext = max(1, plaintext_capacity_bits(public_key.n_bits) // block_bits)
    width = public_key.ciphertext_width
    n = int(public_key.n)
    tasks = [
        (
            n,
            raw.to_fixed_bytes(sums[i : i + per_ciphertext], width),
            width,
            noise_bits,
            block_bits,
        )
        for i in range(0, len(sums), per_ciphertext)
    ]
    blobs = parallel.map_processes(_flood_and_pack, tasks)
    packed = [c for blob in blobs for c in raw.from_fixed_bytes(blob, width)]
    spec = PackingSpec(
        slots.value_bits, slots.n_slots * per_ciphertext, slots.max_summands
    )
    encoding = VectorEncoding(
        len(sums) * slots.n_slots, scale_bits, slots.value_bits, spec
    )
    if len(packed) != encoding.n_ciphertexts:
        raise AssertionError("packing produced an unexpected number of ciphertexts")
    # The exponents were multiplied by powers of 2^block_bits: no usable DJN bound.
    return CiphertextVector(public_key, packed, encoding, noise_bound=None)


def warm_up(public_key: PaillierPublicKey, noise_bits: int) -> None:
    """Build the flooding table in every worker ahead of the first reply (the parent
    builds its own only if it ever packs inline)."""
    block = plaintext_capacity_bits(public_key.n_bits)
    args = (int(public_key.n), noise_bits + block + raw.STATISTICAL_SECURITY_BITS)
    pool = parallel.process_pool()
    if pool is None:
        _warm_flood_table(*args)
    else:
        pool.broadcast(_warm_flood_table, args)
