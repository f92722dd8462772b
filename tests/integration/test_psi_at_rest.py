"""Phone numbers at rest on the bank: `bank-node psi` writes per-row results only when
asked, by the bank's own row numbers unless numbers are asked for too, readable by the
node's user only, and both nodes delete per-row results after psi.retention_days."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bank_node import cli as bank_cli
from bank_node.psi_cache import OperatorSetCache
from bank_node.psi_outputs import purge_psi_outputs
from node_core.node import NodeContext
from operator_node.cli import operator_services
from operator_node.psi.sessions import OperatorPsi
from protocol.psi.alignment import Alignment, save_alignment
from protocol.psi.pool import shared_pool
from tests.integration.psi_support import ALL_MODES_POLICY, PsiSets, make_sets
from tests.nodes import Pki, RunningNode, running_node, write_config

DAY = 86_400


@pytest.fixture(scope="module")
def sets() -> PsiSets:
    return make_sets(seed=23, operator_size=300, bank_size=150, overlap=60)


@pytest.fixture(scope="module")
def nodes(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory, sets: PsiSets
) -> Iterator[tuple[RunningNode, NodeContext, Path]]:
    root = Path(tmp_path_factory.mktemp("at-rest"))
    data = root / "subscribers.parquet"
    pd.DataFrame({"phone": sets.operator_rows}).to_parquet(data)
    config = write_config(
        root / "operator.toml", pki, "operator", "operator",
        [{"party_id": "bank-a", "identity": "bank-a",
          "limits": {"psi_min_set_size": 20}, "policy": ALL_MODES_POLICY}],
        data={"subscribers": {"path": str(data), "on_duplicate": "keep_first"}},
        psi={"source": "subscribers", "workers": 1, "batch_items": 64},
    )  # fmt: skip
    customers = root / "customers.csv"
    pd.DataFrame({"phone": sets.bank_rows}).to_csv(customers, index=False)
    with running_node(config, operator_services) as node:
        bank = NodeContext.open(
            write_config(
                root / "bank.toml",
                pki,
                "bank-a",
                "bank",
                [
                    {
                        "party_id": "operator",
                        "identity": "operator",
                        "address": node.address,
                    }
                ],
                psi={"workers": 1, "retention_days": 7},
            )  # fmt: skip
        )
        yield node, bank, customers
        bank.store.close()


def _psi_cli(
    bank: NodeContext, customers: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> dict:
    argv = ["psi", "--config", str(bank.config.source), "--input", str(customers)]
    argv += ["--mode", "both", "--purpose", "marketing", "--quiet", *extra]
    assert bank_cli.main(argv) == 0
    return json.loads(capsys.readouterr().out)


def _numbers_in(folder: Path, sets: PsiSets) -> list[str]:
    numbers = {c for c in sets.canonical(sets.bank_rows) if c}
    text = "".join(p.read_text() for p in folder.iterdir() if p.is_file())
    return sorted(n for n in numbers if n in text)


def test_bank_psi_writes_no_per_row_file_if_rows_not_asked_for(
    nodes: tuple[RunningNode, NodeContext, Path],
    sets: PsiSets,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Prepare
    _, bank, customers = nodes
    # Execute
    summary = _psi_cli(bank, customers, capsys)
    # Assert
    out = Path(summary["output"])
    assert out.parent == bank.config.state_dir / "psi"
    assert sorted(p.name for p in out.iterdir()) == ["rejections.csv", "summary.json"]
    assert summary["files"] == ["summary.json", "rejections.csv"]
    assert _numbers_in(out, sets) == []
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_bank_psi_writes_own_row_numbers_only_if_rows_asked_for(
    nodes: tuple[RunningNode, NodeContext, Path],
    sets: PsiSets,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Prepare
    _, bank, customers = nodes
    # Execute
    summary = _psi_cli(bank, customers, capsys, "--write-rows")
    # Assert
    out = Path(summary["output"])
    matched = pd.read_csv(out / "intersection.csv")
    aligned = pd.read_csv(out / "alignment.csv")
    assert list(matched.columns) == ["source_row"]
    assert list(aligned.columns) == ["position", "row_key", "source_row"]
    assert matched["source_row"].tolist() == sets.expected_bank_rows()
    assert _numbers_in(out, sets) == []
    for name in ("intersection.csv", "alignment.csv"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    alignment = bank.config.state_dir / "alignments" / f"{summary['session_id']}.npz"
    assert stat.S_IMODE(alignment.stat().st_mode) == 0o600


def test_bank_psi_writes_numbers_only_if_asked_for_them(
    nodes: tuple[RunningNode, NodeContext, Path],
    sets: PsiSets,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Prepare
    _, bank, customers = nodes
    # Execute
    summary = _psi_cli(bank, customers, capsys, "--with-numbers")
    # Assert
    out = Path(summary["output"])
    assert list(pd.read_csv(out / "intersection.csv").columns) == [
        "source_row",
        "phone",
    ]
    assert len(_numbers_in(out, sets)) == len(sets.expected_bank_rows())


def test_purge_deletes_per_row_files_and_alignments_if_past_retention(
    nodes: tuple[RunningNode, NodeContext, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Prepare: a run 8 days old (retention 7) and a fresh one.
    _, bank, customers = nodes
    old = _psi_cli(bank, customers, capsys, "--write-rows")
    fresh = _psi_cli(bank, customers, capsys, "--write-rows")
    aligned = bank.config.state_dir / "alignments"
    past = time.time() - 8 * DAY
    old_files = [
        Path(old["output"]) / "intersection.csv",
        Path(old["output"]) / "alignment.csv",
        aligned / f"{old['session_id']}.npz",
    ]
    for path in old_files:
        os.utime(path, (past, past))
    # Execute
    removed = purge_psi_outputs(bank, time.time())
    # Assert
    assert all(not path.exists() for path in old_files)
    assert (Path(old["output"]) / "summary.json").exists()
    assert (Path(fresh["output"]) / "intersection.csv").exists()
    assert (aligned / f"{fresh['session_id']}.npz").exists()
    assert removed == {"row_files": 2, "alignments": 1}
    last = bank.store.audit_entries()[-1]
    assert (last.action, last.detail) == (
        "retention.deleted",
        {"row_files": 2, "alignments": 1, "retention_days": 7.0},
    )


def test_operator_housekeeping_deletes_alignments_if_past_retention(
    nodes: tuple[RunningNode, NodeContext, Path], tmp_path: Path
) -> None:
    # Prepare: an operator alignment written 8 days ago; a handler on the operator's
    # state dir (the timer of test_psi_sessions.py calls the same housekeeping).
    node, _, _ = nodes
    ctx = NodeContext.open(node.ctx.config)
    keys = np.zeros((3, 16), dtype=np.uint8)
    path = save_alignment(
        ctx.config.state_dir,
        Alignment("ef" * 16, keys, np.arange(3), "sha256:x:rows=3", "bank-a"),
    )
    now = time.time()
    os.utime(path, (now - 8 * DAY, now - 8 * DAY))
    handler = OperatorPsi(ctx, shared_pool(1), clock=lambda: now)
    # Execute
    handler.housekeeping()
    # Assert
    assert not path.exists()
    assert ctx.store.audit_entries()[-1].action == "retention.deleted"
    ctx.store.close()


def test_purge_deletes_cached_epoch_set_if_its_epoch_ended(
    nodes: tuple[RunningNode, NodeContext, Path],
) -> None:
    # Prepare: the operator's epoch set as the bank caches it, epoch over an hour ago.
    _, bank, _ = nodes
    cache = OperatorSetCache(bank.config.state_dir, "operator")
    cache.store("cd" * 16, bytes(32 * 8), expires_at=time.time() - 3600)
    # Execute
    purge_psi_outputs(bank, time.time())
    # Assert
    assert cache.held() == ""
    assert not any(cache.folder.iterdir())
