"""Benchmark: the joint credit model job vs scikit-learn on the joined data.

Starts an operator node and a bank node as processes over loopback mTLS, runs
`bank-node job run` on a FATE dataset (default_credit: bank = guest with y, operator =
host), then trains scikit-learn's LogisticRegression on the joined data with the same
aligned rows, the same stratified split and the same preprocessing, and compares. Also
checks the federated IV against the centralized computation, and measures the CKKS
alternative to the Paillier IV path in-process (why Paillier: see
protocol/binning/__init__.py).

    python -m scripts.bench_lr [--dataset default_credit] [--epochs 30]

Prints progress, writes bench_results/lr_<dataset>.json and prints a final JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from bank_node.job_runner import validation_mask
from bank_node.jobspec import SplitSection
from models.binning import BinningModel
from models.preprocess import FeaturePreprocessor
from models.woe import woe_iv_table
from protocol.crypto.ckks import PRECISE, CkksContext, secure_uniform
from protocol.hetero_lr.party import DEFAULT_CLIP
from protocol.psi.alignment import load_alignment
from scripts.fate_data import write_party_files
from scripts.local_nodes import LocalPair

ROOT = Path(__file__).resolve().parent.parent
MIN_BATCH_SIZE = 1024  # the operator's policy; also its minimum IV bin support


def pair_configs(files: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    operator = {
        "transport": {"max_message_mb": 64},
        "data": {
            "subscribers": {"path": str(files.operator), "numeric": ["o_*"]},
        },
        "counterparts": [
            {
                "party_id": "bank-a",
                "identity": "bank-a",
                "policy": {
                    "purposes": ["credit_risk"],
                    "features": ["o_*"],
                    "approval": "auto",
                    "min_batch_size": MIN_BATCH_SIZE,
                    # FATE's default_credit host features repeat: 24 training rows
                    # share all ten values, so a model gives them one score. The
                    # default (2) refuses that; this policy accepts that the bank
                    # could read the operator's score of such groups.
                    "max_rows_per_score": 32,
                },
            }
        ],
    }
    bank = {
        "transport": {"max_message_mb": 64},
        "data": {
            "customers": {"path": str(files.bank), "label": "y", "numeric": ["b_*"]},
        },
        "counterparts": [{"party_id": "operator", "identity": "operator"}],
    }
    return operator, bank


def baseline(
    work: Path, files: Any, summary: dict[str, Any], split: SplitSection
) -> dict[str, Any]:
    """scikit-learn on the joined data: same aligned rows, split and preprocessing."""
    alignment = load_alignment(work / "state-bank-a", summary["psi"]["alignment_id"])
    bank = pd.read_csv(files.bank, dtype={"phone": str})
    operator = pd.read_csv(files.operator, dtype={"phone": str})
    # The bank's labelled dataset rows in file order (all FATE rows are valid).
    aligned = bank.iloc[alignment.local_rows].reset_index(drop=True)
    joined = aligned.merge(operator, on="phone", how="left", validate="one_to_one")
    y = joined["y"].to_numpy(dtype=np.int64)
    validation = validation_mask(y, split, alignment.local_rows)
    train = ~validation
    blocks = []
    for columns in (files.bank_features, files.operator_features):
        frame = joined[columns]
        pre = FeaturePreprocessor.fit(
            frame[train], {c: "numeric" for c in columns}, clip=DEFAULT_CLIP
        )
        blocks.append(pre.transform(frame))
    x = np.hstack(blocks)
    started = time.perf_counter()
    model = LogisticRegression(max_iter=2000).fit(x[train], y[train])
    seconds = time.perf_counter() - started
    auc = roc_auc_score(y[validation], model.decision_function(x[validation]))
    # Centralized IV of the operator's features on the same training rows.
    op_frame = joined.loc[train, files.operator_features].reset_index(drop=True)
    # With the operator's minimum bin support (policy.min_bin_rows, default its
    # min_batch_size), which merges the same small bins in the job.
    binning = BinningModel.fit(
        op_frame, files.operator_features, n_bins=10, min_bin_rows=MIN_BATCH_SIZE
    )
    central = woe_iv_table(op_frame, y[train], binning=binning)
    return {
        "sklearn_auc": float(auc),
        "sklearn_seconds": seconds,
        "central_iv": {k: v.iv for k, v in central.items()},
    }


def ckks_iv_inprocess(labels: np.ndarray, bins: np.ndarray, n_bins: int) -> float:
    """Seconds for the CKKS alternative of the IV sums (both roles in one process):
    labels packed 4096 per ciphertext; per (feature, bin) a masked per-slot product
    the bank decrypts and sums."""
    started = time.perf_counter()
    bank = CkksContext.create(PRECISE, galois_keys=False)
    public = CkksContext.from_bytes(bank.public_bytes())
    enc = [public.vector_from_bytes(bank.encrypt(labels).to_bytes())]
    total = 0.0
    for f in range(bins.shape[1]):
        for b in range(n_bins):
            indicator = (bins[:, f] == b).astype(np.float64)
            masked = (
                enc[0]
                .mul_plain(indicator)
                .add_plain(secure_uniform(2.0**30, len(labels)))
            )
            total += bank.decrypt(bank.vector_from_bytes(masked.to_bytes())).sum()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="default_credit")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--learning-rate", type=float, default=0.5)
    parser.add_argument("--work", type=Path, help="keep files here (default: temp)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_lr_"))
    files = write_party_files(args.dataset, work / "data")
    operator, bank = pair_configs(files)
    split = SplitSection(validation_fraction=0.3, seed=42)
    job = {
        "job": {"name": f"bench-{args.dataset}", "purpose": "credit_risk"},
        "data": {"source": "customers"},
        "operator": {"features": ["o_*"]},
        "split": {"validation_fraction": split.validation_fraction, "seed": split.seed},
        "model": {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "learning_rate": args.learning_rate,
        },
        "report": {"output": str(work / "reports")},
    }
    (work / "job.toml").write_text(tomli_w.dumps(job))
    load = os.getloadavg()[0]
    print(f"[bench_lr] {args.dataset}: work dir {work}, load {load:.2f}", flush=True)
    with LocalPair(work, operator, bank) as pair:
        started = time.perf_counter()
        out = pair.run("bank-node", "job", "run", str(work / "job.toml"))
        wall = time.perf_counter() - started
        summary = json.loads(out.stdout)
        rss = {name: node.peak_rss for name, node in pair.nodes.items()}
    base = baseline(work, files, summary, split)
    report = json.loads((Path(summary["report"]).with_suffix(".json")).read_text())
    federated_iv = {row["feature"]: row["iv"] for row in report["operator_iv"]}
    iv_diff = max(abs(federated_iv[k] - v) for k, v in base["central_iv"].items())
    labels = np.random.default_rng(1).integers(0, 2, summary["rows"]["train"])
    fake_bins = np.random.default_rng(2).integers(0, 10, (len(labels), 10))
    result = {
        "dataset": args.dataset,
        "rows": summary["psi"]["intersection_size"],
        "train_rows": summary["rows"]["train"],
        "auc": summary["validation_auc"],
        "sklearn_auc": round(base["sklearn_auc"], 6),
        "auc_gap": round(base["sklearn_auc"] - summary["validation_auc"], 6),
        "seconds_per_epoch": summary["seconds_per_epoch"],
        # the validation AUC of every epoch (protocol.evaluation), per epoch
        "epoch_evaluation_seconds": summary["epoch_evaluation_seconds"],
        "score_stage_seconds": summary["timings"]["score"],
        "training_seconds": summary["timings"]["train"],
        "epochs_run": summary["epochs_run"],
        "best_epoch": summary["best_epoch"],
        "iv_seconds": summary["iv_seconds"],
        "iv_max_abs_diff_vs_central": iv_diff,
        "iv_ckks_alternative_seconds": round(
            ckks_iv_inprocess(labels.astype(float), fake_bins, 10), 3
        ),
        "psi_seconds": summary["timings"]["align"],
        "job_seconds": round(wall, 2),
        "sklearn_seconds": round(base["sklearn_seconds"], 3),
        "peak_rss_mb_bank": round(rss["bank"] / 2**20),
        "peak_rss_mb_operator": round(rss["operator"] / 2**20),
        "load_at_start": round(load, 2),
        "load_at_end": round(os.getloadavg()[0], 2),
    }
    out_dir = ROOT / "bench_results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"lr_{args.dataset}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
