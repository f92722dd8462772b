"""Local feature binning: fit bin edges / categories on one party's data, reuse them.

Each party bins its own features locally (the edges never leave it); the federated
protocol then only moves per-bin label sums. The same fitted :class:`BinningModel`
transforms training, validation and scoring data, so a bin index always means the same
range or category.

Bin index layout of one column (``n_bins`` indices in all):

- numeric: ``0 .. len(edges)`` are value bins, right-closed ``(e_{i-1}, e_i]`` with open
  outer bins, so values outside the training range land in the first/last bin and ±inf
  count as values; index ``len(edges) + 1`` is the **missing** bin (NaN / None / NA).
- categorical: ``0 .. len(categories) - 1`` are the kept categories (most frequent
  first), then the **other** bin (categories rarer than ``min_category_share`` of all
  rows at fit time, and any category unseen at fit time), then the **missing** bin.

The missing (and other) bins always exist, even when empty at fit time, so new data
always has somewhere to go and count vectors have a fixed length per column.

**Minimum support** (``min_bin_rows``): every bin that holds rows at fit time holds at
least that many. Adjacent numeric value bins are merged (an edge removed), categories
below it join "other", and a missing, "other" or lone value bin still below it is
redirected into the largest bin (``ColumnBinning.merged``: it stays in the layout,
empty, and its values go to the bin it was merged into). A per-bin count is then never
a statement about a handful of rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import pandas as pd

from models.jsonable import to_jsonable

BinningMethod = Literal["quantile", "width"]
MISSING_LABEL = "missing"
OTHER_LABEL = "other"


def quantile_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Inner edges splitting ``values`` into about ``n_bins`` equal-count bins.

    The edges are observed values (inverted-CDF quantiles), so with right-closed bins
    every bin holds at least one of ``values``; tied quantiles merge (fewer bins) and an
    edge at the maximum is dropped because the bin above it would be empty.
    """
    if values.size == 0:
        return np.empty(0)
    levels = np.arange(1, n_bins) / n_bins
    edges = np.unique(np.quantile(values, levels, method="inverted_cdf"))
    return edges[edges < values.max()]


