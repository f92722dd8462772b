"""docs/config.md is generated from the config dataclasses and kept current."""

from __future__ import annotations

import dataclasses
import typing

from bank_node.jobspec import JobSpec
from node_core.config import CounterpartPolicy, NodeConfig
from scripts import gen_config_docs


def test_config_docs_are_current_if_generated_from_the_schema() -> None:
    # Execute
    text = gen_config_docs.render()
    # Assert: a key added, removed or re-commented without regenerating fails here.
    assert gen_config_docs.OUTPUT.read_text(encoding="utf-8") == text, (
        "docs/config.md is stale: run python -m scripts.gen_config_docs"
    )


def test_config_docs_give_every_key_a_meaning_if_generated() -> None:
    # Execute / Assert
    assert gen_config_docs.undocumented() == []


def test_config_docs_list_every_key_if_dataclasses_have_them() -> None:
    # Prepare: the keys the loader accepts, walked independently of the generator;
    # a section (a dataclass-typed field, or a table of them) is a heading instead.
    def keys(cls: type, prefix: str) -> tuple[set[str], set[str]]:
        rows, sections = set(), set()
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.metadata.get("internal"):
                continue
            kind = hints[f.name]
            inner = typing.get_args(kind)
            if dataclasses.is_dataclass(kind) or any(
                dataclasses.is_dataclass(a) for a in inner
            ):
                sections.add(f"{prefix}{f.name}")
            else:
                rows.add(f"`{prefix}{f.name}`")
        return rows, sections

    # Execute
    text = gen_config_docs.render()
    # Assert
    node_rows, node_sections = keys(NodeConfig, "")
    policy_rows, _ = keys(CounterpartPolicy, "counterparts.policy.")
    job_rows, job_sections = keys(JobSpec, "")
    for key in node_rows | policy_rows | job_rows:
        assert f"| {key} |" in text, key
    for name in node_sections | job_sections:
        headings = (f"### `[{name}]`", f"### `[[{name}]]`", f"### `[{name}.<name>]`")
        assert any(h in text for h in headings), name
    assert "| `model.learning_rate` | number | `0.5` |" in text
    assert "| `data.<name>.max_rejected_share` | number | `0.05` |" in text


def test_field_comments_read_line_and_block_comments_if_both_styles_used() -> None:
    # Prepare / Execute
    comments = gen_config_docs.field_comments(_Example)
    # Assert
    assert comments == {
        "first": "Above, on two lines.",
        "second": "on its line",
        "third": "",
    }


@dataclasses.dataclass(frozen=True)
class _Example:
    # Above,
    # on two lines.
    first: int = 1
    second: int = 2  # on its line
    third: int = 3
