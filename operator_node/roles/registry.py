"""The model types this operator serves: one passive role each.

To serve a new model type, add its role module under operator_node/roles/ and one line
to PASSIVE_ROLES (the bank side adds its trainer to bank_node/trainers/registry.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from node_core.node import NodeContext
from operator_node.job_desk import JobDesk
from operator_node.roles.base import PassiveRole
from operator_node.roles.hetero_lr import OperatorLr
from operator_node.roles.secureboost import OperatorSecureBoost
from operator_node.roles.split_nn import OperatorSplitNn

# One line per model type.
PASSIVE_ROLES: Sequence[type[PassiveRole[Any]]] = [
    OperatorLr,
    OperatorSecureBoost,
    OperatorSplitNn,
]


def served_model_types() -> tuple[str, ...]:
    return tuple(role.model_type for role in PASSIVE_ROLES)


def passive_roles(ctx: NodeContext, desk: JobDesk) -> dict[str, PassiveRole[Any]]:
    """One instance of each role, by model type."""
    roles = {role.model_type: role(ctx, desk) for role in PASSIVE_ROLES}
    if len(roles) != len(PASSIVE_ROLES):
        raise ValueError("two passive roles serve the same model type")
    return roles
