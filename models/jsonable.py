"""Conversion of numpy / pandas results into strict-JSON values (NaN and ±inf → null).

Python's ``json`` writes ``NaN`` and ``Infinity`` by default, which other JSON
readers reject; every ``to_dict`` in ``models`` goes through :func:`to_jsonable` so
reports can be written with ``allow_nan=False``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd


def to_jsonable(value: Any) -> Any:
    """Return ``value`` as nested dicts/lists of str, int, float, bool and None.

    Non-finite floats become ``None``; numpy scalars and arrays, pandas frames (as a
    list of row records) and series, and dataclasses are converted recursively; anything
    else unknown is converted with ``str`` so free-form metadata never breaks a report.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return [to_jsonable(item) for item in value.tolist()]
    if isinstance(value, pd.DataFrame):
        return [
            {str(key): to_jsonable(item) for key, item in row.items()}
            for row in value.to_dict(orient="records")
        ]
    if isinstance(value, pd.Series):
        return [to_jsonable(item) for item in value.tolist()]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_dict"):
            return to_jsonable(value.to_dict())
        return {
            field.name: to_jsonable(getattr(value, field.name))
            for field in dataclasses.fields(value)
        }
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(item) for item in value]
    return str(value)
