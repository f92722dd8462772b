"""Every model type a job spec may name has a trainer on the bank and a passive role
on the operator speaking the protocol the trainer requires."""

from __future__ import annotations

from bank_node.trainers.registry import DEFAULT_MODEL_TYPE, TRAINERS, trainer_for
from operator_node.roles.registry import PASSIVE_ROLES, served_model_types


def test_every_trainer_has_a_passive_role_speaking_its_protocol() -> None:
    # Prepare
    roles = {role.model_type: role for role in PASSIVE_ROLES}
    # Execute
    pairs = [(t, roles.get(t.model_type)) for t in TRAINERS]
    # Assert
    assert all(role is not None for _, role in pairs)
    for trainer, role in pairs:
        assert role is not None and role.protocol.capability in trainer.capabilities
    assert sorted(served_model_types()) == sorted(t.model_type for t in TRAINERS)


def test_trainer_for_finds_the_default_and_refuses_unknown_types() -> None:
    # Execute
    default = trainer_for(DEFAULT_MODEL_TYPE)
    unknown = trainer_for("xgboost")
    # Assert
    assert default is not None and default.model_type == "hetero_lr"
    assert unknown is None
