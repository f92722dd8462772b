"""Benchmark: real-time scoring of one applicant with a joint logistic regression.

Starts an operator node and a bank node (scoring API enabled) as processes over
loopback mTLS, trains a joint LR on a FATE dataset (`bank-node job run`), signs
consents for aligned applicants, then drives load from a separate process:

- latency: `--requests` sequential `POST /v1/scores` on one keep-alive HTTP
  connection (p50, p99);
- baseline, same run: the plaintext-partials exchange alone (what FATE-Serving does
  for a linear model: the operator's partial score for one id, in clear), i.e. the
  Scoring gRPC call straight to the operator over the same kind of warm mTLS channel,
  with no bank-side work and no HTTP (plaintext p50). For a linear model our protocol
  *is* a plaintext-partials exchange (protocol/scoring/__init__.py says why), so the
  gap between the two is what the bank's API, its part of the model and both audit
  entries cost;
- throughput: `--batch` requests from `--concurrency` threads (applicants per second).

Bounded in count and time (`--max-seconds`), loopback only. Prints progress, writes
bench_results/scoring_<dataset>.json and prints a final JSON line with `model`,
`p50_ms`, `p99_ms`, `plaintext_p50_ms`, `batch_per_s`, `requests`.

    python -m scripts.bench_scoring [--dataset default_credit] [--requests 1000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "bench-scorer-key"
PHONES = 100  # consented applicants; each consent allows MAX_USES queries
PURPOSE = "credit_risk"


def _percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values), q)), 3)


# ---- the load process ------------------------------------------------------------
def load_main(plan_path: Path) -> int:
    """Run in a separate process: read the plan, drive the load, print results."""
    import httpx

    from node_core.config import load_config
    from node_core.node import NodeContext
    from protocol.ids import new_hex_id
    from protocol.scoring import consent as c
    from protocol.scoring.messages import ScoreQuery, ScoreStatus
    from protocol.scoring.service import ScoringClient

    plan = json.loads(plan_path.read_text())
    deadline = time.monotonic() + plan["max_seconds"]
    headers = {"Authorization": f"Bearer {API_KEY}"}
    bodies = plan["bodies"]
    url = plan["url"] + "/v1/scores"

    def body(i: int) -> dict[str, Any]:
        return bodies[i % len(bodies)]

    latencies: list[float] = []
    with httpx.Client(headers=headers, timeout=10.0) as http:
        for _ in range(20):  # warm-up: connections, caches
            http.post(url, json=body(0)).raise_for_status()
        for i in range(plan["requests"]):
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            reply = http.post(url, json=body(i))
            latencies.append((time.perf_counter() - started) * 1000)
            reply.raise_for_status()
            if i == 0:
                print(f"[load] first reply {reply.json()}", flush=True)

    # Baseline: the operator's partial alone, over a warm mTLS channel.
    ctx = NodeContext.open(load_config(Path(plan["bank_config"])))
    key = c.load_or_create_signing_key(Path(plan["signing_key"]))
    client = ScoringClient(ctx.channel("operator"), 10.0)
    now = int(time.time())
    proofs = [
        c.sign_consent(
            c.ConsentRecord(
                new_hex_id(), phone, PURPOSE, (c.SCORING_SCOPE,), now - 5,
                now + 3600, "bank-a", "0" * 64, c.MAX_USES,
            ),
            key,
        )
        for phone in plan["phones"][:10]
    ]  # fmt: skip
    plain: list[float] = []
    for i in range(20 + plan["requests"]):
        if time.monotonic() > deadline:
            break
        query = ScoreQuery(new_hex_id(), plan["job_id"], proofs[i % len(proofs)])
        started = time.perf_counter()
        answer = client.score(query)
        if i >= 20:
            plain.append((time.perf_counter() - started) * 1000)
        assert answer.status is ScoreStatus.OK

    # Throughput: concurrent callers, one keep-alive client each.
    local = threading.local()

    def one(i: int) -> None:
        if not hasattr(local, "http"):
            local.http = httpx.Client(headers=headers, timeout=10.0)
        local.http.post(url, json=body(i)).raise_for_status()

    started = time.perf_counter()
    done = 0
    with ThreadPoolExecutor(plan["concurrency"]) as pool:
        for _ in pool.map(one, range(plan["batch"])):
            done += 1
    batch_s = time.perf_counter() - started
    print(
        json.dumps(
            {
                "latencies_ms": latencies,
                "plaintext_ms": plain,
                "batch": done,
                "batch_s": batch_s,
            }
        ),
        flush=True,
    )
    return 0


# ---- the harness -----------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="default_credit")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--work", type=Path, help="keep files here (default: temp)")
    parser.add_argument("--load-plan", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_plan is not None:
        return load_main(args.load_plan)

    from bank_node.consents import SIGNING_KEY_FILE, BankConsents
    from node_core.store import SqliteStateStore
    from protocol.scoring import consent as c
    from scripts.bench_lr import pair_configs
    from scripts.fate_data import write_party_files
    from scripts.local_nodes import LocalPair

    work = args.work or Path(tempfile.mkdtemp(prefix="bench_scoring_"))
    files = write_party_files(args.dataset, work / "data")
    signing_key = work / "state-bank-a" / SIGNING_KEY_FILE
    key = c.load_or_create_signing_key(signing_key)
    (work / "bank-a-consent.pem").write_bytes(c.public_key_pem(key))
    operator, bank = pair_configs(files)
    cp = operator["counterparts"][0]
    cp["consent_key"] = str(work / "bank-a-consent.pem")
    cp["limits"] = {"scoring_per_second": 100_000.0, "scoring_daily": 10_000_000}
    bank["scoring"] = {
        "enabled": True,
        "listen": "127.0.0.1:0",
        "api_keys": [
            {
                "name": "bench",
                "role": "scorer",
                "sha256": hashlib.sha256(API_KEY.encode()).hexdigest(),
            }
        ],
    }
    job = {
        "job": {"name": f"scoring-{args.dataset}", "purpose": PURPOSE},
        "data": {"source": "customers"},
        "operator": {"features": ["o_*"]},
        "model": {"epochs": args.epochs, "batch_size": 4096, "epoch_auc": False},
        "report": {"output": str(work / "reports")},
    }
    (work / "job.toml").write_text(tomli_w.dumps(job))
    load = os.getloadavg()[0]
    print(f"[bench_scoring] {args.dataset}: work dir {work}, load {load:.2f}")
    with LocalPair(work, operator, bank) as pair:
        out = pair.run("bank-node", "job", "run", str(work / "job.toml"))
        summary = json.loads(out.stdout)
        print(f"[bench_scoring] trained: validation AUC {summary['validation_auc']}")
        bank_frame = pd.read_csv(files.bank, dtype={"phone": str})
        op_phones = set(pd.read_csv(files.operator, dtype={"phone": str}).phone)
        aligned = bank_frame[bank_frame.phone.isin(op_phones)].head(PHONES)
        state = work / "state-bank-a"
        store = SqliteStateStore(state, "bank-a")
        consents = BankConsents(state, store, "bank-a")
        bodies = []
        for _, row in aligned.iterrows():
            proof = consents.issue(
                phone=row.phone, purpose=PURPOSE, scope=(c.SCORING_SCOPE,),
                document=b"bench authorization", now=int(time.time()) - 5,
                valid_s=3600, max_uses=c.MAX_USES,
            )  # fmt: skip
            features = {
                f: (None if pd.isna(row[f]) else float(row[f]))
                for f in files.bank_features
            }
            bodies.append(
                {
                    "model": job["job"]["name"],
                    "phone": row.phone,
                    "consent": proof.record.consent_id,
                    "bank_features": features,
                }
            )
        store.close()
        runtime = json.loads((state / "scoring.json").read_text())
        plan = {
            "url": f"http://{runtime['address']}",
            "bodies": bodies,
            "phones": list(aligned.phone),
            "job_id": summary["job_id"],
            "bank_config": str(pair.nodes["bank"].config),
            "signing_key": str(signing_key),
            "requests": args.requests,
            "batch": args.batch,
            "concurrency": args.concurrency,
            "max_seconds": args.max_seconds,
        }
        plan_path = work / "load_plan.json"
        plan_path.write_text(json.dumps(plan))
        loaded = subprocess.run(
            [sys.executable, "-m", "scripts.bench_scoring", "--load-plan",
             str(plan_path)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True,
            timeout=args.max_seconds + 120,
        )  # fmt: skip
        measured = json.loads(loaded.stdout.strip().splitlines()[-1])
        rss = {name: node.peak_rss for name, node in pair.nodes.items()}
    latencies = measured["latencies_ms"]
    result = {
        "model": "hetero_lr",
        "dataset": args.dataset,
        "trees": None,
        "p50_ms": _percentile(latencies, 50),
        "p99_ms": _percentile(latencies, 99),
        "plaintext_p50_ms": _percentile(measured["plaintext_ms"], 50),
        "plaintext_p99_ms": _percentile(measured["plaintext_ms"], 99),
        "batch_per_s": round(measured["batch"] / measured["batch_s"], 1),
        "concurrency": args.concurrency,
        "requests": len(latencies),
        "batch_requests": measured["batch"],
        "peak_rss_mb_bank": round(rss["bank"] / 2**20),
        "peak_rss_mb_operator": round(rss["operator"] / 2**20),
        "load_at_start": round(load, 2),
        "load_at_end": round(os.getloadavg()[0], 2),
    }
    out_dir = ROOT / "bench_results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"scoring_{args.dataset}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
