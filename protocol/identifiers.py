"""Canonical forms of personal identifiers that both parties must agree on.

Phone numbers are the join key of every cross-party protocol (PSI hashes the canonical
form), so both nodes normalise them with exactly this code. Resident identity numbers
(GB 11643-1999) are validated here too. Nothing in this module logs or transmits a
value; callers get a canonical value or a *reason* for rejection that never echoes the
input.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

# Mainland mobile numbers: 11 digits, leading 1, second digit 3-9 (MIIT numbering plan).
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
_SEPARATORS_RE = re.compile(r"[\s\-()]")
_COUNTRY_PREFIXES = ("+86", "0086", "86")

# Rejection reasons (stable strings: reports count rows by these).
PHONE_EMPTY = "empty phone"
PHONE_NON_DIGIT = "phone has non-digit characters"
PHONE_WRONG_LENGTH = "phone has wrong number of digits"
PHONE_NOT_MOBILE = "phone is not a mainland mobile number"
PHONE_FRACTION = (
    "phone is a decimal number with a fraction; store phone numbers as text"
)
PHONE_SCIENTIFIC = (
    "phone in scientific notation, digits may have been lost; store phone numbers"
    " as text"
)
# A whole number written as a decimal (13800138000.0, what a float column becomes in
# a CSV): the digits are all there, so it is read as the number.
_WHOLE_DECIMAL_RE = r"^([0-9]+)\.0*$"
_SCIENTIFIC_RE = r"^[+-]?[0-9]*\.?[0-9]+[eE][+-]?[0-9]+$"
_FRACTION_RE = r"^[0-9]+\.[0-9]*[1-9][0-9]*$"


class InvalidPhoneError(ValueError):
    """A phone number that cannot be normalised; the message never contains it."""


def phone_rejection_reason(raw: object) -> str | None:
    """Return why `raw` is not a mainland mobile number, or None if it is one."""
    try:
        normalize_phone(raw)
    except InvalidPhoneError as exc:
        return str(exc)
    return None


def normalize_phone(raw: object) -> str:
    """Return the 11-digit canonical form of a mainland mobile number.

    Accepts `+86 138-0013-8000`, `8613800138000`, `008613800138000`, `13800138000`,
    integers, and whole numbers read as decimals (`13800138000.0`, a float from a
    float-typed column: float64 holds every 13-digit integer exactly). Anything else
    raises InvalidPhoneError with the reason; a fraction or scientific notation in
    text (where digits may have been lost) says so.
    """
    if raw is None or raw is pd.NA or (isinstance(raw, float) and np.isnan(raw)):
        raise InvalidPhoneError(PHONE_EMPTY)
    if isinstance(raw, bool):
        raise InvalidPhoneError(PHONE_NON_DIGIT)
    if isinstance(raw, float | np.floating):
        if not np.isfinite(raw) or raw != np.floor(raw):
            raise InvalidPhoneError(PHONE_FRACTION)
        raw = int(raw)
    text = str(raw).strip()
    if re.match(_SCIENTIFIC_RE, text):
        raise InvalidPhoneError(PHONE_SCIENTIFIC)
    if re.match(_FRACTION_RE, text):
        raise InvalidPhoneError(PHONE_FRACTION)
    text = re.sub(_WHOLE_DECIMAL_RE, r"\1", text)
    if not text:
        raise InvalidPhoneError(PHONE_EMPTY)
    text = _SEPARATORS_RE.sub("", text)
    for prefix in _COUNTRY_PREFIXES:
        if text.startswith(prefix) and len(text) - len(prefix) == 11:
            text = text[len(prefix) :]
            break
    if not text.isascii() or not text.isdigit():
        raise InvalidPhoneError(PHONE_NON_DIGIT)
    if len(text) != 11:
        raise InvalidPhoneError(PHONE_WRONG_LENGTH)
    if not _MOBILE_RE.match(text):
        raise InvalidPhoneError(PHONE_NOT_MOBILE)
    return text


def normalize_phones(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Vectorised normalize_phone over a column.

    Returns (canonical, reason): canonical holds the 11-digit string or <NA>; reason
    holds the rejection reason or <NA>. Exactly one of the two is set on every row.
    """
    reason = pd.Series(pd.NA, index=values.index, dtype="string")
    if pd.api.types.is_float_dtype(values.dtype):
        numbers = values.astype("float64")
        whole = np.isfinite(numbers) & (numbers == np.floor(numbers))
        reason[numbers.notna() & ~whole] = PHONE_FRACTION
        # Beyond 15 digits no prefix makes a mobile number (and int64 would overflow).
        too_long = whole & (numbers.abs() >= 1e15)
        reason[too_long] = PHONE_WRONG_LENGTH
        text = numbers.where(whole & ~too_long).astype("Int64").astype("string")
    else:
        text = values.astype("string").str.strip()
        reason[text.str.fullmatch(_SCIENTIFIC_RE).fillna(False)] = PHONE_SCIENTIFIC
        reason[text.str.fullmatch(_FRACTION_RE).fillna(False)] = PHONE_FRACTION
        text = text.str.replace(_WHOLE_DECIMAL_RE, r"\1", regex=True)
    refused = reason.notna()  # already, as a decimal
    cleaned = text.str.replace(r"[\s\-()]", "", regex=True)
    cleaned = cleaned.str.replace(r"^(?:\+86|0086|86)(?=\d{11}$)", "", regex=True)
    empty = (cleaned.isna() | (cleaned == "")) & ~refused
    non_digit = ~empty & ~refused & ~cleaned.str.fullmatch(r"[0-9]+").fillna(False)
    wrong_len = ~empty & ~refused & ~non_digit & (cleaned.str.len() != 11)
    not_mobile = ~empty & ~refused & ~non_digit & ~wrong_len
    not_mobile &= ~cleaned.str.fullmatch(r"1[3-9][0-9]{9}").fillna(False)
    reason[empty] = PHONE_EMPTY
    reason[non_digit] = PHONE_NON_DIGIT
    reason[wrong_len] = PHONE_WRONG_LENGTH
    reason[not_mobile] = PHONE_NOT_MOBILE
    canonical = cleaned.where(reason.isna(), pd.NA)
    return canonical.astype("string"), reason


