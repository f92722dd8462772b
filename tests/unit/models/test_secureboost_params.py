"""Tests of models.secureboost.params: bad options are refused with a clear message."""

from __future__ import annotations

import pytest

from models.secureboost.params import BoostParams, InvalidParams


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_depth": 0}, "max_depth must be between 1 and 16, got 0"),
        ({"max_bins": 1}, "max_bins must be between 2 and 256, got 1"),
        (
            {"objective": "reg:squarederror"},
            "unknown objective 'reg:squarederror'; expected one of binary:logistic, "
            "multi:softprob, multi:softmax",
        ),
        ({"n_trees": 0}, "n_trees must be between 1 and 10000, got 0"),
        ({"learning_rate": 0.0}, "learning_rate must be in (0, 1], got 0.0"),
        ({"subsample": 1.5}, "subsample must be in (0, 1], got 1.5"),
        ({"reg_lambda": -1.0}, "reg_lambda must be in [0, 1e+06], got -1.0"),
        ({"max_depth": 2.5}, "max_depth must be an integer, got 2.5"),
        (
            {"objective": "multi:softmax", "n_classes": 2},
            "n_classes must be between 3 and 64, got 2",
        ),
        ({"n_classes": 3}, "n_classes must be 2 for binary:logistic, got 3"),
        ({"bank_only_trees": 31}, "bank_only_trees must be between 0 and 30, got 31"),
        (
            {"goss": True, "goss_top_rate": 0.6, "goss_other_rate": 0.5},
            "goss_top_rate + goss_other_rate must be at most 1, got 0.6 + 0.5",
        ),
    ],
)
def test_boost_params_refuses_option_with_clear_message_if_out_of_range(
    options: dict[str, object], message: str
) -> None:
    # Execute / Assert
    with pytest.raises(InvalidParams) as caught:
        BoostParams(**options)
    assert str(caught.value) == message


def test_boost_params_from_dict_refuses_unknown_option_if_misspelled() -> None:
    # Execute / Assert
    with pytest.raises(InvalidParams, match="unknown option\\(s\\): max_dept"):
        BoostParams.from_dict({"max_dept": 3})


def test_boost_params_round_trips_through_dict_if_valid() -> None:
    # Prepare
    params = BoostParams(n_trees=5, objective="multi:softprob", n_classes=4, goss=True)

    # Execute / Assert
    assert BoostParams.from_dict(params.to_dict()) == params
    assert params.n_outputs == 4
    assert params.goss_amplification == pytest.approx(8.0)
