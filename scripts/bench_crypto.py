"""Benchmark our Paillier and CKKS layers side by side with phe and raw TenSEAL.

Same process, same machine, 2048- and 3072-bit keys. phe runs on one core through its
own API (`pub.encrypt(x)`, `priv.decrypt(c)`, `c1 + c2`); ours runs on all cores through
protocol.crypto. Prints one JSON line per key size at the end and writes everything to
bench_results/crypto.json. Timings drift with machine load, which is recorded with each
result; compare ratios, not absolute rates.

    .venv/bin/python scripts/bench_crypto.py [--bits 2048 3072] [--quick] [--workers N]

Definitions (per second, wall clock):
- encrypt: public-key encryptions of int64 values (ours: DJN + tables, all cores).
- owner_encrypt: the key owner's CRT encryption (ours) against phe's pub.encrypt.
- decrypt_values: decrypted values with packing (40-bit values, headroom for 2^16
  summands: 35 slots per 2048-bit plaintext) against phe's priv.decrypt per value.
- add: ciphertext additions. phe: `acc = acc + c` over EncryptedNumbers of standard-
  normal floats (the histogram pattern; phe aligns exponents) and, separately, `c1 + c2`
  on ints. Ours: per-bin sums of unpacked ciphertexts (sum_groups, all cores);
  add_values counts packed slot additions (elementwise add of packed vectors).
- ckks_dot_overhead: our CkksVector.dot time / TenSEAL CKKSVector.dot time - 1 on the
  same encrypted vector and weights (4096 slots, FAST preset); best of interleaved runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import phe
import tenseal as ts

from protocol.crypto import paillier as he
from protocol.crypto import parallel
from protocol.crypto.ckks import FAST, CkksContext
from protocol.crypto.fixedpoint import PackingSpec
from protocol.crypto.paillier_keys import PaillierPrivateKey, generate_keypair

RESULTS = Path(__file__).resolve().parent.parent / "bench_results" / "crypto.json"

# Wall clock by default. With --workers 1 everything runs in this process, so CPU time
# (time.process_time) gives per-core ratios that other jobs on the machine cannot skew.
clock = time.perf_counter


def load() -> float:
    """1-minute load average (other jobs share these cores)."""
    return round(os.getloadavg()[0], 2)


def rate(count: int, fn: Callable[[], Any], repeats: int = 3) -> float:
    """Operations per second: count / median wall time of `repeats` runs."""
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return count / statistics.median(times)


def bench_phe(bits: int, n_ops: int, private: PaillierPrivateKey) -> dict[str, float]:
    """phe on one core, through its own API."""
    pub, priv = private.public_key.to_phe(), private.to_phe()
    rng = np.random.default_rng(0)
    ints = rng.integers(-(2**40), 2**40, n_ops).tolist()
    floats = rng.standard_normal(n_ops).tolist()

    encrypted: list[phe.EncryptedNumber] = []
    start = clock()
    encrypted = [pub.encrypt(x) for x in ints]
    encrypt_per_s = n_ops / (clock() - start)

    start = clock()
    _ = [priv.decrypt(c) for c in encrypted]
    decrypt_per_s = n_ops / (clock() - start)

    float_cts = [pub.encrypt(x) for x in floats]
    n_adds = 20 * n_ops

    def accumulate() -> None:
        acc = float_cts[0]
        for i in range(n_adds):
            acc = acc + float_cts[i % n_ops]

    def pairwise() -> None:
        for i in range(n_adds):
            _ = encrypted[i % n_ops] + encrypted[(7 * i + 3) % n_ops]

    return {
        "phe_encrypt_per_s": encrypt_per_s,
        "phe_decrypt_per_s": decrypt_per_s,
        "phe_add_per_s": rate(n_adds, accumulate, repeats=1),
        "phe_int_add_per_s": rate(n_adds, pairwise, repeats=1),
    }


def bench_ours(bits: int, n_ops: int, private: PaillierPrivateKey) -> dict[str, Any]:
    """protocol.crypto on all cores."""
    public = private.public_key
    rng = np.random.default_rng(1)
    ints = rng.integers(-(2**40), 2**40, n_ops)

    start = time.perf_counter()
    he.warm_up(public, rerandomize_bits=360)
    he.warm_up(private)
    warm_up_s = time.perf_counter() - start

    encrypt_per_s = rate(n_ops, lambda: he.encrypt_vector(public, ints))
    owner_per_s = rate(n_ops, lambda: he.owner_encrypt_vector(private, ints))

    spec = PackingSpec.for_key(bits, value_bits=40, max_summands=2**16)
    packed_values = rng.integers(-(2**40) + 1, 2**40, spec.n_slots * (n_ops // 8))
    packed = he.owner_encrypt_vector(private, packed_values, packing=spec)
    decrypt_values_per_s = rate(
        len(packed_values), lambda: he.decrypt_packed(private, packed)
    )
    unpacked = he.owner_encrypt_vector(private, ints[: n_ops // 4])
    decrypt_cts_per_s = rate(n_ops // 4, lambda: he.decrypt_ints(private, unpacked))

    rows = he.owner_encrypt_vector(private, ints)
    bins = rng.integers(0, 32, n_ops)
    add_per_s = rate(n_ops, lambda: he.sum_groups(rows, bins, 32), repeats=5)
    elementwise_per_s = rate(n_ops, lambda: he.add(rows, rows), repeats=5)
    add_values_per_s = rate(len(packed_values), lambda: he.add(packed, packed), 5)

    sums = he.sum_groups(rows, bins, 32)
    rerandomize_per_s = rate(32, lambda: he.rerandomize(sums))
    return {
        "workers": parallel.worker_count(),
        "table_warm_up_s": warm_up_s,
        "encrypt_per_s": encrypt_per_s,
        "owner_encrypt_per_s": owner_per_s,
        "packing": {"value_bits": 40, "max_summands": 2**16, "slots": spec.n_slots},
        "decrypt_values_per_s": decrypt_values_per_s,
        "decrypt_ciphertexts_per_s": decrypt_cts_per_s,
        "add_per_s": add_per_s,
        "elementwise_add_per_s": elementwise_per_s,
        "add_values_per_s": add_values_per_s,
        "rerandomize_per_s": rerandomize_per_s,
    }


def bench_ckks_dot(repeats: int) -> dict[str, float]:
    """Our CkksVector.dot against TenSEAL's CKKSVector.dot on the same data."""
    context = CkksContext.create(FAST)
    rng = np.random.default_rng(2)
    x, w = rng.uniform(-1, 1, FAST.slots), rng.uniform(-1, 1, FAST.slots)
    ours = context.encrypt(x)
    direct = ours.chunks[0]
    w_list = w.tolist()  # TenSEAL takes lists; the direct caller converts once
    direct_times, our_times = [], []
    for _ in range(repeats):  # interleaved, so load spikes hit both sides alike
        start = time.perf_counter()
        direct.dot(w_list)
        direct_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        ours.dot(w)
        our_times.append(time.perf_counter() - start)
    check = ts.ckks_vector(context.tenseal_context, [1.0]).decrypt()[0]
    assert abs(check - 1.0) < 1e-6
    return {
        "ckks_dot_direct_s": min(direct_times),
        "ckks_dot_ours_s": min(our_times),
        "ckks_dot_overhead": min(our_times) / min(direct_times) - 1,
        "ckks_dot_overhead_median": statistics.median(our_times)
        / statistics.median(direct_times)
        - 1,
    }


