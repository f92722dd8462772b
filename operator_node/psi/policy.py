"""The operator's policy checks on a PSI request, made before any data moves.

Refusals carry the status the bank sees and a stable reason for the audit chain:
- no data served to this counterpart, or another crypto suite: FAILED_PRECONDITION;
- a set under the counterpart's minimum: FAILED_PRECONDITION (tiny sets let the
  answers for S and S plus one number reveal that person);
- a set over the per-request maximum: RESOURCE_EXHAUSTED;
- unbalanced mode with cardinality: FAILED_PRECONDITION (values stable within an epoch
  would let a later intersection session reveal which records a count was made of);
- unbalanced mode not enabled for the counterpart: PERMISSION_DENIED.
Open sessions and the daily budget need the node's state and are checked in
operator_node/psi/sessions.py, also as RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

from node_core.config import CounterpartConfig
from protocol.errors import (
    FailedPrecondition,
    PermissionDenied,
    ProtocolError,
    ResourceExhausted,
)
from protocol.psi.group import SUITE
from protocol.psi.messages import PsiMode, PsiOpen


class Refusal(Exception):
    """A request the policy refuses: the peer's error and the audited reason."""

    def __init__(self, error: ProtocolError, reason: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.reason = reason


def check_request(
    local_party: str, cp: CounterpartConfig, request: PsiOpen, served: bool
) -> None:
    """Raise Refusal if the counterpart may not run this session."""
    limits = cp.limits
    n = request.bank_set_size
    if not served:
        raise Refusal(
            FailedPrecondition(f"{local_party} serves no PSI data to {cp.party_id}"),
            "no data source",
        )
    if request.suite != SUITE:
        raise Refusal(
            FailedPrecondition(
                f"PSI suite {request.suite!r} is not supported (supported: {SUITE})"
            ),
            "unsupported suite",
        )
    if n < limits.psi_min_set_size:
        raise Refusal(
            FailedPrecondition(
                f"PSI set of {n} numbers is under the minimum of"
                f" {limits.psi_min_set_size} per query for {cp.party_id}"
            ),
            "under minimum set size",
        )
    if n > limits.psi_max_set_size:
        raise Refusal(
            ResourceExhausted(
                f"PSI set of {n} numbers is over the per-request limit of"
                f" {limits.psi_max_set_size} for {cp.party_id}"
            ),
            "over maximum set size",
        )
    if request.unbalanced and request.mode is PsiMode.CARDINALITY:
        raise Refusal(
            FailedPrecondition(
                "unbalanced PSI is not offered with mode cardinality: values stable"
                " within an epoch would let a later session reveal the counted"
                " records"
            ),
            "unbalanced cardinality",
        )
    if request.unbalanced and not limits.psi_allow_unbalanced:
        raise Refusal(
            PermissionDenied(f"unbalanced PSI is not enabled for {cp.party_id}"),
            "unbalanced not allowed",
        )
