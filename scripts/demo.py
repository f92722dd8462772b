"""The end-to-end demo: a synthetic operator-and-bank world, two nodes, one joint job.

1. generate the default world (200k subscribers, bank-a's customers) unless present;
2. create a development PKI and start `operator-node` and `bank-node` as processes on
   loopback, configured from examples/*.toml;
3. handshake over mutual TLS, validate both parties' data;
4. size the bank's customer base on the operator's network (a PSI job for the purpose
   "marketing", mode cardinality: the bank learns a count, the operator the set size);
5. run the joint credit-default job (examples/credit_default_job.toml): approval, PSI
   alignment, federated IV, two-party logistic regression, report;
6. verify both audit chains, stop both nodes with SIGTERM, print a summary.

Run through scripts/demo.sh (which sets up .venv first).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from scripts.local_nodes import EXAMPLES, ROOT, LocalPair, node_body


def say(message: str) -> None:
    print(f"\n== {message}", flush=True)


def ensure_world(world: Path, subscribers: int) -> dict[str, Any]:
    manifest = world / "manifest.json"
    if not manifest.exists():
        say(f"generating the synthetic world ({subscribers} subscribers)")
        subprocess.run(
            [
                sys.executable, "-m", "scripts.generate_world",
                "--subscribers", str(subscribers), "--seed", "7", "--out", str(world),
            ],
            check=True,
        )  # fmt: skip
    else:
        say(f"reusing the world in {world}")
    report = world / "world_report.json"
    return json.loads(report.read_text()) if report.exists() else {}


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    subscribers = int(args[0]) if args else 200_000
    started = time.perf_counter()
    root = ROOT / "var" / "demo"
    root.mkdir(parents=True, exist_ok=True)
    world_report = ensure_world(root / "world", subscribers)
    run = root / f"run-{time.strftime('%Y%m%d-%H%M%S')}"
    run.mkdir()
    shutil.copy(EXAMPLES / "credit_default_job.toml", run / "job.toml")
    operator = node_body(EXAMPLES / "operator.toml", root)
    bank = node_body(EXAMPLES / "bank.toml", root)
    summary: dict[str, Any] = {}
    say("starting operator-node and bank-node (mutual TLS on loopback)")
    pair = LocalPair(run, operator, bank)
    pair.start()
    try:
        say("handshake")
        hello = json.loads(pair.run("bank-node", "handshake").stdout)
        print(json.dumps(hello, indent=2))
        say("validating each party's data (rows read / accepted / rejected)")
        for tool, node in (("operator-node", "operator"), ("bank-node", "bank")):
            reports = json.loads(
                pair.run(tool, "ingest", "check", "--json", node=node).stdout
            )
            for name, rep in reports.items():
                print(
                    f"{node}/{name}: read {rep['rows_read']}, accepted"
                    f" {rep['rows_accepted']}, rejected {rep['rows_rejected']}"
                    f" {rep['rejected_by_reason'] or ''}"
                )
        say("sizing the bank's customers on the operator's network (PSI)")
        psi_out = run / "psi"
        psi = pair.run(
            "bank-node", "psi", "--source", "customers", "--mode", "cardinality",
            "--purpose", "marketing", "--output", str(psi_out),
        )  # fmt: skip
        summary["psi"] = json.loads(psi.stdout)
        print(
            f"{summary['psi']['intersection_size']} of the bank's"
            f" {summary['psi']['bank_set_size']} customers are the operator's"
            " subscribers (the operator learned only the size of the bank's set)"
        )
        say("joint credit-default model (examples/credit_default_job.toml)")
        job = pair.run("bank-node", "job", "run", str(run / "job.toml"))
        summary["job"] = json.loads(job.stdout)
        say("verifying both audit chains")
        for tool, node in (("operator-node", "operator"), ("bank-node", "bank")):
            print(pair.run(tool, "audit", "verify", node=node).stdout.strip())
    finally:
        say("stopping both nodes (SIGTERM)")
        codes = pair.stop()
        print(f"exit codes: {codes}")
    job = summary["job"]
    ground = world_report.get("parties", {}).get("bank-a", {}).get("default_12m", {})
    say("summary")
    lines = [
        ("customers on the operator's network (PSI)",
         f"{summary['psi']['intersection_size']} of {summary['psi']['bank_set_size']}"),
        ("aligned loan customers (PSI, mode both)", job["psi"]["intersection_size"]),
        ("train / validation rows",
         f"{job['rows']['train']} / {job['rows']['validation']}"),
        ("features used (bank / operator)",
         f"{len(job['features']['bank'])} / {len(job['features']['operator'])}"),
        ("validation AUC, joint model", job["validation_auc"]),
        ("validation AUC, bank-only (same training)", job["bank_only_validation_auc"]),
        ("world's hidden ground-truth AUC", ground.get("auc_ground_truth", "n/a")),
        ("seconds per epoch", job["seconds_per_epoch"]),
        ("information value, seconds", job["iv_seconds"]),
        ("report", job["report"]),
        ("demo wall time, seconds", round(time.perf_counter() - started, 1)),
    ]  # fmt: skip
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        print(f"{key:<{width}}  {value}")
    return 0 if all(code == 0 for code in codes.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