def written_as_decimals(values: pd.Series) -> int:
    """How many present values of a phone column are decimals (a float column, or
    text like 13800138000.0): the ingestion report says they were converted."""
    if pd.api.types.is_float_dtype(values.dtype):
        return int(values.notna().sum())
    text = values.astype("string").str.strip()
    return int(text.str.fullmatch(_WHOLE_DECIMAL_RE).fillna(False).sum())


# GB 11643-1999: weights 2^(17-i) mod 11 and the check-character table.
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
# ASCII only: str.isdigit() would also accept superscripts and full-width digits.
_ID_SHAPE_RE = re.compile(r"^[0-9]{17}[0-9X]$")
_ID_CHECK_CHARS = "10X98765432"

RESIDENT_ID_MALFORMED = "resident id is not 17 digits plus a check character"
RESIDENT_ID_BAD_CHECKSUM = "resident id check digit does not match"
RESIDENT_ID_BAD_DATE = "resident id birth date is not a valid date"


def resident_id_check_char(first17: str) -> str:
    """Return the GB 11643-1999 check character for the first 17 digits."""
    if not re.fullmatch(r"[0-9]{17}", first17):
        raise ValueError("need exactly 17 ASCII digits")
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def resident_id_rejection_reason(raw: object) -> str | None:
    """Return why `raw` is not a valid 18-character resident ID, or None if valid."""
    text = "" if raw is None or raw is pd.NA else str(raw).strip().upper()
    if not _ID_SHAPE_RE.match(text):
        return RESIDENT_ID_MALFORMED
    if resident_id_check_char(text[:17]) != text[17]:
        return RESIDENT_ID_BAD_CHECKSUM
    try:
        pd.Timestamp(year=int(text[6:10]), month=int(text[10:12]), day=int(text[12:14]))
    except ValueError:
        return RESIDENT_ID_BAD_DATE
    return None


def resident_id_reasons(values: pd.Series) -> pd.Series:
    """Vectorised resident_id_rejection_reason: <NA> where the ID is valid."""
    index = values.index
    values = values.reset_index(drop=True)  # positional work; any index works
    text = values.astype("string").str.strip().str.upper()
    reason = pd.Series(pd.NA, index=values.index, dtype="string")
    shaped = text.str.fullmatch(r"[0-9]{17}[0-9X]").fillna(False).astype(bool)
    reason[~shaped] = RESIDENT_ID_MALFORMED
    ok = text[shaped]
    if len(ok):
        digits = np.frombuffer(
            "".join(ok.str.slice(0, 17).tolist()).encode("ascii"), dtype=np.uint8
        ).reshape(-1, 17) - ord("0")
        expected = np.array(list(_ID_CHECK_CHARS))[(digits @ _ID_WEIGHTS) % 11]
        bad_sum = expected != ok.str.slice(17, 18).to_numpy(dtype=str)
        reason[ok.index[bad_sum]] = RESIDENT_ID_BAD_CHECKSUM
        dates = pd.to_datetime(ok.str.slice(6, 14), format="%Y%m%d", errors="coerce")
        bad_date = dates.isna().to_numpy() & ~bad_sum
        reason[ok.index[bad_date]] = RESIDENT_ID_BAD_DATE
    reason.index = index
    return reason
