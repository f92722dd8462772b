"""`--dirty`: plant malformed rows and valid-but-unusual phone formats, with a manifest.

Ingestion must reject exactly the planted bad rows and accept the formatting variants
after normalisation; dirty_manifest.json lists both so tests can check that. Each bad
row carries exactly one defect, rows are chosen without overlap, and a duplicate is
always inserted *after* its original: the later occurrence is the one to reject.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

BAD_PHONE = "bad_phone"
BAD_RESIDENT_ID = "bad_resident_id"
DUPLICATE_ID = "duplicate_id"
BAD_TYPE = "bad_type"
MISSING_REQUIRED = "missing_value_in_required_column"
REASONS = (BAD_PHONE, BAD_RESIDENT_ID, DUPLICATE_ID, BAD_TYPE, MISSING_REQUIRED)
VALID_VARIANT = "valid_variant"

# Share of rows per defect class in each dirty table (at least _MIN_PER_CLASS each).
_RATE = 0.002
_MIN_PER_CLASS = 1
_BAD_TYPE_VALUES = ("abc", "12,5", "N/A?", "1.2.3", "--", "¥300", "twelve")
_ID_CHECK = "10X98765432"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


@dataclass(frozen=True)
class DirtyTarget:
    """How to dirty one kind of table: its id and identity columns, numeric victims."""

    id_column: str
    required: tuple[str, ...]
    bad_type_columns: tuple[str, ...]


SUBSCRIBERS = DirtyTarget(
    "phone",
    ("phone", "name", "resident_id"),
    ("acct_bill_avg_3m_cny", "usage_data_gb_m"),
)
CUSTOMERS = DirtyTarget(
    "phone", ("phone", "name", "resident_id"), ("bank_deposit_avg_3m_cny",)
)
APPLICANTS = DirtyTarget(
    "phone", ("phone", "name", "resident_id"), ("bank_credit_limit_cny",)
)


def target_for(relative: str) -> DirtyTarget | None:
    """The dirty plan of a table path (without extension), or None to leave it clean."""
    if relative == "operator/subscribers":
        return SUBSCRIBERS
    if relative.startswith("banks/") and relative.endswith("/customers"):
        return CUSTOMERS
    if relative.startswith("banks/") and relative.endswith("/applicants"):
        return APPLICANTS
    return None


def _check_char(first17: str) -> str:
    return _ID_CHECK[
        sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11
    ]


def _bad_phone(phone: str, rng: np.random.Generator) -> tuple[str, str]:
    kind = ("too_short", "too_long", "letter", "landline", "not_mobile_prefix")[
        rng.integers(0, 5)
    ]
    if kind == "too_short":
        return phone[:-1], kind
    if kind == "too_long":
        return phone + str(rng.integers(0, 10)), kind
    if kind == "letter":
        return phone[:3] + "O" + phone[4:], kind
    if kind == "landline":
        return "010-" + phone[-8:], kind
    return "12" + phone[2:], kind


def _bad_resident_id(rid: str, rng: np.random.Generator) -> tuple[str, str]:
    kind = ("bad_checksum", "wrong_length", "bad_date", "letter")[rng.integers(0, 4)]
    if kind == "bad_checksum":
        wrong = [c for c in _ID_CHECK if c != rid[17]]
        return rid[:17] + wrong[rng.integers(0, len(wrong))], kind
    if kind == "wrong_length":
        return rid[:16] + rid[17], kind
    if kind == "bad_date":
        # Month 13 with a correct check digit: only the date check can catch it.
        first17 = rid[:10] + "13" + rid[12:17]
        return first17 + _check_char(first17), kind
    return rid[:8] + "A" + rid[9:], kind


def phone_variant(phone: str, rng: np.random.Generator) -> str:
    """A valid way of writing `phone` that normalises back to it."""
    a, b, c = phone[:3], phone[3:7], phone[7:]
    forms = (
        f"+86 {a}-{b}-{c}", f"86{phone}", f"+86{phone}", f"0086{phone}",
        f"{a} {b} {c}", f"{a}-{b}-{c}", f" {phone} ", f"(+86) {a} {b} {c}",
    )  # fmt: skip
    return forms[rng.integers(0, len(forms))]


@dataclass
class Planted:
    table: pa.Table
    rejected: list[dict]  # rows are positions inside this block's table
    valid_variants: list[dict]


def plant(table: pa.Table, target: DirtyTarget, rng: np.random.Generator) -> Planted:
    n = table.num_rows
    per_class = max(_MIN_PER_CLASS, int(round(_RATE * n)))
    n_bad_type = per_class * len(target.bad_type_columns)
    # Disjoint victims: duplicates' originals, bad phones, bad IDs, bad types,
    # missing values, valid variants.
    sizes = [per_class, per_class, per_class, n_bad_type, per_class, per_class]
    if n < sum(sizes) * 2:
        return Planted(table, [], [])
    victims = rng.choice(n, size=sum(sizes), replace=False)
    groups = np.split(victims, np.cumsum(sizes)[:-1])
    dup_orig, phone_rows, rid_rows, type_rows, missing_rows, variant_rows = groups

    # Insert each duplicate somewhere after its original (fractional sort keys).
    copy_keys = dup_orig + rng.uniform(0.01, 1.0, dup_orig.size) * (n - dup_orig)
    keys = np.concatenate([np.arange(n, dtype=np.float64), copy_keys])
    source = np.concatenate([np.arange(n), dup_orig])
    order = np.argsort(keys, kind="stable")
    position = np.empty(order.size, dtype=np.int64)
    position[order] = np.arange(order.size)  # final position of each source slot
    table = table.take(pa.array(source[order]))

    columns = {name: table.column(name) for name in table.column_names}
    edits: dict[str, dict[int, object]] = {}
    rejected: list[dict] = []
    variants: list[dict] = []

    def edit(column: str, row: int, value: object) -> None:
        edits.setdefault(column, {})[row] = value

    def cell(column: str, row: int) -> str:
        return str(columns[column][row].as_py())

    for k, orig in enumerate(dup_orig):
        copy_at = int(position[n + k])
        entry = {
            "row": copy_at,
            "column": target.id_column,
            "reason": DUPLICATE_ID,
            "detail": "exact_copy",
            "duplicate_of_row": int(position[orig]),
        }
        if k % 2 and "name" in columns:
            # A conflicting record under the same id: another person's name.
            other = int(position[(orig + 1) % n])
            edit("name", copy_at, cell("name", other))
            entry["detail"] = "same_id_different_name"
        rejected.append(entry)
    for orig in phone_rows:
        row = int(position[orig])
        value, kind = _bad_phone(cell("phone", row), rng)
        edit("phone", row, value)
        rejected.append(
            {"row": row, "column": "phone", "reason": BAD_PHONE, "detail": kind}
        )
    for orig in rid_rows:
        row = int(position[orig])
        value, kind = _bad_resident_id(cell("resident_id", row), rng)
        edit("resident_id", row, value)
        rejected.append(
            {
                "row": row,
                "column": "resident_id",
                "reason": BAD_RESIDENT_ID,
                "detail": kind,
            }
        )
    for j, orig in enumerate(type_rows):
        row = int(position[orig])
        column = target.bad_type_columns[j % len(target.bad_type_columns)]
        value = _BAD_TYPE_VALUES[rng.integers(0, len(_BAD_TYPE_VALUES))]
        edit(column, row, value)
        rejected.append(
            {"row": row, "column": column, "reason": BAD_TYPE, "detail": value}
        )
    for orig in missing_rows:
        row = int(position[orig])
        column = target.required[rng.integers(0, len(target.required))]
        missing: str | None = None if rng.random() < 0.7 else ""
        edit(column, row, missing)
        detail = "null" if missing is None else "empty_string"
        rejected.append(
            {"row": row, "column": column, "reason": MISSING_REQUIRED, "detail": detail}
        )
    for orig in variant_rows:
        row = int(position[orig])
        canonical = cell("phone", row)
        value = phone_variant(canonical, rng)
        edit("phone", row, value)
        variants.append(
            {"row": row, "column": "phone", "value": value, "canonical": canonical}
        )

    # Numeric victims become text columns in every block (the schema must not change
    # between blocks), numbers written as plain decimal strings and NaN as null.
    for name in target.bad_type_columns:
        values = columns[name]
        if pa.types.is_floating(values.type):
            values = pc.if_else(pc.is_nan(values), None, values)
        columns[name] = pc.cast(values, pa.string())
    for name, changes in edits.items():
        values = columns[name].to_numpy(zero_copy_only=False).astype(object)
        for row, new_value in changes.items():
            values[row] = new_value
        columns[name] = pa.array(values, type=pa.string())
    out = pa.table({name: columns[name] for name in table.column_names})
    rejected.sort(key=lambda e: e["row"])
    variants.sort(key=lambda e: e["row"])
    return Planted(out, rejected, variants)
