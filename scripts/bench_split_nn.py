"""Benchmark: split NN over Flower's Deployment Engine vs the same network, centrally.

On ``default_credit`` (data/fate; bank = guest with the labels, operator = host), one
run starts a SuperLink (bank) and a SuperNode (operator) on loopback with TLS and
SuperNode authentication, trains the split network twice over them, with the label
defence off and on (the two runs are submitted together and share the deployment),
and trains the same architecture centrally in torch on the joined data with the same
split, epochs and schedule. The rows are aligned as after PSI (a shared random order;
PSI itself is benchmarked by bench_psi.py); Flower sees positions only.

    python -m scripts.bench_split_nn [--rounds 10] [--sequential]

Prints progress, writes bench_results/split_nn_<dataset>.json and prints a final JSON
line with the quality gap, the attacks' leak with and without the defence, and times.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from models.label_protection import DefenceSpec
from models.metrics import roc_auc
from models.split_nn import CentralModel, SplitNnSpec, TrainHyper
from node_core.certs import init_dev_pki
from protocol.split_nn.bank import BankData
from protocol.split_nn.deployment import BankFlower, OperatorFlower, RunOutcome
from protocol.split_nn.messages import SplitNnRun
from protocol.split_nn.party import OPERATOR_FEATURES_FILE
from protocol.split_nn.pki import issue_superlink_cert, public_key_pem
from scripts.fate_data import load_joined

ROOT = Path(__file__).resolve().parent.parent


def aligned_data(
    dataset: str, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(bank_x, operator_x, labels, validation mask) in a shared random row order."""
    guest, host = load_joined(dataset)
    joined = guest.merge(host, on="id", suffixes=("_bank", "_operator"))
    order = np.random.default_rng(seed).permutation(len(joined))
    joined = joined.iloc[order].reset_index(drop=True)
    bank_cols = [c for c in guest.columns if c.startswith("x")]
    op_cols = [c for c in host.columns if c.startswith("x")]
    bank_x = _columns(joined, bank_cols, "_bank")
    operator_x = _columns(joined, op_cols, "_operator")
    labels = joined["y"].to_numpy().astype(np.int64)
    _, val = train_test_split(
        np.arange(len(labels)), test_size=0.3, stratify=labels, random_state=42
    )
    validation = np.zeros(len(labels), dtype=bool)
    validation[val] = True
    return bank_x, operator_x, labels, validation


def _columns(frame: pd.DataFrame, names: list[str], suffix: str) -> np.ndarray:
    cols = [n + suffix if n + suffix in frame else n for n in names]
    return frame[cols].to_numpy(dtype=np.float32)


def central_auc(
    spec: SplitNnSpec,
    hyper: TrainHyper,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    seed: int,
) -> float:
    bank_x, operator_x, labels, validation = data
    train = ~validation
    model = CentralModel(spec, hyper, seed=seed, operator_seed=seed + 1)
    model.fit(
        torch.from_numpy(bank_x[train]),
        torch.from_numpy(operator_x[train]),
        torch.from_numpy(labels[train].astype(np.float32)),
        np.random.default_rng(seed),
    )
    scores = model.predict(
        torch.from_numpy(bank_x[validation]), torch.from_numpy(operator_x[validation])
    )
    return roc_auc(labels[validation], scores)


