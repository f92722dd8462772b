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

    Accepts `+86 138-0013-8000`, `8613800138000`, `008613800138000`, `13800138000`
    and integers. Anything else raises InvalidPhoneError with the reason.
    """
    if raw is None or raw is pd.NA or (isinstance(raw, float) and np.isnan(raw)):
        raise InvalidPhoneError(PHONE_EMPTY)
    if isinstance(raw, bool) or isinstance(raw, float):
        # A float phone was already damaged by a reader (1.38e10 loses nothing, but
        # a float column means the schema was not declared as text): refuse it.
        raise InvalidPhoneError(PHONE_NON_DIGIT)
    text = str(raw).strip()
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
    text = values.astype("string")
    is_float = pd.api.types.is_float_dtype(values.dtype)
    cleaned = text.str.strip().str.replace(r"[\s\-()]", "", regex=True)
    cleaned = cleaned.str.replace(r"^(?:\+86|0086|86)(?=\d{11}$)", "", regex=True)
    reason = pd.Series(pd.NA, index=values.index, dtype="string")
    empty = cleaned.isna() | (cleaned == "")
    non_digit = ~empty & ~cleaned.str.fullmatch(r"[0-9]+").fillna(False)
    if is_float:
        non_digit = ~empty
    wrong_len = ~empty & ~non_digit & (cleaned.str.len() != 11)
    not_mobile = ~empty & ~non_digit & ~wrong_len
    not_mobile &= ~cleaned.str.fullmatch(r"1[3-9][0-9]{9}").fillna(False)
    reason[empty] = PHONE_EMPTY
    reason[non_digit] = PHONE_NON_DIGIT
    reason[wrong_len] = PHONE_WRONG_LENGTH
    reason[not_mobile] = PHONE_NOT_MOBILE
    canonical = cleaned.where(reason.isna(), pd.NA)
    return canonical.astype("string"), reason


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
