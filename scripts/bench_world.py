"""Benchmark the world generator: wall time and peak memory of a whole run.

    python -m scripts.bench_world --subscribers 1000000

Runs `python -m scripts.generate_world` in a child process (no AUC report unless
--report), samples the resident memory of its whole process tree (parent + workers)
every 50 ms, and prints a final JSON line
`{"subscribers": N, "seconds": S, "peak_rss_mb": M}`; the same figures, with the
machine's load average, are written to bench_results/world_<N>.json. Summing RSS
over the tree counts pages the forked workers share with the parent more than once,
so the figure errs on the high side.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

_SAMPLE_SECONDS = 0.05


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def run(subscribers: int, out: Path, extra: list[str]) -> dict:
    command = [
        sys.executable, "-m", "scripts.generate_world",
        "--subscribers", str(subscribers), "--out", str(out), *extra,
    ]  # fmt: skip
    load_before = os.getloadavg()
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    handle = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        try:
            peak = max(peak, _tree_rss(handle))
        except psutil.NoSuchProcess:
            break
        time.sleep(_SAMPLE_SECONDS)
    seconds = time.perf_counter() - started
    output = child.stdout.read() if child.stdout else ""
    if child.returncode != 0:
        raise RuntimeError(f"generator failed with exit code {child.returncode}")
    return {
        "subscribers": subscribers,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak / 2**20, 1),
        "generator_seconds": json.loads(output.strip().splitlines()[-1])["seconds"],
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "command": " ".join(command[1:]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench_world")
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--banks", default="bank-a")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--format", dest="fmt", default="parquet")
    parser.add_argument("--report", action="store_true", help="include the AUC report")
    parser.add_argument("--out", type=Path, help="keep the world here (default: temp)")
    parser.add_argument("--results", type=Path, default=Path("bench_results"))
    ns = parser.parse_args(argv)
    extra = ["--seed", str(ns.seed), "--banks", ns.banks, "--format", ns.fmt]
    extra += ["--workers", str(ns.workers)]
    if not ns.report:
        extra.append("--no-report")
    scratch = Path(tempfile.mkdtemp(prefix="bench_world_")) if ns.out is None else None
    out = ns.out or scratch / "world"
    try:
        result = run(ns.subscribers, out, extra)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    ns.results.mkdir(parents=True, exist_ok=True)
    path = ns.results / f"world_{ns.subscribers}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result), file=sys.stderr)
    summary = {k: result[k] for k in ("subscribers", "seconds", "peak_rss_mb")}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
