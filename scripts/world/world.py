"""Drive a whole world: blocks over a process pool, streamed to files, then manifests.

Blocks are generated in parallel but written strictly in block order through a bounded
window, so output is identical for any worker count and memory stays flat: at most
`workers + 1` blocks exist at once, whatever the number of subscribers.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa

from scripts.world import GENERATOR_VERSION
from scripts.world.banks import BANKS, bank_index, parse_parties
from scripts.world.block import BlockOutput, generate_block
from scripts.world.dirty import plant, target_for
from scripts.world.ground_truth import describe
from scripts.world.identities import REFERENCE_DATE
from scripts.world.plan import DEFAULT_BLOCK_SIZE, Party, WorldPlan
from scripts.world.streams import stream
from scripts.world.writer import SYNTHETIC_NOTICE, TableSink, write_table

DEFAULT_SUBSCRIBERS = 200_000


@dataclass
class WorldArgs:
    """Everything that defines a world (the manifest records it)."""

    subscribers: int = DEFAULT_SUBSCRIBERS
    seed: int = 0
    banks: str = "bank-a"
    overlap: float = 0.70
    fmt: str = "parquet"
    dirty: bool = False
    report: bool = True
    block_size: int = DEFAULT_BLOCK_SIZE
    workers: int = field(default=0, metadata={"affects_output": False})


_PLAN: WorldPlan | None = None  # the plan inside a worker process


def _init_worker(plan: WorldPlan) -> None:
    global _PLAN
    _PLAN = plan
    # One thread per process: the pool already fills the cores, and oversubscribed
    # BLAS/OpenMP threads spin-wait and slow everyone down on a small machine.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _dirty_block(plan: WorldPlan, output: BlockOutput) -> dict:
    """Plant defects in this block's dirty-able tables; rows are block-local."""
    planted: dict = {}
    for relative, table in output.tables.items():
        target = target_for(relative)
        if target is None:
            continue
        result = plant(
            table, target, stream(plan.seed, f"dirty.{relative}", output.block)
        )
        output.tables[relative] = result.table
        planted[relative] = (result.rejected, result.valid_variants)
    return planted


def _run_block(block: int) -> tuple[BlockOutput, dict]:
    assert _PLAN is not None
    output = generate_block(_PLAN, block)
    planted = _dirty_block(_PLAN, output) if _PLAN.dirty else {}
    return output, planted