def prepare_job(
    work: Path,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    model_seed: int,
) -> tuple[str, Path]:
    """The operator's feature file and the bank's job data, as the nodes write them.

    Both jobs get the same bank-side model seed (and the operator the same one in
    the run config), so the defence-on and defence-off runs differ only by the
    defence and its noise: a paired comparison.
    """
    bank_x, operator_x, labels, validation = data
    job_id = uuid.uuid4().hex
    (work / "operator-data" / job_id).mkdir(parents=True)
    np.save(work / "operator-data" / job_id / OPERATOR_FEATURES_FILE, operator_x)
    bank_dir = work / "bank-jobs" / job_id
    BankData(bank_x, labels, validation, model_seed).save(bank_dir)
    return job_id, bank_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="default_credit")
    parser.add_argument("--rounds", type=int, default=TrainHyper().rounds)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--sequential", action="store_true", help="run the two trainings one by one"
    )
    args = parser.parse_args()
    # Same threading as the nodes' task processes (protocol/split_nn/runner.py).
    torch.set_num_threads(1)
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    hyper = TrainHyper(rounds=args.rounds)
    data = aligned_data(args.dataset, args.seed)
    spec = SplitNnSpec(
        bank_features=data[0].shape[1], operator_features=data[1].shape[1]
    )
    work = Path(tempfile.mkdtemp(prefix="bench_split_nn_"))
    print(
        f"[bench_split_nn] {args.dataset}: {len(data[2])} rows, bank"
        f" {spec.bank_features} / operator {spec.operator_features} features,"
        f" work dir {work}, load {load_start:.2f}",
        flush=True,
    )

    mark = time.perf_counter()
    central = central_auc(spec, hyper, data, args.seed)
    central_s = time.perf_counter() - mark
    print(f"[bench_split_nn] central torch AUC {central:.4f} ({central_s:.1f} s)")

    pki = init_dev_pki(work / "pki", ["operator", "bank-a"])
    # The SuperLink's certificate comes from the bank's own CA, which the operator
    # pins for the bank.
    bank_ca = pki["bank-a"].ca
    ca = bank_ca.cert
    superlink_cert = issue_superlink_cert(
        bank_ca, "bank-a", ["127.0.0.1"], work / "pki"
    )
    jobs = {
        name: prepare_job(work, data, args.seed) for name in ("undefended", "defended")
    }
    defences = {
        "undefended": DefenceSpec(kind="none"),
        "defended": DefenceSpec(),
    }
    mark = time.perf_counter()
    bank = BankFlower(work / "bank", superlink_cert.cert, superlink_cert.key, ca)
    operator: OperatorFlower | None = None
    outcomes: dict[str, RunOutcome] = {}
    errors: list[BaseException] = []
    try:
        bank.start()
        node_id = bank.register_supernode(
            public_key_pem(pki["operator"].party.cert), "operator"
        )
        operator = OperatorFlower(
            work / "operator",
            (bank.host, bank.port),
            ca,
            "bank-a",
            pki["operator"].party.key,
            work / "operator-data",
        )
        operator.start()
        startup_s = time.perf_counter() - mark
        print(f"[bench_split_nn] SuperLink + SuperNode up in {startup_s:.1f} s")
        flower_started = time.perf_counter()

        def train(name: str) -> None:
            job_id, bank_dir = jobs[name]
            run = SplitNnRun(
                job_id=job_id,
                spec=spec,
                hyper=hyper,
                defence=defences[name],
                seed=args.seed,
                operator_node_id=node_id,
                bank_job_dir=str(bank_dir),
                round_timeout_s=120.0,
            )
            run_id = bank.submit(run)

            def show(m: dict[str, Any]) -> None:
                print(
                    f"[bench_split_nn] {name} round {m['round']}/{m['rounds']}:"
                    f" validation AUC {m['validation_auc']:.4f}, leak norm"
                    f" {m['norm_leak']:.3f} direction {m['direction_leak']:.3f},"
                    f" {m['elapsed']:.1f} s",
                    flush=True,
                )

            try:
                outcomes[name] = bank.wait(run_id, bank_dir, 600.0, show)
            except BaseException as err:  # reported after both runs ended
                errors.append(err)

        if args.sequential:
            for name in jobs:
                train(name)
        else:
            threads = [threading.Thread(target=train, args=(n,)) for n in jobs]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        flower_s = time.perf_counter() - flower_started
    finally:
        if operator is not None:
            operator.stop()
        bank.stop()
    if errors:
        raise errors[0]

    plain = outcomes["undefended"].metrics
    defended = outcomes["defended"].metrics
    seconds = time.perf_counter() - started
    result = {
        "dataset": args.dataset,
        "rounds": hyper.rounds,
        "auc": plain["validation_auc"],
        "central_auc": central,
        "auc_gap": central - plain["validation_auc"],
        "seconds": seconds,
        "seconds_per_round": outcomes["undefended"].seconds / hyper.rounds,
        "norm_attack_auc_defended": defended["leak"]["norm_attack_auc"],
        "norm_attack_auc_undefended": plain["leak"]["norm_attack_auc"],
        "direction_attack_auc_defended": defended["leak"]["direction_attack_auc"],
        "direction_attack_auc_undefended": plain["leak"]["direction_attack_auc"],
        "defended_auc": defended["validation_auc"],
        "defence_cost": plain["validation_auc"] - defended["validation_auc"],
        "defence": vars(defences["defended"]),
        "spec": vars(spec),
        "hyper": vars(hyper),
        "runs_concurrent": not args.sequential,
        "flower_seconds": flower_s,
        "flower_startup_seconds": startup_s,
        "run_seconds": {k: v.seconds for k, v in outcomes.items()},
        "central_seconds": central_s,
        "round_trip_seconds_mean": float(
            np.mean([r["round_trip_seconds"] for r in plain["rounds"]])
        ),
        "norm_attack_auc_averaged_rounds_defended": defended["leak"][
            "norm_attack_auc_averaged_rounds"
        ],
        "leak_attack_batch_size": defended["leak"]["attack_batch_size"],
        "load_average_start": load_start,
        "load_average_end": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }
    out_dir = ROOT / "bench_results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"split_nn_{args.dataset}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
