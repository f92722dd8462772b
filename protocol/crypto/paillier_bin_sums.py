"""Encrypted per-feature bin sums of many nodes at once: joint cells, all cores, one
re-randomized and packed reply.

The computing party holds one packed ciphertext per row (e.g. a row's (g, h) under the
key holder's key) and, per node, the rows and its own bin indices. Work:

1. `install_rows` sends the round's ciphertexts to every worker process once.
2. `node_bin_sums` multiplies rows into the joint cells of each feature group
   (protocol/crypto/joint_cells), spread over the workers in row chunks; projects
   the cells onto every feature's bins (threads); and recovers each group's largest,
   skipped cell from the node's encrypted total (one inversion).
3. `flood_and_pack` re-randomizes every bin sum and packs as many as the key holds
   into one ciphertext (Horner's rule, like paillier_compress).

Re-randomizing before packing is what makes the packed ciphertexts safe to send: each
bin sum gets a fresh DJN exponent STATISTICAL_SECURITY_BITS longer than any exponent
it can carry (the rows' and the total's), so it is statistically a fresh encryption of
its plaintext whatever the key holder knows (paillier_raw); packing is then a public
function of fresh encryptions and reveals nothing beyond the packed plaintext. It
costs one table-based power per bin instead of one uniform r^n per packed ciphertext
(a 2048-bit exponent), about 3x less at 27 bins per ciphertext.
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
from protocol.crypto.joint_cells import CellGroup, GroupCells, group_cells
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


def _segment_products(token: str, positions: bytes, bounds: bytes, width: int) -> bytes:
    """Product of the row ciphertexts of each segment [bounds[i], bounds[i+1])."""
    with _rounds_lock:
        if token not in _rounds:
            raise KeyError(f"rows {token} are not installed in this worker")
        nsquare, cts = _rounds[token]
    index = np.frombuffer(positions, dtype=np.int32).tolist()
    edges = np.frombuffer(bounds, dtype=np.int64).tolist()
    out = []
    for start, stop in itertools.pairwise(edges):
        acc = cts[index[start]]
        for i in range(start + 1, stop):
            acc = acc * cts[index[i]] % nsquare
        out.append(acc)
    return raw.to_fixed_bytes(out, width)


def _flood_and_pack(
    n: int, blob: bytes, width: int, flood_bits: int, block_bits: int
) -> bytes:
    cts = raw.rerandomize_ciphertexts(n, raw.from_fixed_bytes(blob, width), flood_bits)
    nsquare = mpz(n) * mpz(n)
    shift = mpz(1) << block_bits
    acc = cts[-1]
    for c in reversed(cts[:-1]):
        acc = gmpy2.powmod(acc, shift, nsquare) * c % nsquare
    return raw.to_fixed_bytes([acc], width)


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
    # 1. Rows into cells, in chunks over the workers.
    tasks, owners = _cell_tasks(installed, jobs, plans, width)
    blobs = parallel.map_processes(_segment_products, tasks)
    cells: list[list[mpz | None]] = [[None] * p.n_cells for _, p in plans]
    for (plan_index, segment_cells), blob in zip(owners, blobs, strict=True):
        acc = cells[plan_index]
        for cell, product in zip(
            segment_cells, raw.from_fixed_bytes(blob, width), strict=True
        ):
            current = acc[cell]
            acc[cell] = product if current is None else current * product % nsquare
    if stats is not None:
        stats.rows += sum(int(job.rows.size) for job in jobs)
        stats.multiplications += sum(_row_multiplications(p) for _, p in plans)

    # 2. Projections and the skipped cells (threads: gmpy2 releases the GIL).
    def project(i: int) -> tuple[dict[int, list[mpz | None]], int]:
        job_index, plan = plans[i]
        return _project(plan, cells[i], jobs[job_index].total, nsquare)

    projected = parallel.map_threads(project, [(i,) for i in range(len(plans))])
    if stats is not None:
        stats.multiplications += sum(m for _, m in projected)
        stats.inversions += sum(1 for _, p in plans if p.skipped_cell >= 0)
    out: list[list[mpz]] = [[] for _ in jobs]
    by_job: dict[int, dict[int, list[mpz | None]]] = {}
    for (job_index, _), (features, _) in zip(plans, projected, strict=True):
        by_job.setdefault(job_index, {}).update(features)
    for j, job in enumerate(jobs):
        features = by_job.get(j, {})
        for f in range(len(job.widths)):
            bins = features.get(f, [None] * job.widths[f])
            out[j].extend(mpz(1) if c is None else c for c in bins)
    return out


def _row_multiplications(plan: GroupCells) -> int:
    rows = plan.cell_of_row
    if plan.skipped_cell >= 0:
        rows = rows[rows != plan.skipped_cell]
    return int(rows.size - np.unique(rows).size)


def _cell_tasks(
    installed: InstalledRows,
    jobs: Sequence[NodeJob],
    plans: list[tuple[int, GroupCells]],
    width: int,
) -> tuple[list[tuple[str, bytes, bytes, int]], list[tuple[int, list[int]]]]:
    """Worker tasks (row chunks in cell order) and, per task, whose cells they are."""
    orders = []
    total_rows = 0
    for job_index, plan in plans:
        keep = plan.cell_of_row != plan.skipped_cell
        rows = jobs[job_index].rows[keep]
        cells = plan.cell_of_row[keep]
        order = np.argsort(cells, kind="stable")
        orders.append((rows[order], cells[order]))
        total_rows += rows.size
    target = max(MIN_CHUNK_ROWS, -(-total_rows // (4 * parallel.worker_count())))
    tasks = []
    owners = []
    for plan_index, (rows, cells) in enumerate(orders):
        for start in range(0, rows.size, target):
            stop = min(start + target, rows.size)
            chunk_cells = cells[start:stop]
            change = np.flatnonzero(np.diff(chunk_cells)) + 1
            bounds = np.concatenate(([0], change, [stop - start])).astype(np.int64)
            positions = rows[start:stop].astype(np.int32)
            tasks.append(
                (installed.token, positions.tobytes(), bounds.tobytes(), width)
            )
            owners.append((plan_index, chunk_cells[bounds[:-1]].tolist()))
    return tasks, owners


def _grouped(
    values: list[mpz | None], mapping: npt.NDArray[np.int64], n_out: int, nsquare: mpz
) -> tuple[list[mpz | None], int]:
    out: list[mpz | None] = [None] * n_out
    count = 0
    for value, target in zip(values, mapping.tolist(), strict=True):
        if value is None:
            continue
        current = out[target]
        if current is None:
            out[target] = value
        else:
            out[target] = current * value % nsquare
            count += 1
    return out, count


def _project(
    plan: GroupCells, cells: list[mpz | None], total: mpz | None, nsquare: mpz
) -> tuple[dict[int, list[mpz | None]], int]:
    """Feature bins of one group (feature -> bins), and the multiplications spent."""
    nodes: dict[int, list[mpz | None]] = {0: cells}
    count = 0
    for p in plan.projections:
        nodes[p.target], spent = _grouped(
            nodes[p.source], p.mapping, p.n_target, nsquare
        )
        count += spent
    features = {f: nodes[leaf] for f, leaf in plan.leaf_of_feature.items()}
    if plan.skipped_cell >= 0:
        if total is None:
            raise ValueError("a skipped cell needs the node's encrypted total")
        first = features[plan.features[0]]
        others: mpz | None = None
        for value in first:
            if value is not None:
                others = value if others is None else others * value % nsquare
                count += 1
        skipped = (
            total if others is None else total * gmpy2.invert(others, nsquare) % nsquare
        )
        for f, b in plan.skipped_bins.items():
            bins = features[f]
            current = bins[b]
            bins[b] = skipped if current is None else current * skipped % nsquare
            count += 1
    return features, count


def flood_and_pack(
    public_key: PaillierPublicKey,
    sums: Sequence[mpz],
    slots: PackingSpec,
    *,
    noise_bits: int,
    scale_bits: int = 0,
) -> CiphertextVector:
    """Re-randomize every bin sum, then pack as many as fit into one ciphertext.

    `slots` is the packing of one bin sum (e.g. (G, H) with headroom for the rows);
    `noise_bits` bounds the bits of any DJN exponent a sum can carry.
    """
    block_bits = slots.n_slots * slots.slot_bits
    per_ciphertext = max(1, plaintext_capacity_bits(public_key.n_bits) // block_bits)
    flood_bits = max(raw.DJN_EXPONENT_BITS, noise_bits + raw.STATISTICAL_SECURITY_BITS)
    width = public_key.ciphertext_width
    n = int(public_key.n)
    tasks = [
        (
            n,
            raw.to_fixed_bytes(sums[i : i + per_ciphertext], width),
            width,
            flood_bits,
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
    """Build the flooding tables in every worker ahead of the first reply."""
    bits = max(raw.DJN_EXPONENT_BITS, noise_bits + raw.STATISTICAL_SECURITY_BITS)
    args = (int(public_key.n), bits, (0, 0))
    raw.warm_up(*args)
    pool = parallel.process_pool()
    if pool is not None:
        pool.broadcast(raw.warm_up, args)
