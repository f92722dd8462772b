"""Command line: generate a synthetic operator-and-bank world.

See docs/world_data_dictionary.md for every file and column.

python -m scripts.generate_world --subscribers 200000 --seed 0 --out var/world
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from scripts.world.plan import DEFAULT_BLOCK_SIZE
from scripts.world.world import DEFAULT_SUBSCRIBERS, WorldArgs, generate_world
from scripts.world.writer import FORMATS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.generate_world",
        description="Generate a synthetic telecom-operator-and-banks world (SYNTHETIC "
        "DATA: phone numbers may belong to real people; never dial or message them).",
    )
    parser.add_argument("--subscribers", type=int, default=DEFAULT_SUBSCRIBERS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("var/world"))
    parser.add_argument(
        "--banks",
        default="bank-a",
        help="comma list of bank party ids, optionally id=bank_code (e.g. bank-b=icbc)",
    )
    parser.add_argument("--format", dest="fmt", choices=FORMATS, default="parquet")
    parser.add_argument("--dirty", action="store_true", help="plant malformed rows")
    parser.add_argument(
        "--overlap",
        type=float,
        default=0.70,
        help="share of each bank's customers who are the operator's subscribers",
    )
    parser.add_argument("--no-report", dest="report", action="store_false")
    parser.add_argument("--workers", type=int, default=0, help="0 = one per core")
    parser.add_argument(
        "--block-size",
        type=int,
        default=DEFAULT_BLOCK_SIZE,
        help="rows per generation block (part of the world's definition)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    if ns.subscribers < 1 or ns.block_size < 1:
        print("--subscribers and --block-size must be positive", file=sys.stderr)
        return 2
    args = WorldArgs(
        subscribers=ns.subscribers,
        seed=ns.seed,
        banks=ns.banks,
        overlap=ns.overlap,
        fmt=ns.fmt,
        dirty=ns.dirty,
        report=ns.report,
        block_size=ns.block_size,
        workers=ns.workers,
    )
    try:
        manifest = generate_world(args, ns.out)
    except (ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = {
        "out": str(ns.out),
        "seconds": manifest["seconds"],
        "timings": manifest["timings"],
        "files": manifest["files"],
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
