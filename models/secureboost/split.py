"""Split finding on exact (G, H) histograms: XGBoost's gain, default direction, leaves.

For a node with sums (G, H) and a candidate sending (G_L, H_L) left:

    loss_chg = G_L^2 / (H_L + lambda) + G_R^2 / (H_R + lambda) - G^2 / (H + lambda)

(XGBoost's unhalved form; gamma = min_split_loss is compared with it when pruning).
A candidate is valid when both children have H >= min_child_weight. Every split after
value bin b is tried twice: missing rows right (default_left False) and left; after
the last value bin only with missing right (present values left, missing right, as
XGBoost's cut above the maximum). The
order of candidates is fixed (feature, bin, missing right before left) and the first
maximum wins, so two implementations on the same integers choose the same split.
Leaf weight: -G / (H + lambda) * eta, 0 when H < min_child_weight (as XGBoost).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.secureboost.histogram import BinLayout, GradientCodec
from models.secureboost.params import BoostParams

# XGBoost's kRtEps: a split must improve the loss by more than this.
MIN_LOSS_CHANGE = 1e-6


@dataclass(frozen=True)
class SplitCandidate:
    """The best split of one party's features at a node (indices in the layout)."""

    loss_change: float
    feature: int  # the party's own feature index (layout.features[i])
    bin: int  # value bins <= bin go left
    default_left: bool
    left_sums: tuple[int, int]  # exact encoded (G_L, H_L)


def node_gain(g: float, h: float, reg_lambda: float) -> float:
    return g * g / (h + reg_lambda)


def best_split(
    histogram: npt.NDArray[np.int64],
    layout: BinLayout,
    node_sums: tuple[int, int],
    params: BoostParams,
    codec: GradientCodec,
) -> SplitCandidate | None:
    """The best valid candidate over the layout's features, or None."""
    best: SplitCandidate | None = None
    offsets = layout.offsets
    total = np.asarray(node_sums, dtype=np.int64)
    g_total, h_total = codec.decode(total)
    parent = node_gain(float(g_total), float(h_total), params.reg_lambda)
    for i, feature in enumerate(layout.features):
        n_bins = layout.n_bins[i]
        block = histogram[offsets[i] : offsets[i + 1]]
        # Exact integer prefix sums: split after bin b for b = 0 .. n_bins - 1; the
        # last one (every value left, missing right) separates missing from present.
        left = np.cumsum(block[:n_bins], axis=0)
        missing = block[n_bins]
        left_both = np.stack([left, left + missing])  # (direction, bin, slot)
        right_both = total - left_both
        gl, hl = codec.decode(left_both[..., 0]), codec.decode(left_both[..., 1])
        gr, hr = codec.decode(right_both[..., 0]), codec.decode(right_both[..., 1])
        lam = params.reg_lambda
        change = gl * gl / (hl + lam) + gr * gr / (hr + lam) - parent
        valid = (hl >= params.min_child_weight) & (hr >= params.min_child_weight)
        valid[1, n_bins - 1] = False  # everything left
        change = np.where(valid, change, -np.inf)
        # Candidate order: bin ascending, missing right (0) before left (1).
        flat = change.T.ravel()
        k = int(np.argmax(flat))
        value = float(flat[k])
        if value > MIN_LOSS_CHANGE and (best is None or value > best.loss_change):
            b, direction = divmod(k, 2)
            sums = left_both[direction, b]
            best = SplitCandidate(
                value, feature, b, bool(direction), (int(sums[0]), int(sums[1]))
            )
    return best


def leaf_weight(
    node_sums: tuple[int, int], params: BoostParams, codec: GradientCodec
) -> float:
    g, h = (float(v) for v in codec.decode(np.asarray(node_sums)))
    if h < params.min_child_weight or h <= 0.0:
        return 0.0
    return -g / (h + params.reg_lambda) * params.learning_rate


def can_split(
    node_sums: tuple[int, int], params: BoostParams, codec: GradientCodec
) -> bool:
    """A node whose hessian cannot give two children >= min_child_weight is a leaf."""
    h = float(codec.decode(np.asarray(node_sums[1])))
    return h >= 2.0 * params.min_child_weight and h > 0.0
