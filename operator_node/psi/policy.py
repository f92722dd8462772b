"""The operator's policy checks on a PSI request, made before any data moves.

PSI happens inside an approved job (check_job). Mode intersection (and both) answers
"which of these numbers are subscribers?", a membership oracle if it were on demand;
so a session names its job, and runs only if that job is approved, belongs to the
bank, was approved for this mode (a PSI job: its proposal's mode, which the policy's
`psi_modes` must allow; a model job: mode both, its alignment) and for at least this
many numbers (the proposal's `max_rows`), and has not run its one session yet (the
one-session rule is kept by sessions.py with jobs.py). The operator sees each purpose
and size when it approves (automatically by policy, or by hand).

Outside a job, only the modes in `policy.psi_without_job` run, and the config allows
at most "cardinality" there, off by default. The argument for allowing it: the bank
learns one count per session; to test whether a number x is a subscriber it must
compare two counts over sets of at least `psi_min_set_size` numbers differing in x,
which costs at least that many numbers of the daily budget per tested number
(`psi_max_daily_numbers`, default 500,000: at most a few thousand tests a day with
the default minimum of 100, against 10^10 possible numbers). Bounded, not
impossible; hence off unless an operator accepts that rate for a counterpart.

Refusals carry the status the bank sees and a stable reason for the audit chain:
- no job and the mode is not allowed without one: PERMISSION_DENIED;
- an unknown job (or another counterpart's): NOT_FOUND;
- a job not (or no longer) approved, or whose one session already ran:
  FAILED_PRECONDITION;
- another mode, or more numbers, than the job was approved for: PERMISSION_DENIED;
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
from node_core.store import Job
from protocol.domain import ACTIVE_JOB_STATUSES
from protocol.errors import (
    FailedPrecondition,
    NotFound,
    PermissionDenied,
    ProtocolError,
    ResourceExhausted,
)
from protocol.jobs.messages import PSI_JOB
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


def check_job(
    local_party: str, cp: CounterpartConfig, request: PsiOpen, job: Job | None
) -> None:
    """Raise Refusal unless the session may run: inside `job` (the store's record of
    request.job_id, None if there is none) or, with no job, in an allowed mode."""
    if not request.job_id:
        if request.mode.value in cp.policy.psi_without_job:
            return
        raise Refusal(
            PermissionDenied(
                f"PSI in mode {request.mode.value} outside an approved job is refused"
                f" by {local_party}'s policy for {cp.party_id}: propose a job with a"
                " purpose (bank-node psi --purpose ...)"
            ),
            "outside a job",
        )
    if job is None or job.counterpart != cp.party_id or "proposal" not in job.spec:
        raise Refusal(NotFound(f"no job {request.job_id}"), "unknown job")
    if job.status not in ACTIVE_JOB_STATUSES:
        raise Refusal(
            FailedPrecondition(
                f"job {job.id} is {job.status.value.replace('_', ' ')}, not approved"
            ),
            "job not approved",
        )
    proposal = job.spec["proposal"]
    approved = proposal.get("psi_mode") if job.kind == PSI_JOB else PsiMode.BOTH.value
    if request.mode.value != approved:
        raise Refusal(
            PermissionDenied(
                f"job {job.id} was approved for PSI mode {approved}, not"
                f" {request.mode.value}"
            ),
            "mode not approved for the job",
        )
    if request.bank_set_size > int(proposal["max_rows"]):
        raise Refusal(
            PermissionDenied(
                f"PSI set of {request.bank_set_size} numbers is over the"
                f" {proposal['max_rows']} rows job {job.id} was approved for"
            ),
            "over the job's rows",
        )
