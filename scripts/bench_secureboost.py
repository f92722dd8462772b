"""Benchmark: SecureBoost between two node processes over mTLS, XGBoost alongside.

Starts an operator node and a bank node as processes (scripts/local_nodes.py), runs
`bank-node job run` with a secureboost job, then trains XGBoost (tree_method="hist",
same rounds, depth, eta, lambda, bins, early stopping) on the joined data of the same
aligned rows and the same validation split, in the same run. Reports quality, time per
tree, each part's cost (encryption, the operator's histograms and packing, decryption,
the network: the bank's wall time inside operator calls minus the operator's time in
its handlers), CPU seconds of each node's process tree during training, peak RSS of
each node (and its RSS after the first and the last round: flat in the number of
trees) and the load average.

Runs (all of them by default; they make the README's table rows):
  default_credit   FATE's split (bank = guest, 13 features + y; operator = host, 10),
                   30 trees, depth 3, 32 bins, 2048-bit keys (FATE 2.2: 154 s/tree)
  default_credit_3072   the same with 3072-bit keys
  bank_full        UCI bank marketing as SecretFlow benchmarks it: 16 features split
                   8 + 8, duration in, up to 100 rounds, early stopping after 5
  wide             synthetic, FATE's benchmark shape: 100,000 rows, 30 bank + 300
                   operator features, depth 3, 32 bins, 3 trees

    python -m scripts.bench_secureboost                      # every run
    python -m scripts.bench_secureboost --run default_credit --trees 10

Prints progress and one JSON line per run, writes bench_results/secureboost_<run>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import tomli_w

from bank_node.job_runner import validation_mask
from bank_node.jobspec import SplitSection
from protocol.psi.alignment import load_alignment
from scripts.fate_data import phone_of, write_party_files
from scripts.local_nodes import BIN, LocalPair

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
BANK_MARKETING_BANK = ("age", "job", "marital", "education", "default", "balance",
                       "housing", "loan")  # fmt: skip
BANK_MARKETING_OPERATOR = ("contact", "day", "month", "duration", "campaign",
                           "pdays", "previous", "poutcome")  # fmt: skip


@dataclass(frozen=True)
class Run:
    name: str
    dataset: str
    trees: int
    key_bits: int = 2048
    early_stopping: int = 0
    baseline: str = ""  # the published figure it is compared with


RUNS = {
    "default_credit": Run("default_credit", "default_credit", 30,
                          baseline="FATE 2.2.0, 2 cores: 154 s per tree"),
    "default_credit_3072": Run("default_credit_3072", "default_credit", 30, 3072),
    "bank_full": Run("bank_full", "bank_full", 100, early_stopping=5,
                     baseline="SecretFlow SGB, 8 cores LAN, Okamoto-Uchiyama: 136 s"),
    "wide": Run("wide", "wide", 3,
                baseline="FATE 2.0: 131 s per tree on 2 x 16 cores, 1024-bit keys"
                " (about 4,200 core-seconds)"),
}  # fmt: skip


@dataclass
class PartyData:
    bank: Path
    operator: Path
    bank_features: list[str]
    operator_features: list[str]


def bank_marketing_files(out: Path, duration: bool = True) -> PartyData:
    """UCI bank marketing as two phone-keyed files, categoricals label-encoded
    (sorted categories), 8 + 8 features as SecretFlow splits them."""
    frame = pd.read_csv(DATA / "uci" / "bank_full.csv.gz", sep=";")
    for column in frame.columns:
        if frame[column].dtype.kind not in "if":
            frame[column] = frame[column].astype("category").cat.codes
    phone = phone_of(pd.Series(np.arange(len(frame))))
    operator_cols = [c for c in BANK_MARKETING_OPERATOR if duration or c != "duration"]
    bank = pd.DataFrame({"phone": phone, "y": frame["y"]})
    for c in BANK_MARKETING_BANK:
        bank[f"b_{c}"] = frame[c]
    operator = pd.DataFrame({"phone": phone})
    for c in operator_cols:
        operator[f"o_{c}"] = frame[c]
    return _write(out, bank, operator)


def wide_files(out: Path, rows: int, n_bank: int, n_operator: int) -> PartyData:
    """Synthetic data of FATE's benchmark shape: a logistic model over a few features
    of each party, the rest noise; 5% missing values in every tenth column."""
    rng = np.random.default_rng(2024)
    xb = rng.normal(size=(rows, n_bank)).astype(np.float32)
    xo = rng.normal(size=(rows, n_operator)).astype(np.float32)
    logit = xb[:, :5] @ rng.normal(size=5) + xo[:, :10] @ rng.normal(size=10) * 0.7
    y = (rng.random(rows) < 1 / (1 + np.exp(-(logit - 1.0)))).astype(np.int8)
    for x in (xb, xo):
        for j in range(0, x.shape[1], 10):
            x[rng.random(rows) < 0.05, j] = np.nan
    phone = phone_of(pd.Series(np.arange(rows)))
    bank = pd.DataFrame(xb, columns=[f"b_x{j}" for j in range(n_bank)])
    bank.insert(0, "y", y)
    bank.insert(0, "phone", phone)
    operator = pd.DataFrame(xo, columns=[f"o_x{j}" for j in range(n_operator)])
    operator.insert(0, "phone", phone)
    return _write(out, bank, operator, parquet=True)


def _write(
    out: Path, bank: pd.DataFrame, operator: pd.DataFrame, parquet: bool = False
) -> PartyData:
    out.mkdir(parents=True, exist_ok=True)
    suffix = "parquet" if parquet else "csv"
    paths = out / f"bank.{suffix}", out / f"operator.{suffix}"
    for frame, path in zip((bank, operator), paths, strict=True):
        if parquet:
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
    return PartyData(
        paths[0],
        paths[1],
        [c for c in bank.columns if c.startswith("b_")],
        [c for c in operator.columns if c.startswith("o_")],
    )


def party_data(dataset: str, out: Path, args: argparse.Namespace) -> PartyData:
    if dataset == "bank_full":
        return bank_marketing_files(out)
    if dataset == "wide":
        return wide_files(out, args.rows, args.bank_features, args.operator_features)
    files = write_party_files(dataset, out)
    return PartyData(files.bank, files.operator, files.bank_features,
                     files.operator_features)  # fmt: skip


def configs(data: PartyData, min_rows: int) -> tuple[dict[str, Any], dict[str, Any]]:
    operator = {
        "transport": {"max_message_mb": 64},
        "data": {"subscribers": {"path": str(data.operator), "numeric": ["o_*"]}},
        "counterparts": [
            {
                "party_id": "bank-a",
                "identity": "bank-a",
                "policy": {
                    "purposes": ["credit_risk"],
                    "features": ["o_*"],
                    "approval": "auto",
                    "min_batch_size": min_rows,
                    "max_rows": 2_000_000,
                },
            }
        ],
    }
    bank = {
        "transport": {"max_message_mb": 64},
        "data": {
            "customers": {"path": str(data.bank), "label": "y", "numeric": ["b_*"]}
        },
        "counterparts": [{"party_id": "operator", "identity": "operator"}],
    }
    return operator, bank


# ---- measuring the two process trees -------------------------------------------------
def tree_cpu(pid: int) -> float:
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def tree_rss(pid: int) -> int:
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


@dataclass
class Watch:
    """The job-run process's progress lines with CPU and RSS of both nodes at each."""

    bank_pid: int
    operator_pid: int
    marks: list[dict[str, Any]] = field(default_factory=list)
    peak: dict[str, int] = field(default_factory=lambda: {"bank": 0, "operator": 0})
    stop: threading.Event = field(default_factory=threading.Event)

    def mark(self, line: str) -> None:
        self.marks.append(
            {
                "t": time.perf_counter(),
                "line": line,
                "cpu_bank": tree_cpu(self.bank_pid),
                "cpu_operator": tree_cpu(self.operator_pid),
                "rss_bank": tree_rss(self.bank_pid),
                "rss_operator": tree_rss(self.operator_pid),
            }
        )

    def sample(self) -> None:
        while not self.stop.wait(0.25):
            for name, pid in (("bank", self.bank_pid), ("operator", self.operator_pid)):
                self.peak[name] = max(self.peak[name], tree_rss(pid))


