"""A lookalike split-NN job against a serving operator, next to a credit split-NN job
on the same customers: the seed audience never crosses to the operator.

The bank's customers are FATE's breast data (569 rows, all aligned); its seed audience
lists the phones of the rows with y = 1, half of them written in another format, plus
numbers of people who are no customers. The credit job's labels are y, so both jobs
train on the same labels: the operator must see the same calls and the same PSI set
(the whole source, not the seed), and nothing of the seed list — no seed number or a
hash of one (the non-customers' numbers exist nowhere else), no label vector — in
any message the bank sends it or anywhere in its state."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import tomli_w

from bank_node.job_runner import JobRun, JobRunner
from bank_node.jobspec import JobSpec, parse_job_spec
from node_core.config import ConfigError
from node_core.node import NodeContext
from operator_node.cli import operator_services
from protocol.domain import JobStatus
from protocol.split_nn.pki import issue_superlink_cert
from scripts.fate_data import PartyFiles, write_party_files
from tests.integration.psi_support import (
    Transcript,
    number_patterns,
    recorded_channel,
)
from tests.joint import operator_config
from tests.nodes import Pki, RunningNode, running_node, write_config

pytestmark = pytest.mark.slow  # two Flower deployments, ~1 min each on 2 cores

MODEL = {
    "type": "split_nn",
    "rounds": 2,
    "batch_size": 64,
    "learning_rate": 0.01,
    "defence_batch": 128,
    "embedding": 4,
    "operator_hidden": [8],
    "bank_hidden": [8],
    "top_hidden": [8],
}
# People in the seed who are no customers of the bank (never in its PSI set).
OUTSIDERS = ["13612340001", "13612340002", "13612340003", "15912340004"]


def _seed_file(files: PartyFiles, root: Path) -> tuple[Path, list[str]]:
    bank = pd.read_csv(files.bank, dtype={"phone": str})
    members = list(bank.loc[bank["y"] == 1, "phone"])
    written = [
        f"+86 {p[:3]}-{p[3:7]}-{p[7:]}" if i % 2 else p for i, p in enumerate(members)
    ]
    path = root / "seed.csv"
    pd.DataFrame({"phone": written + OUTSIDERS}).to_csv(path, index=False)
    return path, members


def _bank_config(
    root: Path, pki: Pki, files: PartyFiles, seed: Path, address: str
) -> Any:
    issued = issue_superlink_cert(pki.ca, "bank-a", ["127.0.0.1"], root / "sl")
    config = write_config(
        root / "bank.toml",
        pki,
        "bank-a",
        "bank",
        [{"party_id": "operator", "identity": "operator", "address": address}],
        data={
            "customers": {
                "path": str(files.bank),
                "id": "phone",
                "label": "y",
                "numeric": ["b_*"],
            },
            "seed_audience": {"path": str(seed), "id": "phone"},
        },
        transport={"max_message_mb": 64},
    )
    return replace(
        config,
        split_nn=replace(
            config.split_nn,
            superlink_cert=issued.cert,
            superlink_key=issued.key,
            round_timeout_s=30.0,
        ),
    )


def _spec(root: Path, name: str, **sections: dict[str, Any]) -> JobSpec:
    doc: dict[str, Any] = {
        "job": {"name": name, "purpose": "credit_risk"},
        "data": {"source": "customers"},
        "operator": {"features": ["o_*"]},
        "model": MODEL,
        "report": {"output": str(root / "reports")},
    }
    for key, value in sections.items():
        doc[key] = {**doc.get(key, {}), **value}
    path = root / f"{name}.toml"
    path.write_text(tomli_w.dumps(doc))
    return parse_job_spec(doc, path)


def _lookalike_spec(root: Path, **data: Any) -> JobSpec:
    return _spec(
        root,
        "lookalike",
        job={"purpose": "marketing"},
        data={"seed_source": "seed_audience", **data},
        model={"task": "lookalike"},
    )


@dataclass
class Recorded:
    run: JobRun
    transcript: Transcript


@dataclass
class Jobs:
    root: Path
    operator: RunningNode
    bank: NodeContext
    members: list[str]
    credit: Recorded
    lookalike: Recorded


def _run(bank: NodeContext, spec: JobSpec) -> Recorded:
    """The job with every gRPC message the bank sends or receives recorded."""
    transcript = Transcript()
    opened = bank.channel
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            bank, "channel", lambda cp: recorded_channel(opened(cp), transcript)
        )
        run = JobRunner(bank, spec, lambda _: None).run()
    return Recorded(run, transcript)


@pytest.fixture(scope="module")
def jobs(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jobs]:
    root = Path(tmp_path_factory.mktemp("lookalike-job"))
    files = write_party_files("breast", root / "data")
    seed, members = _seed_file(files, root)
    policy = {"purposes": ["credit_risk", "marketing"]}
    op_cfg = operator_config(root, pki, files, policy)
    with running_node(op_cfg, operator_services) as operator:
        bank = NodeContext.open(_bank_config(root, pki, files, seed, operator.address))
        try:
            credit = _run(bank, _spec(root, "credit"))
            lookalike = _run(bank, _lookalike_spec(root))
            yield Jobs(root, operator, bank, members, credit, lookalike)
        finally:
            bank.store.close()


def _sent(recorded: Recorded) -> bytes:
    records = recorded.transcript.records
    return b"".join(r.data for r in records if r.direction == "sent")


def test_lookalike_job_succeeds_and_reports_its_seed_if_run_by_the_job_runner(
    jobs: Jobs,
) -> None:
    # Prepare
    run = jobs.lookalike.run
    look = run.summary["lookalike"]
    # Execute
    statuses = (
        jobs.bank.store.get_job(run.job_id).status,
        jobs.operator.ctx.store.get_job(run.job_id).status,
    )
    # Assert: the seed as written (formats, outsiders) counted from file to splits
    assert statuses == (JobStatus.SUCCEEDED, JobStatus.SUCCEEDED)
    assert run.summary["task"] == "lookalike"
    assert look["seed_numbers"] == len(jobs.members) + len(OUTSIDERS)
    assert look["seed_in_source"] == len(jobs.members)
    assert look["seed_not_in_source"] == len(OUTSIDERS)
    assert (look["aligned"], look["aligned_members"]) == (569, len(jobs.members))
    assert look["validation_auc"] > 0.9  # the seed is breast's y: easy to find
    assert look["top_decile_capture"] > 0.12  # a tenth of members would be chance


def test_lookalike_job_makes_the_same_calls_and_psi_set_as_a_credit_job(
    jobs: Jobs,
) -> None:
    # Prepare
    credit, lookalike = jobs.credit, jobs.lookalike
    audit = jobs.operator.ctx.store.audit_entries()
    # Execute
    methods = [
        {r.method for r in job.transcript.records if r.direction == "sent"}
        for job in (credit, lookalike)
    ]
    psi = {
        e.detail["aligned_rows"]: e.detail["bank_set_size"]
        for e in audit
        if e.action == "psi.session.finished"
    }
    proposals = [
        jobs.operator.ctx.store.get_job(job.run.job_id).spec["proposal"]
        for job in (credit, lookalike)
    ]
    # Assert: no call a credit job does not make; the PSI set is the whole source
    # (569 customers, not the seed's numbers); the proposal differs in task and
    # purpose only
    assert methods[0] == methods[1]
    assert psi == {569: 569}
    assert {k for k in proposals[0] if proposals[0][k] != proposals[1][k]} == {
        "purpose",
        "task",
        "description",
    }
    assert (proposals[1]["task"], proposals[1]["max_rows"]) == ("lookalike", 569)


def test_lookalike_job_sends_no_seed_number_nor_hash_if_it_runs(jobs: Jobs) -> None:
    # Prepare: the outsiders' numbers exist only in the seed list, so neither the
    # messages nor the operator's state may hold one or its hash; the members'
    # numbers only in the bank's data (PSI sends them blinded), so no message may
    blob = _sent(jobs.lookalike)
    state = b"".join(
        p.read_bytes()
        for p in jobs.operator.ctx.config.state_dir.rglob("*")
        if p.is_file()
    )
    planted = next(number_patterns(OUTSIDERS[0]))  # control: the search finds it
    # Execute
    in_state = [n for n in OUTSIDERS for p in number_patterns(n) if p in state]
    in_messages = [
        n
        for n in [*OUTSIDERS, *jobs.members[:50]]
        for p in number_patterns(n)
        if p in blob + planted
    ]
    # Assert
    assert in_state == []
    assert in_messages == [OUTSIDERS[0]]  # the planted control only
    assert len(blob) > 10_000 and len(state) > 10_000


def test_lookalike_job_sends_no_label_vector_if_it_runs(jobs: Jobs) -> None:
    # Prepare: the aligned labels (and, as the control, the validation mask the
    # binding does send) in the packings a message could carry them in
    run = jobs.lookalike.run
    job_dir = jobs.bank.config.state_dir / "split_nn" / run.job_id
    with np.load(job_dir / "bank_data.npz", allow_pickle=False) as saved:
        labels = np.asarray(saved["labels"], dtype=bool)
        validation = np.asarray(saved["validation"], dtype=bool)
    blob = _sent(jobs.lookalike)

    def packings(bits: np.ndarray) -> list[bytes]:
        return [
            np.packbits(bits, bitorder="little").tobytes(),
            np.packbits(bits).tobytes(),
            bits.astype(np.uint8).tobytes(),
        ]

    # Execute
    label_hits = [p for p in packings(labels) if p in blob]
    control_hits = [p for p in packings(validation) if p in blob]
    # Assert
    assert control_hits  # the search finds what the binding sends
    assert label_hits == []


def test_lookalike_job_fails_before_proposing_if_no_customer_is_in_the_seed(
    jobs: Jobs, tmp_path: Path
) -> None:
    # Prepare: a seed source of outsiders only, declared next to the customers
    seed = tmp_path / "outsiders.csv"
    pd.DataFrame({"phone": OUTSIDERS}).to_csv(seed, index=False)
    config = jobs.bank.config
    sources = dict(config.data)
    sources["seed_audience"] = replace(sources["seed_audience"], path=seed)
    bank = replace(jobs.bank, config=replace(config, data=sources))
    runner = JobRunner(bank, _lookalike_spec(jobs.root), lambda _: None)
    # Execute
    with pytest.raises(ConfigError) as info:
        runner.run()
    # Assert: refused naming the key, and the operator never heard of the job
    assert "data.seed_source: none of the 4 numbers of seed source" in str(info.value)
    with pytest.raises(Exception, match="no job"):
        jobs.operator.ctx.store.get_job(runner.job_id)


def test_lookalike_job_refuses_naming_the_key_if_the_seed_source_is_not_declared(
    jobs: Jobs,
) -> None:
    # Prepare
    spec = _lookalike_spec(jobs.root)
    spec = replace(spec, data=replace(spec.data, seed_source="audience"))
    # Execute
    with pytest.raises(ConfigError) as info:
        JobRunner(jobs.bank, spec, lambda _: None).run()
    # Assert
    assert "data.seed_source: 'audience' is not a data source of bank.toml" in str(
        info.value
    )
    assert "(known: customers, seed_audience)" in str(info.value)
