"""The operator's rules on what an evaluation may reveal about its per-row scores.

In an evaluation (protocol/evaluation) the bank decrypts the multiset of joint scores
s = b + o of a split and knows its own part b_i of every row. If the operator's parts
o bunch up, the bank can find where, then test for each row i whether b_i + v (v a
bunch's value) is in the multiset, and so read the operator's score of the rows in
the bunch: a job on two categorical features has 6 values; two numeric features with
integer values give groups of dozens of identical scores.

A bunch of c rows within a width w stands out against the chance coincidences of the
n^2 differences s_j - b_i, about C = n^2 w / R of them for a range R ~ 3 spread, only
once c is several times sqrt(C) = 0.058 n sqrt(100 w / spread): a bunch of 2.6
sqrt(C) is an excess that chance produces in some of the thousands of windows the bank
would have to search. So the rule allows, in any window of width spread / 10^k
(spread = p99 - p1 of the operator's scores of the split, k = 2..8; at k = 8 the
window is about one fixed-point unit of the evaluation), at most

    max(policy.max_rows_per_score, policy.max_score_share * n * 10^(-(k - 2) / 2))

rows: `max_score_share` of the split within 1/100 of the spread, falling with the
square root of the width below that, never fewer than `max_rows_per_score` (that many
exactly tied rows drown among the chance coincidences once a split has a few hundred
rows). The square root is the normal approximation of the chance count, and fails
where C is about one or less: there the allowance is the excess of the Poisson count
at the same tail (2.6 sigma for the default share), e.g. 3 rows within 1/10^4 of the
spread at 171 rows (C = 1), where the approximation would allow 2 and refuse about 6%
of smooth score vectors. A smooth distribution has about 2 n w / spread rows per
window, well inside.
Identical operator feature rows get one score under any weights, so they are checked
at setup against the finest scale, before any evaluation.

The second rule is about order. If the operator's scores vary little compared with
the bank's own partial scores, sorting the multiset sorts the rows by the bank's part,
and the bank can pair the k-th largest joint score with the row of its k-th largest
partial score: s - b is then that row's operator score. A row keeps its rank unless
other rows' operator scores move them past it, about
C = n * spread(operator) / spread(bank) of them (spreads p99 - p1); simulated on normal
scores, the rank-matched guess is exactly right for about 2.6 / C of the rows (26% at
C = 10, 2.6% at 100, 1.2% at 200) and the bank cannot tell which. The operator
refuses when C is below `policy.min_rank_mixing` (200), with the spread of the bank's
partial scores that the bank sends with its request; as everywhere in this protocol
the bank is trusted to follow it (honest-but-curious).

What they leave: the multiset of joint scores itself (the model's evaluation), through
it the distribution of the operator's scores in aggregate, and for the most extreme
rows of the bank's scores a weak chance of guessing which joint score is theirs.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.stats import norm, poisson

from node_core.config import CounterpartPolicy
from protocol.domain import Split
from protocol.errors import PermissionDenied

SCALES = range(2, 9)  # windows of spread / 10^k


def chance_excess(rows: int, scale: int, policy: CounterpartPolicy) -> float:
    """The excess over its mean C = n^2 10^-k / 3 that the Poisson count of chance
    coincidences in one window reaches at the tail that max_score_share sets (its
    share of n at k = 2 is that many standard deviations: 2.6 for 0.15)."""
    mean = rows**2 * 10.0**-scale / 3
    tail = float(norm.sf(policy.max_score_share * 10 * np.sqrt(3)))
    return float(poisson.isf(tail, mean)) - mean


def allowed_rows(rows: int, scale: int, policy: CounterpartPolicy) -> float:
    """Most rows of a split of `rows` allowed within spread / 10^scale."""
    return max(
        float(policy.max_rows_per_score),
        policy.max_score_share * rows * 10 ** (-(scale - 2) / 2),
        chance_excess(rows, scale, policy),
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


def rank_mixing(values: np.ndarray, bank_spread: float) -> float:
    """About how many rows the operator's scores move each row past in the order of
    the bank's partial scores: n * spread(operator) / spread(bank)."""
    low, high = np.percentile(np.asarray(values, dtype=np.float64), [1, 99])
    if bank_spread <= 0:
        return float("inf")
    return len(values) * float(high - low) / bank_spread


def check_contribution(
    values: np.ndarray, bank_spread: float, split: Split, policy: CounterpartPolicy
) -> None:
    """Refuse operator scores so flat against the bank's that the multiset's order
    would pair rows with their joint scores."""
    mixing = rank_mixing(values, bank_spread)
    if mixing < policy.min_rank_mixing:
        raise PermissionDenied(
            f"the operator's scores of the {split.value} split move each row past"
            f" about {mixing:.0f} others in the order of the bank's scores, fewer"
            f" than {policy.min_rank_mixing:g} (policy.min_rank_mixing): the joint"
            " scores' order would follow the bank's and pair rows with their scores"
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