@contextlib.contextmanager
def _worker_pool(plan: WorldPlan, workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """A pool of forked workers that inherit the plan, or None to work in-process."""
    if workers <= 1:
        _init_worker(plan)
        yield None
        return
    # fork: workers inherit the plan and warmed caches instantly; nothing in the
    # parent runs threads before this point.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, context, _init_worker, (plan,)) as pool:
        yield pool


def _blocks_in_order(
    plan: WorldPlan, pool: ProcessPoolExecutor | None, workers: int
) -> Iterator[tuple[BlockOutput, dict]]:
    if pool is None:
        for block in range(plan.n_blocks):
            yield _run_block(block)
        return
    window: list[Future] = []
    next_block = 0
    while next_block < plan.n_blocks or window:
        while next_block < plan.n_blocks and len(window) < workers + 1:
            window.append(pool.submit(_run_block, next_block))
            next_block += 1
        yield window.pop(0).result()


def _prepare_output(out: Path) -> Path:
    """Return a fresh staging directory next to `out`; refuse to clobber non-worlds."""
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").exists():
        raise FileExistsError(
            f"{out} exists and is not a generated world; not overwriting"
        )
    staging = out.with_name(out.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return staging


def _publish(staging: Path, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)


@dataclass
class _Streamed:
    """What streaming the blocks leaves behind besides the files."""

    rows: dict[str, int] = field(default_factory=dict)  # file -> rows written
    samples: dict[str, list[pa.Table]] = field(default_factory=dict)  # party -> rows
    rejected: list[dict] = field(default_factory=list)
    variants: list[dict] = field(default_factory=list)


def _stream_blocks(
    plan: WorldPlan, pool: ProcessPoolExecutor | None, workers: int, args: WorldArgs,
    staging: Path,
) -> _Streamed:  # fmt: skip
    """Generate every block and append its tables to their files, in block order."""
    streamed = _Streamed(samples={p.party_id: [] for p in plan.parties})
    sinks: dict[str, TableSink] = {}
    try:
        for output, planted in _blocks_in_order(plan, pool, workers):
            for relative, table in output.tables.items():
                sink = sinks.get(relative)
                if sink is None:
                    sink = TableSink(staging, relative, args.fmt, args.seed)
                    sinks[relative] = sink
                bad, good = planted.get(relative, ([], []))
                streamed.rejected.extend(_located(sink, bad))
                streamed.variants.extend(_located(sink, good))
                sink.write(table)
            for party_id, sample in output.report.items():
                streamed.samples[party_id].append(sample)
    finally:
        for sink in sinks.values():
            sink.close()
    streamed.rows = {sink.relative: sink.rows for sink in sinks.values()}
    return streamed


def _report(
    plan: WorldPlan, pool: ProcessPoolExecutor | None, streamed: _Streamed, seed: int
) -> dict:
    from scripts.world.report import auc_report  # sklearn loads only when needed

    map_fn = pool.map if pool is not None else map
    report: dict = {"synthetic": True, "seed": seed, "parties": {}}
    for party in plan.parties:
        sample = pa.concat_tables(streamed.samples.pop(party.party_id))
        entry = auc_report(sample, seed, map_fn)
        entry["sample_fraction"] = round(plan.report_fraction, 4)
        report["parties"][party.party_id] = entry
    return report


def _manifest(args: WorldArgs, plan: WorldPlan, files: dict[str, int]) -> dict:
    return {
        "synthetic": True,
        "notice": SYNTHETIC_NOTICE,
        "generator": GENERATOR_VERSION,
        "seed": args.seed,
        "args": {k: v for k, v in asdict(args).items() if k != "workers"},
        "reference_date": str(REFERENCE_DATE),
        "universe": plan.universe,
        "parties": [
            {
                "party_id": p.party_id,
                "bank_code": p.bank_code,
                "bank_name_en": BANKS[bank_index(p.bank_code)].name_en,
                "bank_name_zh": BANKS[bank_index(p.bank_code)].name_zh,
                "sms_short_code": BANKS[bank_index(p.bank_code)].short_code,
            }
            for p in plan.parties
        ],
        "files": dict(sorted(files.items())),
    }


def generate_world(args: WorldArgs, out: Path) -> dict:
    """Generate the world defined by `args` into `out`; return the manifest.

    The returned manifest also carries wall-clock `seconds` and per-phase `timings`
    (not written to manifest.json, which stays a pure function of the arguments).
    """
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[phase] = round(now - clock, 2)
        clock = now

    parties = [
        Party(pid, code, slot)
        for slot, (pid, code) in enumerate(parse_parties(args.banks))
    ]
    plan = WorldPlan(
        seed=args.seed,
        subscribers=args.subscribers,
        parties=parties,
        overlap=args.overlap,
        block_size=args.block_size,
        dirty=args.dirty,
    )
    out = Path(out)
    staging = _prepare_output(out)
    workers = args.workers or os.cpu_count() or 1
    if plan.n_blocks == 1 and not args.report:
        workers = 1  # a single block gains nothing from a pool
    lap("plan")
    with _worker_pool(plan, workers) as pool:
        streamed = _stream_blocks(plan, pool, workers, args, staging)
        lap("blocks")
        report = _report(plan, pool, streamed, args.seed) if args.report else None
        lap("report")

    files = dict(streamed.rows)
    cells = plan.city.cells_table()
    files[f"operator/cells.{args.fmt}"] = write_table(
        staging, "operator/cells", cells, args.fmt, args.seed
    )
    (staging / "ground_truth" / "hidden_model.json").write_text(
        json.dumps(describe(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (staging / "NOTICE.txt").write_text(SYNTHETIC_NOTICE + "\n", encoding="utf-8")
    if args.dirty:
        _write_json(
            staging / "dirty_manifest.json",
            {
                "synthetic": True,
                "rule": "reject every row in `rejected`; accept every row in "
                "`valid_variants` after phone normalisation; duplicates list the later "
                "occurrence(s) only",
                "rejected": sorted(
                    streamed.rejected, key=lambda e: (e["file"], e["row"])
                ),
                "valid_variants": sorted(
                    streamed.variants, key=lambda e: (e["file"], e["row"])
                ),
            },
        )
    if report is not None:
        _write_json(staging / "world_report.json", report)
    manifest = _manifest(args, plan, files)
    _write_json(staging / "manifest.json", manifest)
    _publish(staging, out)
    lap("finish")
    manifest["seconds"] = round(sum(timings.values()), 2)
    manifest["timings"] = timings
    return manifest


def _located(sink: TableSink, entries: list[dict]) -> list[dict]:
    """Turn block-local rows into file rows (the block is about to be appended)."""
    located = []
    for entry in entries:
        entry = {"file": sink.relative, **entry, "row": sink.rows + entry["row"]}
        if "duplicate_of_row" in entry:
            entry["duplicate_of_row"] += sink.rows
        located.append(entry)
    return located


def _write_json(path: Path, payload: dict) -> None:
    path.write_text(
        json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
