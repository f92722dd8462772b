"""`bank-node models list|export`: the bank's model registry from the command line.

`export MODEL --format xgboost-json` writes the bank's part of a SecureBoost model as
XGBoost's JSON dump (`Booster.dump_model(..., dump_format="json")`: a list of trees of
nested nodes), so a risk team can read the trees in tools it already uses. The
operator's splits appear under the feature name or alias the operator disclosed, with
"split_condition": null and an opaque "split_ref": their thresholds stay with the
operator.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.secureboost.model import BankModel
from node_core.cli import NodeCli, open_node, print_json
from node_core.config import ConfigError
from node_core.model_registry import ModelRecord, ModelRegistry

FORMATS = ("xgboost-json",)


def _record(registry: ModelRegistry, name: str, version: int | None) -> ModelRecord:
    records = registry.list(name)
    if not records:
        known = ", ".join(sorted({r.name for r in registry.list()})) or "none"
        raise ConfigError(f"no model {name!r} in the registry (models: {known})")
    if version is None:
        return records[-1]
    for record in records:
        if record.version == version:
            return record
    raise ConfigError(f"model {name!r} has no version {version}")


def _list(args: argparse.Namespace) -> int:
    ctx = open_node(args)
    registry = ModelRegistry(ctx.config.state_dir, ctx.store)
    print_json(
        [
            {
                "name": r.name,
                "version": r.version,
                "kind": r.kind,
                "job_id": r.job_id,
                "counterpart": r.counterpart,
            }
            for r in registry.list()
        ]  # fmt: skip
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    ctx = open_node(args)
    record = _record(
        ModelRegistry(ctx.config.state_dir, ctx.store), args.model, args.version
    )
    if record.kind != "secureboost.bank":
        raise ConfigError(
            f"model {record.name!r} v{record.version} is a {record.kind} model;"
            " --format xgboost-json exports SecureBoost models (secureboost.bank)"
        )
    model = BankModel.from_dict(record.load()["model"])
    document = "[\n" + ",\n".join(model.xgboost_dump()) + "\n]\n"
    if args.out is None:
        sys.stdout.write(document)
    else:
        args.out.write_text(document)
        print(
            f"{len(model.trees)} trees of {record.name} v{record.version} -> {args.out}"
        )
    return 0


def add_models_command(cli: NodeCli) -> None:
    cli.with_config(cli.command("list", _list, "list saved models", group="models"))
    p = cli.with_config(
        cli.command("export", _export, "export a saved model", group="models")
    )
    p.add_argument("model", help="model name (see `models list`)")
    p.add_argument("--version", type=int, help="version (default: the latest)")
    p.add_argument("--format", choices=FORMATS, required=True)
    p.add_argument("--out", type=Path, help="output file (default: stdout)")
