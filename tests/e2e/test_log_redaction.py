"""No identity value reaches a log: both nodes run on a dirty generated world (bad
phones, duplicates, bad types) with debug logs, through ingestion, a PSI job, a refused
call, a failed load and a joint job; then the log is scanned for every value of every
identity column of both parties (names, resident ids, phones, contacts, customer ids).
Canary records put identity values in every field a record has, and the same scan over
an unfiltered copy of them proves that it finds what leaks."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import tomli_w

from bank_node import cli as bank_cli
from bank_node.job_runner import JobRunner
from bank_node.jobspec import parse_job_spec
from bank_node.psi import run_psi
from bank_node.psi_job import run_psi_job
from node_core.config import LogConfig
from node_core.logs import JsonFormatter, setup_logging
from node_core.node import NodeContext
from operator_node.cli import operator_services
from protocol.errors import PeerCallError
from protocol.ids import new_hex_id
from protocol.psi.messages import PsiMode
from scripts.local_nodes import EXAMPLES, node_body
from tests.nodes import Pki, running_node, write_config

pytestmark = pytest.mark.slow  # generates a world of 12,000 subscribers

IDENTITY_COLUMNS = {
    "operator/subscribers.parquet": [
        "phone", "name", "resident_id", "contact_1", "contact_2", "contact_3",
    ],
    "banks/bank-a/customers.parquet": ["phone", "customer_id", "name", "resident_id"],
}  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = Path(tmp_path_factory.mktemp("dirty-world"))
    subprocess.run(
        [sys.executable, "-m", "scripts.generate_world", "--subscribers", "12000",
         "--seed", "13", "--dirty", "--no-report", "--out", str(root / "world")],
        check=True, capture_output=True,
    )  # fmt: skip
    return root


def identity_values(world: Path) -> set[str]:
    """Every identity value of both parties that could name someone."""
    values: set[str] = set()
    for relative, columns in IDENTITY_COLUMNS.items():
        frame = pd.read_parquet(world / "world" / relative, columns=columns)
        for column in columns:
            for value in frame[column].dropna().astype(str).str.strip():
                if len(value) >= (2 if not value.isascii() else 4):
                    values.add(value)
    return values


def leaked(text: str, values: set[str]) -> list[str]:
    return sorted(v for v in values if v in text)


def _config(root: Path, pki: Pki, example: str, party: str, role: str, **over: Any):
    body = node_body(EXAMPLES / example, root)
    for source in body["data"].values():
        source["on_duplicate"] = "keep_first"  # the dirty world has duplicates
    counterparts = body.pop("counterparts")
    for cp in counterparts:
        cp.update(over.pop("counterpart", {}))
    return write_config(
        root / f"{party}.toml", pki, party, role, counterparts, **body, **over
    )


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "nodes.log"
    setup_logging(LogConfig(format="json", level="debug", file=path), "nodes")
    yield path
    for handler in logging.getLogger().handlers:
        handler.flush()


def test_logs_carry_no_identity_value_if_nodes_run_on_a_dirty_world(
    world: Path, pki: Pki, log_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Prepare
    values = identity_values(world)
    policy = {"min_batch_size": 128, "approval": "auto"}
    operator = _config(
        world, pki, "operator.toml", "operator", "operator",
        counterpart={"policy": {**_example_policy(), **policy}},
        log={"format": "json", "level": "debug", "file": str(log_file)},
    )  # fmt: skip
    job = tomllib.loads((EXAMPLES / "credit_default_job.toml").read_text())
    job["model"] |= {"epochs": 2, "batch_size": 256}
    job["report"]["output"] = str(world / "reports")
    canary_log = logging.getLogger("canary")
    names = pd.read_parquet(
        world / "world/banks/bank-a/customers.parquet", columns=["name", "phone"]
    )
    name, phone = str(names["name"].iloc[0]), str(names["phone"].iloc[0])
    with running_node(operator, operator_services) as node:
        bank_config = _config(
            world, pki, "bank.toml", "bank-a", "bank",
            counterpart={"address": node.address},
            log={"format": "json", "level": "debug", "file": str(log_file)},
        )  # fmt: skip
        bank = NodeContext.open(bank_config)
        customers = bank.dataset("customers")
        # Execute: a PSI job, a refused session, a failed load, the joint job.
        run_psi_job(
            bank, "operator", customers, PsiMode.CARDINALITY,
            job_id=new_hex_id(), purpose="marketing",
        )  # fmt: skip
        with pytest.raises(PeerCallError):
            run_psi(bank, "operator", customers, PsiMode.INTERSECTION)
        strict = _config(
            world, pki, "bank.toml", "bank-a", "bank",
            log={"format": "json", "level": "debug", "file": str(log_file)},
        )  # fmt: skip
        strict_doc = tomllib.loads(strict.source.read_text())
        strict_doc["data"]["customers"]["on_duplicate"] = "error"
        strict.source.write_text(tomli_w.dumps(strict_doc))
        failed = bank_cli.main(["ingest", "check", "--config", str(strict.source)])
        cli_err = capsys.readouterr().err
        spec = parse_job_spec(job, world / "job.toml")
        JobRunner(bank, spec, progress=canary_log.info).run()
        # Canaries: identity values in every field a record has.
        canary_log.warning("customer %s called", name, extra={"who": [name]})
        canary_log.info("number", extra={"phone": int(phone), "names": {name: 1}})
        try:
            raise ValueError(f"row of {name} ({phone}) is malformed")
        except ValueError:
            canary_log.exception("failed", stack_info=True)
        bank.store.close()
    for handler in logging.getLogger().handlers:
        handler.flush()
    # Assert
    text = log_file.read_text(encoding="utf-8")
    assert failed == 2 and "duplicate id" in cli_err
    assert len(text.splitlines()) > 50  # the run was logged, at debug level
    assert leaked(text + cli_err, values) == []
    assert "[identity]" in text
    raw = _unfiltered(name, phone)  # control: the scan finds what is not redacted
    assert leaked(raw, values) == sorted({name, phone} & values)


def _example_policy() -> dict[str, Any]:
    doc = tomllib.loads((EXAMPLES / "operator.toml").read_text())
    return dict(doc["counterparts"][0]["policy"])


def _unfiltered(name: str, phone: str) -> str:
    """The canary lines through the formatter without the redacting filter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("nodes"))
    plain = logging.getLogger("canary.unfiltered")
    plain.propagate = False
    plain.addHandler(handler)
    plain.warning("customer %s called", name, extra={"who": [name]})
    plain.info("number", extra={"phone": int(phone)})
    plain.removeHandler(handler)
    return stream.getvalue()
