"""Bank party ids map to named banks."""

from __future__ import annotations

import pytest

from scripts.world.banks import BANK_CODES, parse_parties


def test_parse_parties_maps_defaults_in_order_if_no_codes_given() -> None:
    # Prepare, Execute
    parties = parse_parties("bank-a,bank-b")

    # Assert
    assert parties == [("bank-a", "cmb"), ("bank-b", "bob")]


def test_parse_parties_skips_taken_code_if_explicit_code_given() -> None:
    # Prepare, Execute
    parties = parse_parties("bank-a=bob,bank-b")

    # Assert
    assert parties == [("bank-a", "bob"), ("bank-b", "cmb")]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "at least one bank party"),
        ("bank-a,bank-a", "must be distinct"),
        ("bank-a=nope", "unknown bank code 'nope'"),
        ("bank a", "bad bank party id"),
        ("bank-a=icbc,bank-b=icbc", "map to the same bank"),
    ],
)
def test_parse_parties_rejects_spec_if_invalid(spec: str, message: str) -> None:
    # Prepare, Execute, Assert
    with pytest.raises(ValueError, match=message):
        parse_parties(spec)


def test_bank_codes_are_snake_case_if_used_in_column_names() -> None:
    # Prepare, Execute, Assert
    assert len(BANK_CODES) == 20
    assert all(code.isidentifier() and code.islower() for code in BANK_CODES)