def run_job(pair: LocalPair, job: Path) -> tuple[dict[str, Any], Watch]:
    command = [str(BIN / "bank-node"), "job", "run", str(job), "--config",
               str(pair.nodes["bank"].config)]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    watch = Watch(process.pid, pair.nodes["operator"].process.pid)
    sampler = threading.Thread(target=watch.sample, daemon=True)
    sampler.start()
    assert process.stderr is not None and process.stdout is not None
    for line in process.stderr:
        line = line.rstrip()
        print(line, file=sys.stderr, flush=True)
        if "secureboost:" in line or "round " in line:
            watch.mark(line)
    out = process.stdout.read()
    code = process.wait()
    watch.stop.set()
    if code != 0:
        raise RuntimeError(f"bank-node job run exited {code}")
    return json.loads(out), watch


def operator_detail(work: Path, job_id: str) -> dict[str, Any]:
    db = sqlite3.connect(work / "state-operator" / "state.sqlite3")
    try:
        row = db.execute(
            "SELECT detail FROM audit WHERE action = 'secureboost.finished'"
            " AND subject = ?",
            (job_id,),
        ).fetchone()
    finally:
        db.close()
    return json.loads(row[0]) if row else {}


# ---- XGBoost on the joined data ------------------------------------------------------
def xgboost_baseline(
    work: Path, data: PartyData, summary: dict[str, Any], args: argparse.Namespace,
    run: Run,
) -> dict[str, Any]:  # fmt: skip
    import xgboost as xgb

    from models.metrics import roc_auc

    alignment_id = summary["psi"]["alignment_id"]
    bank_rows = load_alignment(work / "state-bank-a", alignment_id).local_rows
    op_rows = load_alignment(work / "state-operator", alignment_id).local_rows
    read = pd.read_parquet if data.bank.suffix == ".parquet" else pd.read_csv
    bank, operator = read(data.bank), read(data.operator)
    y = bank["y"].to_numpy(dtype=np.int64)[bank_rows]
    validation = validation_mask(y, SplitSection(0.3, 42), bank_rows)
    used = summary["features"]
    x = np.hstack(
        [
            bank[used["bank"]].to_numpy(dtype=np.float64)[bank_rows],
            operator[used["operator"]].to_numpy(dtype=np.float64)[op_rows],
        ]
    )
    train = ~validation
    started = time.perf_counter()
    model = xgb.XGBClassifier(
        n_estimators=run.trees,
        max_depth=args.depth,
        learning_rate=args.eta,
        reg_lambda=args.reg_lambda,
        max_bin=args.bins,
        tree_method="hist",
        early_stopping_rounds=run.early_stopping or None,
        eval_metric="logloss",
        n_jobs=os.cpu_count(),
    )
    model.fit(x[train], y[train], eval_set=[(x[validation], y[validation])],
              verbose=False)  # fmt: skip
    seconds = time.perf_counter() - started
    auc = roc_auc(y[validation], model.predict_proba(x[validation])[:, 1])
    rounds = run.trees
    if run.early_stopping:
        rounds = int(model.best_iteration) + 1
    return {"xgb_auc": float(auc), "xgb_seconds": seconds, "xgb_trees": rounds}


