"""Test helpers: an operator and a bank configured for a joint job on FATE data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import tomli_w

from bank_node.jobspec import JobSpec, parse_job_spec
from node_core.config import NodeConfig
from node_core.node import NodeContext
from operator_node.cli import operator_services
from scripts.fate_data import PartyFiles, write_party_files
from tests.nodes import Pki, RunningNode, running_node, write_config


@dataclass
class JointSetup:
    files: PartyFiles
    operator: RunningNode
    bank: NodeContext
    root: Path


def operator_config(
    root: Path,
    pki: Pki,
    files: PartyFiles,
    policy: dict[str, Any],
    categorical: tuple[str, ...] = (),
    counterpart: dict[str, Any] | None = None,
) -> NodeConfig:
    extra = dict(counterpart or {})
    limits = {"psi_min_set_size": 10, **extra.pop("limits", {})}
    return write_config(
        root / "operator.toml",
        pki,
        "operator",
        "operator",
        [
            {
                "party_id": "bank-a",
                "identity": "bank-a",
                **extra,
                "limits": limits,
                "policy": {
                    "purposes": ["credit_risk"],
                    "features": ["o_*"],
                    "approval": "auto",
                    "min_batch_size": 64,
                    "source": "subscribers",
                    **policy,
                },
            }
        ],
        data={
            "subscribers": {
                "path": str(files.operator),
                "id": "phone",
                "numeric": ["o_*"],
                **({"categorical": list(categorical)} if categorical else {}),
            }
        },
        transport={"max_message_mb": 64},
    )


def bank_config(
    root: Path, pki: Pki, files: PartyFiles, address: str, **sections: Any
) -> NodeConfig:
    return write_config(
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
            }
        },
        transport={"max_message_mb": 64},
        **sections,
    )


@contextmanager
def joint_setup(
    root: Path,
    pki: Pki,
    dataset: str = "breast",
    policy: dict[str, Any] | None = None,
    *,
    extra_operator_columns: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    categorical: tuple[str, ...] = (),
    counterpart: dict[str, Any] | None = None,
    bank_sections: dict[str, Any] | None = None,
) -> Iterator[JointSetup]:
    """`extra_operator_columns` adds columns to the operator's file (given the file,
    returns the new columns); `categorical` declares some of them categorical;
    `counterpart` adds keys to the operator's entry for bank-a and `bank_sections`
    sections to the bank's config."""
    files = write_party_files(dataset, root / "data")
    if extra_operator_columns is not None:
        frame = pd.read_csv(files.operator, dtype={"phone": str})
        frame = pd.concat([frame, extra_operator_columns(frame)], axis=1)
        frame.to_csv(files.operator, index=False)
    op_cfg = operator_config(root, pki, files, policy or {}, categorical, counterpart)
    with running_node(op_cfg, operator_services) as operator:
        bank = NodeContext.open(
            bank_config(root, pki, files, operator.address, **(bank_sections or {}))
        )
        try:
            yield JointSetup(files, operator, bank, root)
        finally:
            bank.store.close()


def job_spec(root: Path, **sections: dict[str, Any]) -> JobSpec:
    doc: dict[str, Any] = {
        "job": {"name": "test-model", "purpose": "credit_risk"},
        "data": {"source": "customers"},
        "operator": {"features": ["o_*"]},
        "model": {"epochs": 3, "batch_size": 256, "learning_rate": 0.5},
        "report": {"output": str(root / "reports")},
    }
    for key, value in sections.items():
        doc[key] = {**doc.get(key, {}), **value}
    path = root / "job.toml"
    path.write_text(tomli_w.dumps(doc))
    return parse_job_spec(doc, path)


def _refusal_message(setup: JointSetup, feature: str) -> str:
    """The operator's refusal of a job proposal requesting `feature`."""
    from bank_node.job_runner import JobRunner
    from protocol.errors import PeerCallError

    spec = job_spec(setup.root, operator={"features": [feature]})
    try:
        JobRunner(setup.bank, spec, progress=lambda _: None).run()
    except PeerCallError as exc:
        return exc.details
    raise AssertionError(f"a proposal requesting {feature!r} was accepted")
