"""A job session's per-protocol state: typed, attached once, dropped at the end."""

from __future__ import annotations

import numpy as np
import pytest

from operator_node.job_session import JobSession, StateKey
from protocol.domain import Split
from protocol.errors import FailedPrecondition

COUNTS: StateKey[list[int]] = StateKey("counts")


def test_session_state_is_refused_a_second_set_up_if_attached() -> None:
    # Prepare
    session = JobSession("a1b2c3d4e5f6a7b8", "bank-a", ["x"], ["numeric"])
    session.attach(COUNTS, [1, 2])
    # Execute
    with pytest.raises(FailedPrecondition) as info:
        session.attach(COUNTS, [3])
    # Assert
    assert str(info.value) == "job a1b2c3d4e5f6a7b8: already set up"
    assert session.state(COUNTS) == [1, 2]


def test_session_state_is_gone_if_the_session_closes() -> None:
    # Prepare
    session = JobSession("a1b2c3d4e5f6a7b8", "bank-a", ["x"], ["numeric"])
    session.attach(COUNTS, [1])
    # Execute
    session.close()
    # Assert
    assert session.state(COUNTS) is None


def test_session_positions_follow_the_bound_validation_mask() -> None:
    # Prepare
    session = JobSession("a1b2c3d4e5f6a7b8", "bank-a", ["x"], ["numeric"])
    with pytest.raises(FailedPrecondition) as unbound:
        session.positions()
    session.validation = np.array([True, False, False, True, False])
    # Execute
    positions = session.positions()
    # Assert
    assert str(unbound.value) == "job a1b2c3d4e5f6a7b8 is not bound to an alignment"
    assert positions[Split.TRAIN].tolist() == [1, 2, 4]
    assert positions[Split.VALIDATION].tolist() == [0, 3]
