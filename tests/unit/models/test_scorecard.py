"""Tests of models.scorecard: scaling anchors, inverse, and WOE-LR points per bin."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from models.binning import BinningModel
from models.scorecard import (
    ScorecardScale,
    probability_from_score,
    score_from_logit,
    score_from_probability,
    scorecard_points,
)
from models.woe import woe_iv_table, woe_transform


def test_score_from_probability_gives_base_points_if_odds_equal_base_odds() -> None:
    # Prepare: good:bad odds of 50:1.
    p = 1 / 51

    # Execute
    score = score_from_probability(p)

    # Assert
    assert score == pytest.approx(600.0)


def test_score_from_probability_adds_pdo_if_good_odds_double() -> None:
    # Prepare: 100:1 and 200:1.
    probabilities = np.array([1 / 101, 1 / 201])

    # Execute
    scores = score_from_probability(probabilities)

    # Assert
    np.testing.assert_allclose(scores, [620.0, 640.0])


def test_score_from_logit_equals_offset_if_logit_zero() -> None:
    # Prepare: factor = 20 / ln 2, offset = 600 − factor · ln 50 ≈ 487.123.
    scale = ScorecardScale()

    # Execute
    score = score_from_logit(0.0)

    # Assert
    assert scale.factor == pytest.approx(28.853900817779268)
    assert score == pytest.approx(600 - 20 / math.log(2) * math.log(50))


def test_score_from_probability_decreases_if_risk_increases() -> None:
    # Prepare
    probabilities = np.linspace(0.01, 0.99, 50)

    # Execute
    scores = score_from_probability(probabilities)

    # Assert
    assert np.all(np.diff(scores) < 0)


def test_score_from_probability_uses_custom_scale_if_given() -> None:
    # Prepare: 500 points at 1:1, 50 points to double.
    scale = ScorecardScale(base_points=500, base_odds=1, pdo=50)

    # Execute
    scores = score_from_probability(np.array([0.5, 0.2]), scale=scale)

    # Assert: odds 1 and 4 → 500 and 500 + 2·50.
    np.testing.assert_allclose(scores, [500.0, 600.0])


def test_probability_from_score_inverts_score_if_round_trip() -> None:
    # Prepare
    probabilities = np.array([0.001, 0.2, 0.5, 0.93])

    # Execute
    restored = probability_from_score(score_from_probability(probabilities))

    # Assert
    np.testing.assert_allclose(restored, probabilities)


def test_scorecard_points_equal_hand_computed_if_one_feature() -> None:
    # Prepare: β = 1, α = 0, WOE = ln 2 halves the good odds → 20 points fewer.
    woe = {"calls": np.array([math.log(2), 0.0])}

    # Execute
    card = scorecard_points({"calls": 1.0}, 0.0, woe, bin_labels={"calls": ["a", "b"]})

    # Assert
    offset = ScorecardScale().offset
    np.testing.assert_allclose(card.points["calls"], [offset - 20, offset])
    assert list(card.table["label"]) == ["a", "b"]


def test_scorecard_points_sum_to_model_score_if_lr_fitted_on_woe(
    default_credit,
) -> None:
    # Prepare: WOE-encoded LR on four operator features.
    names = ["x0_operator", "x5_operator", "x6_operator", "x4_operator"]
    features = default_credit[names]
    labels = default_credit["y"].to_numpy()
    binning = BinningModel.fit(features)
    tables = woe_iv_table(features, labels, binning=binning)
    woe = {name: tables[name].woe for name in names}
    bins = binning.transform(features)
    encoded = woe_transform(bins, woe)
    model = LogisticRegression().fit(encoded.to_numpy(), labels)
    coefficients = dict(zip(names, model.coef_[0], strict=True))

    # Execute
    card = scorecard_points(
        coefficients,
        float(model.intercept_[0]),
        woe,
        bin_labels={name: binning.labels(name) for name in names},
    )

    # Assert
    expected = score_from_probability(model.predict_proba(encoded.to_numpy())[:, 1])
    np.testing.assert_allclose(card.score(bins), expected, rtol=1e-10)
    assert len(card.table) == sum(binning.n_bins.values())
    assert model.coef_[0][1] > 0  # WOE = ln(dist_pos/dist_neg) → positive β


def test_scorecard_points_add_up_if_each_party_builds_its_own_features() -> None:
    # Prepare
    woe = {"bank": np.array([0.2, -0.1]), "op1": np.array([0.5, -0.4, 0.0])}
    woe["op2"] = np.array([1.0, -1.0])
    coefficients = {"bank": 0.8, "op1": 1.1, "op2": 0.3}
    joint = scorecard_points(coefficients, -1.2, woe)

    # Execute
    bank = scorecard_points({"bank": 0.8}, -1.2, woe, n_features=3)
    operator = scorecard_points({"op1": 1.1, "op2": 0.3}, -1.2, woe, n_features=3)

    # Assert
    parts = {**bank.points, **operator.points}
    for name in coefficients:
        np.testing.assert_allclose(parts[name], joint.points[name])


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: score_from_probability(0.0), "p must lie strictly between 0 and 1"),
        (
            lambda: score_from_probability(np.array([0.5, np.nan])),
            "p contains NaN or infinite values",
        ),
        (lambda: ScorecardScale(pdo=0), "pdo must be positive, got 0"),
        (lambda: ScorecardScale(base_odds=-1), "base_odds must be positive, got -1"),
        (
            lambda: scorecard_points({"a": 1.0}, 0.0, {"b": [0.1]}),
            "features without WOE values: ['a']",
        ),
        (
            lambda: scorecard_points(
                {"a": 1.0, "b": 1.0}, 0.0, {"a": [0], "b": [0]}, n_features=1
            ),
            "n_features must be at least the 2 features given",
        ),
    ],
)
def test_scorecard_raises_value_error_if_input_is_bad(call, message: str) -> None:
    # Prepare: see parameters.

    # Execute / Assert
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
