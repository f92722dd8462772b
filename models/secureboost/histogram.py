"""Fixed-point gradients and per-bin (G, H) histograms in exact integers.

Gradients and hessians are carried as round(v * 2**scale_bits) (int64). The bank
encrypts exactly these integers and the reference trainer sums exactly these integers,
so a histogram decrypted by the bank equals the plaintext one bit for bit, and both
pick the same splits. A histogram is an int64 array (total bins, 2): columns G and H,
rows the bins of the layout's features in order, each feature's value bins then its
missing bin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# 2^-20 resolution: below float32's (XGBoost's gradient type) for |g| <= 1, and small
# enough that a (g, h) pair with headroom for 2^20 rows fits 2 x 42 bits.
GRADIENT_SCALE_BITS = 20


@dataclass(frozen=True)
class GradientCodec:
    """Fixed-point scale and the declared bound of one encoded g or h."""

    scale_bits: int = GRADIENT_SCALE_BITS
    # |encoded| < 2**value_bits; |g| <= 1 and h <= 0.5, times the GOSS amplification.
    value_bits: int = GRADIENT_SCALE_BITS + 1

    @classmethod
    def for_amplification(cls, amplification: float) -> GradientCodec:
        """Codec whose bound covers |g|, h <= amplification (GOSS weights)."""
        extra = max(0, int(np.ceil(np.log2(max(amplification, 1.0)))))
        return cls(GRADIENT_SCALE_BITS, GRADIENT_SCALE_BITS + 1 + extra)

    def encode(self, values: np.ndarray) -> npt.NDArray[np.int64]:
        scaled = np.rint(
            np.ldexp(np.asarray(values, dtype=np.float64), self.scale_bits)
        )
        if not np.all(np.abs(scaled) < 2.0**self.value_bits):
            bound = self.value_bits - self.scale_bits
            raise OverflowError(f"a gradient exceeds the declared bound 2**{bound}")
        return scaled.astype(np.int64)

    def decode(self, ints: npt.ArrayLike) -> np.ndarray:
        return np.ldexp(np.asarray(ints, dtype=np.float64), -self.scale_bits)


@dataclass(frozen=True)
class BinLayout:
    """Which features a histogram covers and how many value bins each has."""

    features: tuple[int, ...]
    n_bins: tuple[int, ...]  # value bins per listed feature; +1 missing bin each

    def __post_init__(self) -> None:
        if len(self.features) != len(self.n_bins):
            raise ValueError("layout: features and n_bins differ in length")

    @property
    def widths(self) -> np.ndarray:
        return np.asarray(self.n_bins, dtype=np.int64) + 1

    @property
    def offsets(self) -> np.ndarray:
        """Start of each feature's bins; offsets[-1] is the total."""
        return np.concatenate(([0], np.cumsum(self.widths)))

    @property
    def total_bins(self) -> int:
        return int(self.widths.sum())

    def select(self, features: tuple[int, ...]) -> BinLayout:
        """The layout of a subset of this layout's features (in the given order)."""
        index = {f: i for i, f in enumerate(self.features)}
        return BinLayout(features, tuple(self.n_bins[index[f]] for f in features))


def build_histogram(
    bins: npt.NDArray[np.uint16],
    layout: BinLayout,
    gh: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """Exact (G, H) sums per bin of the layout's features over the given rows.

    bins: (rows, all features) bin indices; gh: (rows, 2) encoded (g, h).
    """
    offsets = layout.offsets
    columns = bins[:, list(layout.features)].astype(np.int64) + offsets[:-1]
    flat = columns.ravel()
    out = np.empty((layout.total_bins, 2), dtype=np.int64)
    n_features = len(layout.features)
    for slot in range(2):
        weights = np.repeat(gh[:, slot].astype(np.float64), n_features)
        # Sums stay below 2**53 (|v| < 2**26, rows < 2**26), so float64 is exact.
        sums = np.bincount(flat, weights=weights, minlength=layout.total_bins)
        out[:, slot] = np.rint(sums).astype(np.int64)
    return out


def check_exact_sum_bound(value_bits: int, rows: int) -> None:
    """Refuse row counts whose histogram sums could leave float64's exact range."""
    if value_bits + int(np.ceil(np.log2(max(rows, 2)))) > 52:
        raise ValueError(f"{rows} rows of {value_bits}-bit gradients exceed 2**52")
