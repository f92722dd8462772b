"""Benchmark the exact CKKS layer per ciphertext against today's TenSEAL path.

N = 8192, PRECISE, one process, same keys. Baseline: what the LR protocol does today
(TenSEAL encrypt / decrypt, `ckks.masked_bytes` with per-slot float masks, decrypt of
a masked vector). Ours: `ckks_exact` with the planned parameters (ciphertexts at 2^70,
weights at 2^19, products at 2^89 unrescaled, 157-bit coefficient masks). Prints a
table and one JSON line, writes bench_results/ckks_exact.json with the machine load;
timings are medians of interleaved repeats, in milliseconds per ciphertext.

    .venv/bin/python scripts/bench_ckks_exact.py [--repeats 9] [--clock cpu]

With --clock cpu the timings are this process's CPU time (time.process_time), which
other jobs on the shared cores skew much less than wall time.

The per-epoch estimate counts a default LR epoch (6 batches of ~3500 rows, 14 bank and
10 operator weights, 4 evaluation chunks) and adds up the per-ciphertext costs of
masking, decrypting and re-encrypting on both sides, old path against new; it leaves
out what the two paths share (products, harmonics, network).
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

from protocol.crypto.ckks import PRECISE, CkksContext, masked_bytes, secure_uniform
from protocol.crypto.ckks_exact import ExactCkks

RESULTS = Path(__file__).resolve().parent.parent / "bench_results" / "ckks_exact.json"
A, B, K = 70, 19, 157
PERIOD = 40.0
BATCHES, CHUNKS, BANK, OPERATOR = 6, 4, 14, 10


def load() -> float:
    return round(os.getloadavg()[0], 2)


def measure(
    cases: dict[str, Callable[[], Any]], repeats: int, clock: Callable[[], float]
) -> dict[str, float]:
    """Median milliseconds per call, cases interleaved so load drifts hit all."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            start = clock()
            fn()
            times[name].append(clock() - start)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args()

    load_before = load()
    owner_context = CkksContext.create(PRECISE, galois_keys=False)
    peer_context = CkksContext.from_bytes(owner_context.public_bytes())
    owner, peer = ExactCkks(owner_context), ExactCkks(peer_context)
    slots = PRECISE.slots
    rng = np.random.default_rng(0)
    e = rng.uniform(-1, 1, slots)
    x = np.clip(rng.normal(0, 4, (1, slots)), -32, 32)
    labels = (rng.uniform(size=slots) < 0.2).astype(float)

    # Today's path (TenSEAL, PRECISE scale, per-slot float masks)
    own_vector = owner_context.encrypt(e)
    old_vector = peer_context.vector_from_bytes(own_vector.to_bytes())
    old_product = old_vector.mul_plain(x[0])
    old_mask = secure_uniform(64 * 2.0**30, slots)
    old_blob = masked_bytes(old_product, old_mask, imaginary_bound=64 * 2.0**30)

    def old_decrypt() -> None:
        owner_context.decrypt(owner_context.vector_from_bytes(old_blob)).sum()

    # The exact path
    encrypted = peer.load(owner.dump(owner.encrypt(e, scale_bits=A)), scale_bits=A)
    value = peer.weighted_sum([encrypted], x, weight_scale_bits=B)
    masked, mask = peer.mask(value, bits=K, value_bound=64.0)
    wire = peer.dump(masked)
    uniform_wire = peer.dump(peer.mask_uniform(value)[0])
    received = owner.load(wire, scale_bits=A + B)
    polynomial = owner.decrypt_polynomial(received)

    def exact_logits() -> None:
        owner.decrypt_polynomial(owner.load(wire, scale_bits=A + B)).share_mod(PERIOD)

    def exact_sigmoid_owner() -> None:
        share = owner.add_values(owner.load(wire, scale_bits=A + B), -labels)
        residues = owner.decrypt_polynomial(share).shifted_residues(B)
        owner.dump(owner.encrypt_integers(residues, scale_bits=A))  # for the peer
        peer.encrypt_integers(residues, scale_bits=A)  # under the peer's key, kept

    def exact_sigmoid_masker() -> None:
        owner.dump(owner.encrypt_integers(mask.shifted_residues(B), scale_bits=A))

    costs = measure(
        {
            # baseline
            "tenseal_encrypt": lambda: owner_context.encrypt(e).to_bytes(),
            "tenseal_decrypt": lambda: owner_context.decrypt(own_vector),
            "tenseal_product": lambda: old_vector.mul_plain(x[0]),
            "old_mask": lambda: masked_bytes(
                old_product, old_mask, imaginary_bound=64 * 2.0**30
            ),
            "old_masked_decrypt": old_decrypt,
            # exact layer
            "exact_product": lambda: peer.weighted_sum(
                [encrypted], x, weight_scale_bits=B
            ),
            "mask": lambda: peer.dump(peer.mask(value, bits=K, value_bound=64.0)[0]),
            "mask_uniform": lambda: peer.dump(peer.mask_uniform(value)[0]),
            "decrypt_constant": lambda: owner.decrypt_constant(
                owner.load(wire, scale_bits=A + B)
            ),
            "decrypt_constant_uniform": lambda: owner.decrypt_constant(
                owner.load(uniform_wire, scale_bits=A + B)
            ),
            "decrypt_polynomial": lambda: owner.decrypt_polynomial(received),
            "slots_double_double": polynomial.slots,
            "mask_share_slots": lambda: mask.share_mod(PERIOD),
            "encrypt_constant": lambda: owner.dump(
                owner.encrypt_constant((1 << 140) + 12345, scale_bits=A)
            ),
            "logits_owner": exact_logits,
            "sigmoid_owner": exact_sigmoid_owner,
            "sigmoid_masker": exact_sigmoid_masker,
        },
        args.repeats,
        time.process_time if args.clock == "cpu" else time.perf_counter,
    )

    # Per epoch: the ciphertexts decrypted (and what each side does with them).
    grads, logits, sigmoids = (
        BATCHES * (BANK + OPERATOR),
        2 * (BATCHES + CHUNKS),
        BATCHES,
    )
    old = (
        grads * (costs["old_mask"] + costs["old_masked_decrypt"])
        + grads * costs["tenseal_encrypt"]  # masked steps sent back
        + logits * (costs["old_mask"] + costs["old_masked_decrypt"])
        + sigmoids * (costs["old_mask"] + costs["old_masked_decrypt"])
        + sigmoids * 3 * costs["tenseal_encrypt"]  # share twice, -u once
        + CHUNKS * (costs["old_mask"] + costs["old_masked_decrypt"])  # loss
    )
    new = (
        grads * (costs["mask"] + costs["decrypt_constant"])
        + grads * costs["encrypt_constant"]
        + logits * (costs["mask"] + costs["logits_owner"] + costs["mask_share_slots"])
        + sigmoids * (costs["mask"] + costs["sigmoid_owner"] + costs["sigmoid_masker"])
        + CHUNKS * (costs["mask_uniform"] + costs["decrypt_constant_uniform"])
    )
    report = {
        "machine": platform.platform(),
        "load_before": load_before,
        "preset": "PRECISE",
        "clock": args.clock,
        "ms_per_ciphertext": {k: round(v, 3) for k, v in costs.items()},
        "epoch_estimate_s": {
            "old_path": round(old / 1e3, 3),
            "exact_path": round(new / 1e3, 3),
            "delta": round((new - old) / 1e3, 3),
        },
        "load_after": load(),
    }
    width = max(len(k) for k in costs)
    for name, ms in costs.items():
        print(f"{name:<{width}}  {ms:8.2f} ms")
    print(
        f"per-epoch masking/decryption/re-encryption: old {old / 1e3:.2f} s, "
        f"exact {new / 1e3:.2f} s (delta {(new - old) / 1e3:+.2f} s), "
        f"load {report['load_after']}"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["epoch_estimate_s"] | {"load": report["load_after"]}))


if __name__ == "__main__":
    main()
