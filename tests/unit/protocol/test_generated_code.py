"""The committed generated code matches the .proto files."""

from __future__ import annotations

from scripts.gen_protos import check


def test_generated_code_matches_protos_if_regenerated() -> None:
    # Execute
    drift = check()
    # Assert
    assert drift == [], "run: python -m scripts.gen_protos"
