"""The operator's rule on what an evaluation may reveal about its per-row scores.

In an evaluation (protocol/evaluation) the bank decrypts the multiset of joint scores
s = b + o of a split and knows its own part b_i of every row. If the operator's parts
o bunch up, the bank can find where, then test for each row i whether b_i + v (v a
bunch's value) is in the multiset, and so read the operator's score of the rows in
the bunch: a job on two categorical features has 6 values; two numeric features with
integer values give groups of dozens of identical scores.

A bunch of c rows within a width w stands out against the chance coincidences of the
n^2 differences s_j - b_i, about C = n^2 w / R of them for a range R ~ 3 spread, once
c exceeds about twice sqrt(C), i.e. 0.1 n sqrt(100 w / spread). So the rule allows, in
any window of width spread / 10^k (spread = p99 - p1 of the operator's scores of the
split, k = 2..8; at k = 8 the window is about one fixed-point unit of the
evaluation), at most

    max(policy.max_rows_per_score, policy.max_score_share * n * 10^(-(k - 2) / 2))

rows: `max_score_share` of the split within 1/100 of the spread, falling with the
square root of the width below that, never fewer than `max_rows_per_score` (that many
exactly tied rows drown among the chance coincidences once a split has a few hundred
rows). A smooth distribution has about 2 n w / spread rows per window, well inside.
Identical operator feature rows get one score under any weights, so they are checked
at setup against the finest scale, before any evaluation.

What it leaves: the multiset of joint scores itself (the model's evaluation), and
through it the distribution of the operator's scores in aggregate.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from node_core.config import CounterpartPolicy
from protocol.domain import Split
from protocol.errors import PermissionDenied

SCALES = range(2, 9)  # windows of spread / 10^k


def allowed_rows(rows: int, scale: int, policy: CounterpartPolicy) -> float:
    """Most rows of a split of `rows` allowed within spread / 10^scale."""
    return max(
        float(policy.max_rows_per_score),
        policy.max_score_share * rows * 10 ** (-(scale - 2) / 2),
    )


def densest_window(values: np.ndarray, width: float) -> int:
    """Most values inside one closed window of `width`."""
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    ends = np.searchsorted(ordered, ordered + width, side="right")
    return int((ends - np.arange(len(ordered))).max(initial=0))


def largest_identical_rows(features: np.ndarray) -> int:
    """Most rows with exactly the same feature values."""
    if len(features) == 0:
        return 0
    _, counts = np.unique(np.asarray(features), axis=0, return_counts=True)
    return int(counts.max())


def _policy_keys(policy: CounterpartPolicy) -> str:
    return (
        f"policy.max_rows_per_score = {policy.max_rows_per_score},"
        f" policy.max_score_share = {policy.max_score_share:g}"
    )


def check_scores(values: np.ndarray, split: Split, policy: CounterpartPolicy) -> None:
    """Refuse a split's operator scores whose bunches the bank could read rows of."""
    scores = np.asarray(values, dtype=np.float64)
    low, high = np.percentile(scores, [1, 99])
    for scale in SCALES:
        count = densest_window(scores, float(high - low) / 10**scale)
        allowed = allowed_rows(len(scores), scale, policy)
        if count > allowed:
            raise PermissionDenied(
                f"{count} rows of the {split.value} split have operator scores"
                f" within 1e-{scale} of their spread, more than the {allowed:.0f}"
                f" allowed ({_policy_keys(policy)}): the evaluation would single"
                " them out"
            )


def check_feature_rows(
    features: np.ndarray,
    positions: Mapping[Split, np.ndarray],
    policy: CounterpartPolicy,
) -> None:
    """Refuse, before any evaluation, a model whose operator features give too many
    rows of a split one score under any weights (identical rows)."""
    for split, rows in positions.items():
        same = largest_identical_rows(features[rows])
        allowed = allowed_rows(len(rows), SCALES[-1], policy)
        if same > allowed:
            raise PermissionDenied(
                f"{same} rows of the {split.value} split have identical values of"
                f" the job's operator features, so any model gives them one score,"
                f" more than the {allowed:.0f} allowed ({_policy_keys(policy)}):"
                " the evaluation would single them out"
            )
