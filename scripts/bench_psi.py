"""Benchmark the PSI: two node processes over loopback mutual TLS, against openmined-psi
and against the bare cost of its scalar multiplications, in one run on one machine.

    .venv/bin/python -m scripts.bench_psi --n 100000 [--mode intersection] [--workers 2]
        [--unbalanced] [--skip-openmined]

Sets of N numbers each with 50% overlap (random valid mainland mobile numbers; with
--operator-n M the operator holds M numbers, N / 2 of them shared). The
operator's set is a Parquet file declared as its PSI source; `operator-node serve` runs
as one process and `bank-node psi` as the other, each with its own process pool.
- seconds: the bank's session time, Open to Finish (data loading, process and pool
  start-up excluded on both sides; bank_wall_seconds includes them for the bank).
- openmined_seconds: openmined-psi 2.0.4 (P-256, one core, its own process) on the same
  sets: server setup + client request + server response + client intersection, with
  reveal_intersection=True and the RAW data structure (exact, like ours).
- limit_seconds: the 2 (N_bank + N_operator) X25519 multiplications this protocol needs,
  in a pool of 2 processes with no protocol around them (both nodes share the cores);
  run before and after the rest, the faster run is kept (conservative under load).
- peak_rss_mb_*: the highest summed RSS of each node's process tree (node + workers),
  polled every 0.1 s.
- wire_mb: stream payload bytes both ways (gRPC and TLS framing add well under 1%).
- cpu_seconds_*, limit_cpu_seconds, cpu_overhead_vs_limit: CPU time of each node's
  process tree during the session against the limit's; unlike wall time, robust to
  other jobs on the machine. openmined_cpu_seconds likewise.
- --unbalanced: two sessions in unbalanced mode; repeat_seconds is the second one,
  which reuses the operator's epoch set (work proportional to the bank's set only).
Writes bench_results/psi_<n>.json and prints one JSON line last. Other jobs may share
the cores: the 1-minute load average is recorded before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

from node_core.certs import ca_stem, init_dev_pki
from protocol.psi.group import BlindingKey
from protocol.psi.pool import PsiPool

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench_results"
BIN = Path(sys.executable).parent
PREFIXES = (130, 134, 135, 138, 139, 150, 158, 166, 177, 186, 188, 199)


def load() -> float:
    return round(os.getloadavg()[0], 2)


def make_sets(n: int, m: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Operator set of m and bank set of n numbers, n // 2 shared, as 11-digit str."""
    rng = np.random.default_rng(seed)
    total = m + (n - n // 2)
    numbers = np.empty(0, dtype=np.int64)
    while numbers.size < total:
        more = rng.choice(PREFIXES, total) * 10**8 + rng.integers(0, 10**8, total)
        numbers = np.unique(np.concatenate([numbers, more]))
    numbers = rng.permutation(numbers)[:total].astype(str)
    operator, bank = numbers[:m], numbers[m - n // 2 :]
    return operator, rng.permutation(bank)


class TreeRss:
    """Polls the summed RSS of a process and its children; keeps the maximum."""

    def __init__(self) -> None:
        self.peaks: dict[str, float] = {}
        self._pids: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def watch(self, name: str, pid: int) -> None:
        self._pids[name] = pid

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            for name, pid in list(self._pids.items()):
                try:
                    proc = psutil.Process(pid)
                    procs = [proc, *proc.children(recursive=True)]
                    rss = sum(p.memory_info().rss for p in procs if p.is_running())
                except psutil.Error:
                    continue
                self.peaks[name] = max(self.peaks.get(name, 0.0), rss / 2**20)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its live children."""
    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            times = p.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _toml_counterpart(party: str, address: str | None, n: int, pki: Path) -> str:
    lines = ["[[counterparts]]", f'party_id = "{party}"', f'identity = "{party}"']
    lines.append(f'ca = "{pki / (ca_stem(party) + ".pem")}"')
    if address:
        lines.append(f'address = "{address}"')
    lines += [
        "[counterparts.limits]",
        f"psi_max_set_size = {max(n, 100)}",
        f"psi_max_daily_numbers = {max(100 * n, 1000)}",
        "psi_allow_unbalanced = true",
        "max_transfer_mb = 4096",
        # Every session runs inside a PSI job, approved by this policy.
        "[counterparts.policy]",
        'purposes = ["benchmark"]',
        'psi_modes = ["intersection", "both", "cardinality"]',
        'approval = "auto"',
        f"max_rows = {max(n, 1000)}",
        "max_jobs_per_day = 1000",
    ]
    return "\n".join(lines)


def write_config(
    path: Path, party: str, role: str, pki: Path, body: str, workers: int
) -> Path:
    path.write_text(
        f'party_id = "{party}"\nrole = "{role}"\nlisten = "127.0.0.1:0"\n'
        f'state_dir = "state-{party}"\n'
        f'[tls]\ncert = "{pki / (party + ".pem")}"\n'
        f'key = "{pki / (party + ".key")}"\n'
        '[log]\nformat = "json"\n[transport]\nstream_deadline_s = 7200\n'
        f"[psi]\nworkers = {workers}\n{body}\n"
    )
    return path


def start_operator(work: Path, pki: Path, n: int, workers: int) -> subprocess.Popen:
    body = (
        'source = "subscribers"\n[data.subscribers]\n'
        f'path = "{work / "operator.parquet"}"\n'
        + _toml_counterpart("bank-a", None, n, pki)
    )
    config = write_config(
        work / "operator.toml", "operator", "operator", pki, body, workers
    )
    log = (work / "operator.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "operator-node"), "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    state = work / "state-operator"
    deadline = time.time() + 600
    # Ready = serving and its PSI data loaded (loading is not part of a session).
    while True:
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError((work / "operator.log").read_text())
        if (state / "node.json").exists() and _data_loaded(state):
            return proc
        time.sleep(0.2)


def _data_loaded(state: Path) -> bool:
    try:
        with sqlite3.connect(f"file:{state / 'state.sqlite3'}?mode=ro", uri=True) as db:
            row = db.execute(
                "SELECT count(*) FROM audit WHERE action = 'psi.data.loaded'"
            ).fetchone()
    except sqlite3.Error:
        return False
    return bool(row and row[0])


def run_bank(
    work: Path, pki: Path, n: int, workers: int, mode: str, rss: TreeRss, *extra: str
) -> tuple[dict[str, Any], float]:
    runtime = json.loads((work / "state-operator" / "node.json").read_text())
    body = _toml_counterpart("operator", runtime["address"], n, pki)
    config = write_config(work / "bank.toml", "bank-a", "bank", pki, body, workers)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            str(BIN / "bank-node"),
            "psi",
            "--config",
            str(config),
            "--input",
            str(work / "bank.parquet"),
            "--mode",
            mode,
            "--purpose",
            "benchmark",
            "--output",
            str(work / "out"),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=(work / "bank.log").open("w"),
        text=True,
    )
    rss.watch("bank", proc.pid)
    out, _ = proc.communicate()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError((work / "bank.log").read_text())
    return json.loads(out), wall


def run_openmined(work: Path) -> dict[str, Any]:
    """openmined-psi in a fresh process (its memory and time apart from ours)."""
    code = f"""
import json, time
import pandas as pd
import private_set_intersection.python as psi
server_items = pd.read_parquet({str(work / "operator.parquet")!r})["phone"].tolist()
client_items = pd.read_parquet({str(work / "bank.parquet")!r})["phone"].tolist()
start, cpu = time.perf_counter(), time.process_time()
server = psi.server.CreateWithNewKey(True)
client = psi.client.CreateWithNewKey(True)
setup = server.CreateSetupMessage(
    1e-9, len(client_items), server_items, psi.DataStructure.RAW
)
request = client.CreateRequest(client_items)
response = server.ProcessRequest(request)
found = client.GetIntersection(setup, response)
print(json.dumps({{
    "seconds": time.perf_counter() - start,
    "cpu_seconds": time.process_time() - cpu,
    "size": len(found),
}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_limit(n_bank: int, n_operator: int, workers: int) -> tuple[float, float]:
    """Wall and CPU time of all the protocol's scalar multiplications, nothing else."""
    total = 2 * (n_bank + n_operator)
    pool = PsiPool(workers)
    pool.warm_up()
    key = BlindingKey.generate()
    # Valid inputs: blinded values, as the protocol multiplies (random u would do too).
    items = pool.multiply(key, np.random.default_rng(1).bytes(32 * 4096)).result()
    batch_count, rest = divmod(total, 4096)
    cpu = sum(tree_cpu(pid) for pid in pool.worker_pids())
    start = time.perf_counter()
    futures = [pool.multiply(key, items) for _ in range(batch_count)]
    if rest:
        futures.append(pool.multiply(key, items[: 32 * rest]))
    for f in futures:
        f.result()
    seconds = time.perf_counter() - start
    cpu = sum(tree_cpu(pid) for pid in pool.worker_pids()) - cpu
    pool.shutdown()
    return seconds, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--mode", default="intersection")
    parser.add_argument(
        "--operator-n", type=int, help="operator set size (default: --n)"
    )
    parser.add_argument("--workers", type=int, default=2, help="pool size per node")
    parser.add_argument("--skip-openmined", action="store_true")
    parser.add_argument(
        "--unbalanced",
        action="store_true",
        help="two sessions in unbalanced mode: the second one reuses the epoch set",
    )
    args = parser.parse_args(argv)
    n = args.n
    m = args.operator_n or n
    load_before = load()
    limits = [run_limit(n, m, args.workers)]
    extra = ("--unbalanced",) if args.unbalanced else ()
    with tempfile.TemporaryDirectory(prefix="bench-psi-") as tmp:
        work = Path(tmp)
        pki = work / "pki"
        init_dev_pki(pki, ["operator", "bank-a"])
        operator, bank = make_sets(n, m)
        pd.DataFrame({"phone": operator}).to_parquet(work / "operator.parquet")
        pd.DataFrame({"phone": bank}).to_parquet(work / "bank.parquet")
        del operator, bank
        rss = TreeRss()
        op_proc = start_operator(work, pki, max(n, m), args.workers)
        rss.watch("operator", op_proc.pid)
        try:
            op_cpu = tree_cpu(op_proc.pid)
            summary, bank_wall = run_bank(
                work, pki, n, args.workers, args.mode, rss, *extra
            )
            op_cpu = tree_cpu(op_proc.pid) - op_cpu
            repeat = None
            if args.unbalanced:
                repeat, _ = run_bank(work, pki, n, args.workers, args.mode, rss, *extra)
        finally:
            op_proc.send_signal(signal.SIGTERM)
            op_proc.wait(120)
            rss.stop()
        openmined = None if args.skip_openmined else run_openmined(work)
    limits.append(run_limit(n, m, args.workers))
    # Other jobs may share the cores: the faster limit run is the conservative one.
    limit, limit_cpu = min(limits)
    seconds = summary["timings_s"]["session"]
    bank_cpu = summary["timings_s"]["session_cpu"]
    result: dict[str, Any] = {
        "n": n,
        "operator_n": m,
        "mode": args.mode,
        "unbalanced": args.unbalanced,
        "seconds": seconds,
        "openmined_seconds": openmined and round(openmined["seconds"], 3),
        "speedup_vs_openmined": openmined and round(openmined["seconds"] / seconds, 2),
        "limit_seconds": round(limit, 3),
        "overhead_vs_limit": round(seconds / limit, 3),
        "peak_rss_mb_bank": round(rss.peaks.get("bank", 0.0), 1),
        "peak_rss_mb_operator": round(rss.peaks.get("operator", 0.0), 1),
        "wire_mb": round(summary["payload_bytes"] / 2**20, 1),
        "intersection_size": summary["intersection_size"],
        "openmined_intersection_size": openmined and openmined["size"],
        # CPU seconds are robust to other jobs sharing the cores, wall time is not.
        "cpu_seconds_bank": round(bank_cpu, 2),
        "cpu_seconds_operator": round(op_cpu, 2),
        "limit_cpu_seconds": round(limit_cpu, 2),
        "cpu_overhead_vs_limit": round((bank_cpu + op_cpu) / limit_cpu, 3),
        "openmined_cpu_seconds": openmined and round(openmined["cpu_seconds"], 2),
        "limit_runs_seconds": [round(x, 3) for x, _ in limits],
        "bank_wall_seconds": round(bank_wall, 3),
        "bank_timings_s": summary["timings_s"],
        "workers_per_node": args.workers,
        "cpu_count": os.cpu_count(),
        "load_before": load_before,
        "load_after": load(),
    }
    if repeat is not None:
        result["repeat_seconds"] = repeat["timings_s"]["session"]
        result["repeat_cpu_seconds_bank"] = repeat["timings_s"]["session_cpu"]
    RESULTS.mkdir(exist_ok=True)
    suffix = "" if m == n else f"_op{m}"
    suffix += "_unbalanced" if args.unbalanced else ""
    (RESULTS / f"psi_{n}{suffix}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
