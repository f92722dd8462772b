"""Phone normalisation and resident-ID validation shared by both parties."""

from __future__ import annotations

import pandas as pd
import pytest

from protocol.identifiers import (
    PHONE_EMPTY,
    PHONE_FRACTION,
    PHONE_NON_DIGIT,
    PHONE_NOT_MOBILE,
    PHONE_SCIENTIFIC,
    PHONE_WRONG_LENGTH,
    RESIDENT_ID_BAD_CHECKSUM,
    RESIDENT_ID_BAD_DATE,
    RESIDENT_ID_MALFORMED,
    InvalidPhoneError,
    normalize_phone,
    normalize_phones,
    resident_id_check_char,
    resident_id_reasons,
    resident_id_rejection_reason,
    written_as_decimals,
)

ACCEPTED = ["+86 138-0013-8000", "8613800138000", "13800138000", "+8613800138000",
            "0086 138 0013 8000", " 138 0013 8000 ", 13800138000,
            "13800138000.0", 13800138000.0, 8613800138000.0]  # fmt: skip
REJECTED = [
    ("1380013800", PHONE_WRONG_LENGTH),
    ("138001380001", PHONE_WRONG_LENGTH),
    ("12800138000", PHONE_NOT_MOBILE),
    ("23800138000", PHONE_NOT_MOBILE),
    ("138OO138000", PHONE_NON_DIGIT),
    ("+1 415 555 0100", PHONE_NON_DIGIT),
    ("4155550100", PHONE_WRONG_LENGTH),
    ("１３８００１３８０００", PHONE_NON_DIGIT),
    ("", PHONE_EMPTY),
    ("   ", PHONE_EMPTY),
    (None, PHONE_EMPTY),
    (13800138000.5, PHONE_FRACTION),
    ("1.3800138E+10", PHONE_SCIENTIFIC),
    ("1.38001e10", PHONE_SCIENTIFIC),
    ("13800138000.5", PHONE_FRACTION),
]


@pytest.mark.parametrize("raw", ACCEPTED)
def test_normalize_phone_returns_canonical_if_format_variant(raw: object) -> None:
    # Execute / Assert
    assert normalize_phone(raw) == "13800138000"


@pytest.mark.parametrize(("raw", "reason"), REJECTED)
def test_normalize_phone_raises_reason_if_not_mobile_number(
    raw: object, reason: str
) -> None:
    # Execute
    with pytest.raises(InvalidPhoneError) as info:
        normalize_phone(raw)
    # Assert
    assert str(info.value) == reason


def test_normalize_phones_matches_scalar_if_vectorised() -> None:
    # Prepare
    values = pd.Series([*ACCEPTED, *(r for r, _ in REJECTED)], dtype=object)
    # Execute
    canonical, reasons = normalize_phones(values)
    # Assert
    assert canonical.iloc[: len(ACCEPTED)].tolist() == ["13800138000"] * len(ACCEPTED)
    assert reasons.iloc[len(ACCEPTED) :].tolist() == [r for _, r in REJECTED]
    assert canonical.isna().sum() == len(REJECTED)


def test_resident_id_check_char_matches_gb11643_if_known_example() -> None:
    # The standard's worked example: 11010519491231002X.
    assert resident_id_check_char("11010519491231002") == "X"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("11010519491231002X", None),
        ("11010519491231002x", None),
        ("110105194912310021", RESIDENT_ID_BAD_CHECKSUM),
        ("1101051949123100", RESIDENT_ID_MALFORMED),
        ("11010519491231002Y", RESIDENT_ID_MALFORMED),
        (None, RESIDENT_ID_MALFORMED),
    ],
)
def test_resident_id_rejection_reason_if_malformed(
    raw: object, reason: str | None
) -> None:
    # Execute / Assert
    assert resident_id_rejection_reason(raw) == reason


def test_resident_id_reasons_flags_impossible_date_if_checksum_valid() -> None:
    # Prepare: 1949-02-30 with a correct check character.
    first17 = "11010519490230002"
    valid_checksum = first17 + resident_id_check_char(first17)
    values = pd.Series(["11010519491231002X", valid_checksum, "110105194912310021"])
    # Execute
    reasons = resident_id_reasons(values)
    # Assert
    assert reasons.tolist()[1:] == [RESIDENT_ID_BAD_DATE, RESIDENT_ID_BAD_CHECKSUM]
    assert pd.isna(reasons.iloc[0])
    assert resident_id_rejection_reason(valid_checksum) == RESIDENT_ID_BAD_DATE


@pytest.mark.parametrize(
    "raw", ["²" * 17 + "1", "１" * 17 + "X", "１１０１０５１９４９１２３１００２Ｘ"]
)
def test_resident_id_rejects_non_ascii_digits_if_unicode_digit_lookalikes(
    raw: str,
) -> None:
    # Execute / Assert: a reason, never an exception, and the same as vectorised.
    assert resident_id_rejection_reason(raw) == RESIDENT_ID_MALFORMED
    assert resident_id_reasons(pd.Series([raw])).tolist() == [RESIDENT_ID_MALFORMED]


def test_resident_id_reasons_keeps_index_if_index_has_duplicates() -> None:
    # Prepare
    values = pd.Series(["11010519491231002X", "bad"], index=[7, 7])
    # Execute
    reasons = resident_id_reasons(values)
    # Assert
    assert list(reasons.index) == [7, 7]
    assert pd.isna(reasons.iloc[0]) and reasons.iloc[1] == RESIDENT_ID_MALFORMED


def test_normalize_phone_reports_empty_if_pandas_na() -> None:
    # Execute / Assert: scalar and vectorised agree
    with pytest.raises(InvalidPhoneError, match="empty phone"):
        normalize_phone(pd.NA)
    _, reasons = normalize_phones(pd.Series([pd.NA], dtype="string"))
    assert reasons.tolist() == [PHONE_EMPTY]


def test_normalize_phones_converts_whole_floats_if_column_is_float_typed() -> None:
    # Prepare: what a Parquet float column (or pandas' float inference) gives.
    values = pd.Series([13800138000.0, 8613900139000.0, 13800138000.25, None, 1e20])
    # Execute
    canonical, reasons = normalize_phones(values)
    # Assert
    assert canonical.tolist()[:2] == ["13800138000", "13900139000"]
    assert reasons.tolist()[2:] == [PHONE_FRACTION, PHONE_EMPTY, PHONE_WRONG_LENGTH]
    assert written_as_decimals(values) == 4


def test_written_as_decimals_counts_decimal_text_if_csv_column() -> None:
    # Prepare
    values = pd.Series(["13800138000.0", "13800138000", " 13900139000.00 ", None])
    # Execute / Assert
    assert written_as_decimals(values) == 2
