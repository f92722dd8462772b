"""Column codes: numeric columns pass through, categoricals become the rank of the
category among those seen in training; missing and unseen values are NaN; bad numbers
are refused naming the column and row; the codes survive a round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.secureboost.encoding import ColumnCodes


def test_transform_codes_categoricals_by_sorted_training_categories() -> None:
    # Prepare
    train = pd.DataFrame(
        {"tier": ["mid", "low", None, "high"], "age": [30, 40, 50, None]}
    )
    codes = ColumnCodes.fit(train, {"tier": "categorical", "age": "numeric"})
    new = pd.DataFrame({"tier": ["low", "vip", None], "age": [1.5, None, 3.0]})
    # Execute
    x = codes.transform(new)
    # Assert: high=0, low=1, mid=2; unseen and missing are NaN.
    assert codes.categories["tier"] == ("high", "low", "mid")
    np.testing.assert_array_equal(x[:, 0], [1.0, np.nan, np.nan])
    np.testing.assert_array_equal(x[:, 1], [1.5, np.nan, 3.0])


def test_codes_round_trip_if_saved() -> None:
    # Prepare
    codes = ColumnCodes.fit(
        pd.DataFrame({"a": ["x", "y"], "b": [1.0, 2.0]}), {"a": "categorical"}
    )
    # Execute
    back = ColumnCodes.from_dict(codes.to_dict())
    # Assert
    assert back == codes


def test_transform_raises_if_a_numeric_value_is_not_a_number() -> None:
    # Prepare
    codes = ColumnCodes(("b",), {})
    # Execute / Assert
    with pytest.raises(ValueError, match="column 'b': row 1 is not a number"):
        codes.transform(pd.DataFrame({"b": ["1", "two"]}))
