"""Generate docs/config.md, the reference of every configuration key, from the schema.

The schema is the code: the frozen dataclasses that node_core/config.py loads a node's
TOML into, those bank_node/jobspec.py loads a JOB.toml into, and each registered
trainer's [model] options dataclass. A key's type and default come from its
annotation and default value; its meaning from the comment on its line or the comment
block right above it, and a table's description from its class docstring. Keys added
anywhere in these dataclasses appear on the next run; `--check` fails when
docs/config.md is stale or a key has no comment.

    python -m scripts.gen_config_docs          # rewrite docs/config.md
    python -m scripts.gen_config_docs --check  # exit 1 if stale or undocumented
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import io
import sys
import textwrap
import tokenize
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bank_node.jobspec import JobSpec
from bank_node.trainers.registry import (
    DEFAULT_MODEL_TYPE,
    model_types,
    model_types_for,
    trainer_for,
)
from node_core.config import NodeConfig
from protocol.jobs.messages import CREDIT_TASK, LOOKALIKE_PURPOSE, TASKS

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "config.md"


@dataclass(frozen=True)
class Key:
    path: str
    type: str
    default: str
    meaning: str


@dataclass(frozen=True)
class Table:
    heading: str
    description: str
    keys: tuple[Key, ...]


# ---- comments ----------------------------------------------------------------------


def field_comments(cls: type) -> dict[str, str]:
    """Field name -> its comment: the one on its line(s), else the block of comment
    lines right above it."""
    source = textwrap.dedent(inspect.getsource(cls))
    comments: dict[int, str] = {}  # 1-based line -> comment text
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
    lines = source.splitlines()
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    out: dict[str, str] = {}
    for node in body.body:
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
            continue
        start, end = node.lineno, node.end_lineno or node.lineno
        trailing = [comments[i] for i in range(start, end + 1) if i in comments]
        above: list[str] = []
        line = start - 1
        while line in comments and lines[line - 1].strip().startswith("#"):
            above.insert(0, comments[line])
            line -= 1
        out[node.target.id] = " ".join(trailing) or " ".join(above)
    return out


def class_description(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    if doc.startswith(f"{cls.__name__}("):  # dataclass's generated signature
        return ""
    return " ".join(doc.split())


# ---- types and defaults ------------------------------------------------------------


def type_name(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        return f"{type_name(options[0])}, optional"
    if origin is Literal:
        return "one of " + ", ".join(f"`{a!r}`".replace("'", '"') for a in args)
    if origin is tuple:
        return f"list of {type_name(args[0])}s"
    simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if hint in simple:
        return simple[hint]
    if hint is Path:
        return "path"
    return getattr(hint, "__name__", str(hint))


def toml_value(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, Path):
        return f'`"{value}"`'
    if isinstance(value, tuple | list):
        return (
            "`["
            + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in value)
            + "]`"
        )
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1e6:
        return f"`{int(value):_}`"
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"`{value:_}`"
    return f"`{value}`"


def default_text(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        return toml_value(f.default)
    if f.default_factory is not dataclasses.MISSING:
        return toml_value(f.default_factory())
    return "required"


# ---- walking the dataclasses -------------------------------------------------------


def _dataclass_of(hint: Any) -> type | None:
    return hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None


def tables(cls: type, heading: str, prefix: str = "") -> Iterator[Table]:
    """The table of `cls`'s scalar keys, then one per nested table, depth first."""
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    keys: list[Key] = []
    nested: list[tuple[type, str, str]] = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        hint = hints[f.name]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        path = f"{prefix}{f.name}"
        if sub := _dataclass_of(hint):
            nested.append((sub, f"`[{path}]`", f"{path}."))
        elif origin is tuple and (sub := _dataclass_of(args[0])):
            nested.append((sub, f"`[[{path}]]` (one entry each)", f"{path}."))
        elif origin is dict and (sub := _dataclass_of(args[1])):
            nested.append((sub, f"`[{path}.<name>]` (one table each)", f"{path}.NAME."))
        else:
            keys.append(
                Key(f"`{path}`", type_name(hint), default_text(f), comments[f.name])
            )
    if keys:
        yield Table(heading, class_description(cls), tuple(keys))
    for sub, sub_heading, sub_prefix in nested:
        yield from tables(sub, sub_heading, sub_prefix.replace("NAME", "<name>"))