def summary(bits: int, phe_r: dict[str, float], ours: dict[str, Any]) -> dict[str, Any]:
    """The headline line for one key size."""
    return {
        "bits": bits,
        "encrypt_per_s": round(ours["encrypt_per_s"]),
        "phe_encrypt_per_s": round(phe_r["phe_encrypt_per_s"], 1),
        "encrypt_ratio": round(ours["encrypt_per_s"] / phe_r["phe_encrypt_per_s"], 1),
        "owner_encrypt_per_s": round(ours["owner_encrypt_per_s"]),
        "owner_encrypt_ratio": round(
            ours["owner_encrypt_per_s"] / phe_r["phe_encrypt_per_s"], 1
        ),
        "decrypt_values_per_s": round(ours["decrypt_values_per_s"]),
        "phe_decrypt_per_s": round(phe_r["phe_decrypt_per_s"], 1),
        "decrypt_ratio": round(
            ours["decrypt_values_per_s"] / phe_r["phe_decrypt_per_s"], 1
        ),
        "decrypt_ciphertext_ratio": round(
            ours["decrypt_ciphertexts_per_s"] / phe_r["phe_decrypt_per_s"], 2
        ),
        "add_per_s": round(ours["add_per_s"]),
        "phe_add_per_s": round(phe_r["phe_add_per_s"]),
        "add_ratio": round(ours["add_per_s"] / phe_r["phe_add_per_s"], 1),
        "add_values_ratio": round(ours["add_values_per_s"] / phe_r["phe_add_per_s"], 1),
        "add_ratio_vs_phe_int": round(
            ours["add_per_s"] / phe_r["phe_int_add_per_s"], 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", type=int, nargs="+", default=[2048, 3072])
    parser.add_argument("--quick", action="store_true", help="fewer operations")
    parser.add_argument(
        "--workers", type=int, default=0, help="cores for ours (default: all)"
    )
    args = parser.parse_args()
    global clock
    if args.workers:
        parallel.set_worker_count(args.workers)
        if args.workers == 1:
            clock = time.process_time
    scale = 4 if args.quick else 1

    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "phe": phe.__version__,
            "tenseal": ts.__version__,
        },
        "clock": "cpu" if clock is time.process_time else "wall",
        "results": [],
    }
    load_before = load()
    ckks = bench_ckks_dot(repeats=30 // scale)
    ckks["load_avg_1m"] = load_before
    report["ckks"] = ckks
    lines = []
    for bits in args.bits:
        n_phe = (120 if bits <= 2048 else 50) // scale
        n_ours = (8000 if bits <= 2048 else 4000) // scale
        start_load = load()
        _, private = generate_keypair(bits)
        phe_r = bench_phe(bits, n_phe, private)
        ours = bench_ours(bits, n_ours, private)
        line = summary(bits, phe_r, ours)
        line["ckks_dot_overhead"] = round(ckks["ckks_dot_overhead"], 3)
        line["load_avg_1m"] = [start_load, load()]
        line["workers"] = parallel.worker_count()
        report["results"].append({"summary": line, "phe": phe_r, "ours": ours})
        lines.append(line)
    parallel.shutdown()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    for line in lines:
        print(json.dumps(line))


if __name__ == "__main__":
    main()