def bench(run: Run, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    data = party_data(run.dataset, work / "data", args)
    operator, bank = configs(data, args.min_operator_rows)
    job = {
        "job": {"name": f"bench-{run.name}", "purpose": "credit_risk"},
        "data": {"source": "customers"},
        "operator": {"features": ["o_*"]},
        "split": {"validation_fraction": 0.3, "seed": 42},
        "model": {
            "type": "secureboost",
            "trees": run.trees,
            "max_depth": args.depth,
            "learning_rate": args.eta,
            "reg_lambda": args.reg_lambda,
            "max_bins": args.bins,
            "early_stopping_rounds": run.early_stopping,
            "min_operator_rows": args.min_operator_rows,
            "key_bits": run.key_bits,
        },
        "report": {"output": str(work / "reports")},
    }
    (work / "job.toml").write_text(tomli_w.dumps(job))
    load_before = os.getloadavg()
    print(f"[bench_secureboost] {run.name}: work dir {work}, load"
          f" {load_before[0]:.2f}", flush=True)  # fmt: skip
    with LocalPair(work, operator, bank) as pair:
        started = time.perf_counter()
        summary, watch = run_job(pair, work / "job.toml")
        job_seconds = time.perf_counter() - started
        peak_operator_node = pair.nodes["operator"].peak_rss
    load_after = os.getloadavg()
    training = summary["training"]
    detail = operator_detail(work, summary["job_id"])
    rounds = [mk for mk in watch.marks if mk["line"].startswith("[job] round ")]
    start = next(mk for mk in watch.marks if "secureboost:" in mk["line"])
    end = rounds[-1]
    cpu_bank = end["cpu_bank"] - start["cpu_bank"]
    cpu_operator = end["cpu_operator"] - start["cpu_operator"]
    n_rounds = training["rounds_run"]
    base = xgboost_baseline(work, data, summary, args, run)
    operator_busy = float(detail.get("busy_s", 0.0))
    result = {
        "run": run.name,
        "dataset": run.dataset,
        "trees": training["trees"],
        "rounds_run": n_rounds,
        "depth": args.depth,
        "bins": args.bins,
        "eta": args.eta,
        "reg_lambda": args.reg_lambda,
        "early_stopping_rounds": run.early_stopping,
        "min_operator_rows": args.min_operator_rows,
        "key_bits": run.key_bits,
        "train_rows": summary["rows"]["train"],
        "validation_rows": summary["rows"]["validation"],
        "bank_features": len(summary["features"]["bank"]),
        "operator_features": len(summary["features"]["operator"]),
        "auc": summary["validation_auc"],
        **{k: round(v, 6) if isinstance(v, float) else v for k, v in base.items()},
        "auc_gap": round(base["xgb_auc"] - summary["validation_auc"], 6),
        "seconds": round(training["train_s"], 3),
        "seconds_per_tree": round(training["train_s"] / max(n_rounds, 1), 3),
        "keygen_seconds": training.get("keygen_s"),
        "predict_seconds": training.get("predict_s"),
        "job_seconds": round(job_seconds, 2),
        "stage_seconds": summary["timings"],
        "cpu_seconds_bank": round(cpu_bank, 2),
        "cpu_seconds_operator": round(cpu_operator, 2),
        "core_seconds_per_tree": round((cpu_bank + cpu_operator) / max(n_rounds, 1), 3),
        "encrypt_seconds": training.get("encrypt_s", 0.0),
        "histogram_seconds": round(float(detail.get("histogram_s", 0.0)), 3),
        "pack_seconds": round(float(detail.get("pack_s", 0.0)), 3),
        "install_seconds": round(float(detail.get("install_s", 0.0)), 3),
        "decrypt_seconds": training.get("decrypt_s", 0.0),
        "bank_plaintext_seconds": round(
            training.get("bank_histograms_s", 0.0) + training.get("splits_s", 0.0), 3
        ),
        "operator_busy_seconds": round(operator_busy, 3),
        "network_seconds": round(training["operator_calls_s"] - operator_busy, 3),
        "multiplications": detail.get("multiplications"),
        "peak_rss_mb_bank": round(watch.peak["bank"] / 2**20),
        "peak_rss_mb_operator": round(
            max(watch.peak["operator"], peak_operator_node) / 2**20
        ),
        "rss_mb_after_first_round": {
            "bank": round(rounds[0]["rss_bank"] / 2**20),
            "operator": round(rounds[0]["rss_operator"] / 2**20),
        },
        "rss_mb_after_last_round": {
            "bank": round(end["rss_bank"] / 2**20),
            "operator": round(end["rss_operator"] / 2**20),
        },
        "rss_mb_by_round": {
            "bank": [round(mk["rss_bank"] / 2**20) for mk in rounds],
            "operator": [round(mk["rss_operator"] / 2**20) for mk in rounds],
        },
        "baseline": run.baseline,
        "cores": os.cpu_count(),
        "load_before": [round(v, 2) for v in load_before],
        "load_after": [round(v, 2) for v in load_after],
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", choices=(*RUNS, "all"), default="all")
    parser.add_argument("--trees", type=int, help="override the run's rounds")
    parser.add_argument("--key-bits", type=int, choices=(2048, 3072, 4096))
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--bins", type=int, default=32)
    parser.add_argument("--eta", type=float, default=0.3)
    parser.add_argument("--reg-lambda", type=float, default=1.0)
    parser.add_argument("--min-operator-rows", type=int, default=1024)
    parser.add_argument("--rows", type=int, default=100_000, help="wide: rows")
    parser.add_argument("--bank-features", type=int, default=30, help="wide")
    parser.add_argument("--operator-features", type=int, default=300, help="wide")
    parser.add_argument("--work", type=Path, help="keep files here (default: temp)")
    args = parser.parse_args(argv)
    names = list(RUNS) if args.run == "all" else [args.run]
    out_dir = ROOT / "bench_results"
    out_dir.mkdir(exist_ok=True)
    for name in names:
        run = RUNS[name]
        if args.trees:
            run = Run(run.name, run.dataset, args.trees, run.key_bits,
                      run.early_stopping, run.baseline)  # fmt: skip
        if args.key_bits:
            run = Run(run.name, run.dataset, run.trees, args.key_bits,
                      run.early_stopping, run.baseline)  # fmt: skip
        base = args.work or Path(tempfile.mkdtemp(prefix="bench_sbt_"))
        result = bench(run, args, base / name)
        (out_dir / f"secureboost_{name}.json").write_text(json.dumps(result, indent=2))
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