def node_tables() -> list[Table]:
    return list(tables(NodeConfig, "Top level"))


def job_tables() -> list[Table]:
    out = list(tables(JobSpec, "Top level"))
    out.append(
        Table(
            "`[model]`",
            "`type` picks the trainer (bank_node/trainers/registry.py), `task` what"
            " the labels are; the other keys are that trainer's options, below.",
            (
                Key(
                    "`model.type`",
                    "one of " + ", ".join(f'`"{t}"`' for t in model_types()),
                    toml_value(DEFAULT_MODEL_TYPE),
                    "the model type: its trainer on the bank, its passive role on the"
                    " operator",
                ),
                Key(
                    "`model.task`",
                    "one of " + ", ".join(f'`"{t}"`' for t in TASKS),
                    toml_value(CREDIT_TASK),
                    "what the labels are: credit = the source's label column;"
                    " lookalike = membership of the seed audience of"
                    " `data.seed_source` (1 = in it, 0 = every other aligned"
                    " customer), built on the bank, never sent; needs purpose"
                    f' "{LOOKALIKE_PURPOSE}"; trained by model types '
                    + ", ".join(f'"{t}"' for t in model_types_for("lookalike")),
                ),
            ),
        )
    )
    for model_type in model_types():
        trainer = trainer_for(model_type)
        assert trainer is not None
        for table in tables(trainer.options_type, "", "model."):
            heading = table.heading or f'`[model]` with `type = "{model_type}"`'
            out.append(Table(heading, table.description, table.keys))
    return out


# ---- rendering ---------------------------------------------------------------------

HEADER = """# Configuration reference

Generated by `python -m scripts.gen_config_docs` from the dataclasses the nodes load
their TOML into (node_core/config.py, bank_node/jobspec.py and each trainer's options);
do not edit by hand: change the comment on the key and run the script again
(tests/unit/scripts/test_config_docs.py fails while this file is stale).

Unknown keys, wrong types and bad values are refused with an error naming the file and
the key. Paths are relative to the file they appear in.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_table(table: Table) -> str:
    lines = [f"### {table.heading}", ""]
    if table.description:
        lines += [table.description, ""]
    lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key in table.keys:
        lines.append(
            "| " + " | ".join(_cell(c) for c in (key.path, key.type, key.default,
                                                   key.meaning)) + " |"
        )  # fmt: skip
    return "\n".join(lines)


def render() -> str:
    parts = [
        HEADER,
        "## Node config (`operator.toml`, `bank.toml`)",
        "",
        "One file per node; see examples/operator.toml and examples/bank.toml.",
        "",
        *(render_table(t) + "\n" for t in node_tables()),
        "## Job spec (`JOB.toml`, for `bank-node job run`)",
        "",
        "See examples/credit_default_job.toml.",
        "",
        *(render_table(t) + "\n" for t in job_tables()),
    ]
    return "\n".join(parts).rstrip() + "\n"


def undocumented() -> list[str]:
    """Keys without a meaning (no comment on or above them)."""
    return [
        key.path
        for table in (*node_tables(), *job_tables())
        for key in table.keys
        if not key.meaning
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if stale")
    args = parser.parse_args(argv)
    missing = undocumented()
    text = render()
    if args.check:
        problems = []
        if missing:
            problems.append(f"keys without a comment: {', '.join(missing)}")
        if not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != text:
            problems.append(f"{OUTPUT} is stale: run python -m scripts.gen_config_docs")
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    OUTPUT.write_text(text, encoding="utf-8")
    if missing:
        print(f"warning: keys without a comment: {', '.join(missing)}", file=sys.stderr)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