def width_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Inner edges splitting ``[min, max]`` of ``values`` into equal widths."""
    if values.size == 0:
        return np.empty(0)
    edges = np.unique(np.linspace(values.min(), values.max(), n_bins + 1)[1:-1])
    return edges[edges < values.max()]


def _numeric_values(series: pd.Series) -> np.ndarray:
    try:
        return series.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise ValueError(f"column {series.name!r} is not numeric: {error}") from None


@dataclass(frozen=True)
class ColumnBinning:
    """Fitted bins of one column; see the module docstring for the index layout."""

    name: str
    kind: Literal["numeric", "categorical"]
    edges: tuple[float, ...] = ()
    categories: tuple[Any, ...] = ()
    # (from, into) bin index pairs: the "from" bin was merged into the "into" bin to
    # reach the minimum support; it stays in the layout but never receives a row.
    merged: tuple[tuple[int, int], ...] = ()

    @property
    def n_value_bins(self) -> int:
        """Bins before the missing bin (for categorical, including "other")."""
        if self.kind == "numeric":
            return len(self.edges) + 1
        return len(self.categories) + 1

    @property
    def missing_index(self) -> int:
        return self.n_value_bins

    @property
    def other_index(self) -> int | None:
        return len(self.categories) if self.kind == "categorical" else None

    @property
    def n_bins(self) -> int:
        return self.n_value_bins + 1

    def labels(self) -> list[str]:
        """Human-readable bin labels, one per index; a bin that absorbed another says
        so ("(1, 5] + missing"), the emptied one reads "missing (merged)"."""
        if self.kind == "categorical":
            names = [str(category) for category in self.categories] + [OTHER_LABEL]
        else:
            bounds = [-np.inf, *self.edges, np.inf]
            names = [f"({low:.6g}, {high:.6g}]" for low, high in pairwise(bounds)]
            names[-1] = names[-1][:-1] + ")"  # the top bin is open: (e, inf)
        names = [*names, MISSING_LABEL]
        own = list(names)
        for source, target in self.merged:
            names[target] += f" + {own[source]}"
            names[source] = f"{own[source]} (merged)"
        return names

    def transform(self, series: pd.Series) -> np.ndarray:
        """Bin index of every value (int64)."""
        missing = series.isna().to_numpy()
        if self.kind == "numeric":
            values = _numeric_values(series)
            index = np.searchsorted(np.asarray(self.edges, dtype=float), values)
        else:
            # -1 for categories unseen at fit time (and for missing, overridden below).
            codes = pd.Index(list(self.categories)).get_indexer(series)
            index = np.where(codes < 0, len(self.categories), codes)
        index = np.where(missing, self.missing_index, index)
        for source, target in self.merged:  # targets are final: one pass suffices
            index = np.where(index == source, target, index)
        return index.astype(np.int64)

    def with_min_support(self, series: pd.Series, min_rows: int) -> ColumnBinning:
        """This binning with every bin that `series` occupies holding >= `min_rows`
        of its rows (see the module docstring); ValueError if `series` itself has
        fewer rows than that."""
        if min_rows <= 1:
            return self
        if len(series) < min_rows:
            raise ValueError(
                f"column {self.name!r}: {len(series)} rows cannot fill a bin of"
                f" {min_rows}"
            )
        counts = np.bincount(self.transform(series), minlength=self.n_bins)
        spec = self._merged_values(counts, min_rows)
        counts = np.bincount(spec.transform(series), minlength=spec.n_bins)
        return spec._redirected(counts, min_rows)

    def _merged_values(self, counts: np.ndarray, min_rows: int) -> ColumnBinning:
        """Numeric: drop edges between small adjacent value bins; categorical: move
        small categories to "other"."""
        if self.kind == "categorical":
            kept = tuple(
                c for i, c in enumerate(self.categories) if counts[i] >= min_rows
            )
            return replace(self, categories=kept, merged=())
        edges = list(self.edges)
        values = list(counts[: len(edges) + 1])
        while len(values) > 1 and min(values) < min_rows:
            i = int(np.argmin(values))  # the first of the smallest
            if i == 0:
                j = 1
            elif i == len(values) - 1:
                j = i - 1
            else:  # the smaller neighbour, the left one on a tie
                j = i - 1 if values[i - 1] <= values[i + 1] else i + 1
            low = min(i, j)
            values[low : low + 2] = [values[low] + values[low + 1]]
            del edges[low]  # the edge between bins low and low + 1
        return replace(self, edges=tuple(edges), merged=())

    def _redirected(self, counts: np.ndarray, min_rows: int) -> ColumnBinning:
        """Redirect occupied bins still below `min_rows` (missing, other, a lone value
        bin) into the largest other occupied bin, smallest first, until none is."""
        group = list(range(len(counts)))  # bin -> the bin it now counts in

        def sizes() -> dict[int, int]:
            out: dict[int, int] = {}
            for i, g in enumerate(group):
                out[g] = out.get(g, 0) + int(counts[i])
            return {g: n for g, n in out.items() if n > 0}

        while True:
            occupied = sizes()
            small = [g for g, n in occupied.items() if n < min_rows]
            if not small or len(occupied) < 2:
                break
            source = min(small, key=lambda g: (occupied[g], g))
            target = max(
                (g for g in occupied if g != source),
                key=lambda g: (occupied[g], -g),
            )
            group = [target if g == source else g for g in group]
        merged = tuple((i, g) for i, g in enumerate(group) if g != i)
        return replace(self, merged=merged)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(
            {
                "name": self.name,
                "kind": self.kind,
                "edges": list(self.edges),
                "categories": list(self.categories),
                "merged": [list(pair) for pair in self.merged],
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnBinning:
        return cls(
            name=str(data["name"]),
            kind=data["kind"],
            edges=tuple(float(edge) for edge in data.get("edges", ())),
            categories=tuple(data.get("categories", ())),
            merged=tuple(
                (int(source), int(target)) for source, target in data.get("merged", ())
            ),
        )


def _fit_numeric(
    series: pd.Series, method: BinningMethod, n_bins: int
) -> ColumnBinning:
    values = _numeric_values(series)
    # ±inf would make quantiles and widths meaningless; they are still binned later,
    # into the outer bins.
    finite = values[np.isfinite(values)]
    if method == "quantile":
        edges = quantile_edges(finite, n_bins)
    else:
        edges = width_edges(finite, n_bins)
    return ColumnBinning(str(series.name), "numeric", edges=tuple(edges.tolist()))


def _fit_categorical(series: pd.Series, min_category_share: float) -> ColumnBinning:
    counts = series.value_counts(dropna=True)
    kept = counts[counts / max(series.size, 1) >= min_category_share]
    # Most frequent first; ties ordered by text so the layout is deterministic.
    ordered = sorted(kept.items(), key=lambda item: (-item[1], str(item[0])))
    categories = tuple(category for category, _ in ordered)
    return ColumnBinning(str(series.name), "categorical", categories=categories)


def _is_categorical(series: pd.Series) -> bool:
    dtype = series.dtype
    return pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype)


@dataclass(frozen=True)
class BinningModel:
    """Fitted bins of several columns, in fit order."""

    columns: Mapping[str, ColumnBinning]

    @classmethod
    def fit(
        cls,
        df: pd.DataFrame,
        columns: Sequence[str] | None = None,
        *,
        method: BinningMethod = "quantile",
        n_bins: int = 10,
        categorical: Sequence[str] = (),
        min_category_share: float = 0.01,
        min_bin_rows: int = 0,
    ) -> BinningModel:
        """Fit bins on ``df[columns]`` (all columns when None).

        Numeric columns get ``n_bins`` equal-frequency (``method="quantile"``) or
        equal-width (``"width"``) value bins, fewer when values tie. Columns in
        ``categorical``, and non-numeric or bool columns, get one bin per category;
        categories below ``min_category_share`` of all rows go to "other". With
        ``min_bin_rows``, every bin holding rows of ``df`` holds at least that many
        (module docstring); ValueError if ``df`` has fewer rows than that.
        """
        names = list(df.columns if columns is None else columns)
        absent = [name for name in [*names, *categorical] if name not in df.columns]
        if absent:
            raise ValueError(f"columns not in data: {absent}")
        if n_bins < 1:
            raise ValueError(f"n_bins must be at least 1, got {n_bins}")
        if method not in ("quantile", "width"):
            raise ValueError(f"method must be 'quantile' or 'width', got {method!r}")
        if not 0 <= min_category_share < 1:
            raise ValueError(
                f"min_category_share must be in [0, 1), got {min_category_share}"
            )
        fitted: dict[str, ColumnBinning] = {}
        for name in names:
            series = df[name]
            if name in categorical or _is_categorical(series):
                spec = _fit_categorical(series, min_category_share)
            else:
                spec = _fit_numeric(series, method, n_bins)
            fitted[name] = spec.with_min_support(series, min_bin_rows)
        return cls(fitted)

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Bin indices (int64) of every fitted column, with ``df``'s index."""
        absent = [name for name in self.columns if name not in df.columns]
        if absent:
            raise ValueError(f"columns missing from data to transform: {absent}")
        return pd.DataFrame(
            {name: spec.transform(df[name]) for name, spec in self.columns.items()},
            index=df.index,
        )

    @property
    def n_bins(self) -> dict[str, int]:
        """Number of bin indices per column (value bins + other + missing)."""
        return {name: spec.n_bins for name, spec in self.columns.items()}

    def labels(self, column: str) -> list[str]:
        return self.columns[column].labels()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (no pickle: models are stored and compared as data)."""
        return {"columns": [spec.to_dict() for spec in self.columns.values()]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BinningModel:
        specs = [ColumnBinning.from_dict(item) for item in data["columns"]]
        return cls({spec.name: spec for spec in specs})
