"""FATE's public vertical splits (data/fate/) as two parties' phone-keyed files.

The FATE files join on an integer `id`; our nodes join on phone numbers through PSI.
Both parties map the shared id to the same synthetic mobile number (prefix 170, a
virtual-operator range, plus the zero-padded id), so the PSI finds exactly FATE's join.
The guest (with `y`) becomes the bank, the host the operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parent.parent / "data" / "fate"
FILES = {
    "breast": ("breast_hetero_guest.csv", "breast_hetero_host.csv"),
    "default_credit": (
        "default_credit_hetero_guest.csv.gz",
        "default_credit_hetero_host.csv.gz",
    ),
    "vehicle_scale": (
        "vehicle_scale_hetero_guest.csv",
        "vehicle_scale_hetero_host.csv",
    ),
}


@dataclass(frozen=True)
class PartyFiles:
    bank: Path
    operator: Path
    bank_features: list[str]
    operator_features: list[str]


def phone_of(ids: pd.Series) -> pd.Series:
    return "170" + ids.astype(int).astype(str).str.zfill(8)


def load_joined(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    guest_file, host_file = FILES[name]
    return pd.read_csv(DATA / guest_file), pd.read_csv(DATA / host_file)


def write_party_files(name: str, out: Path) -> PartyFiles:
    """Write bank.csv (phone, y, b_*) and operator.csv (phone, o_*) under `out`."""
    guest, host = load_joined(name)
    out.mkdir(parents=True, exist_ok=True)
    bank = guest.rename(
        columns={c: f"b_{c}" for c in guest.columns if c.startswith("x")}
    )
    bank.insert(0, "phone", phone_of(bank.pop("id")))
    operator = host.rename(
        columns={c: f"o_{c}" for c in host.columns if c.startswith("x")}
    )
    operator.insert(0, "phone", phone_of(operator.pop("id")))
    bank_path, operator_path = out / "bank.csv", out / "operator.csv"
    bank.to_csv(bank_path, index=False)
    operator.to_csv(operator_path, index=False)
    return PartyFiles(
        bank_path,
        operator_path,
        [c for c in bank.columns if c.startswith("b_")],
        [c for c in operator.columns if c.startswith("o_")],
    )
