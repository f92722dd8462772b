"""`operator-node`: the operator's service and its administrative commands."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence

from node_core.cli import NodeCli, open_node
from node_core.node import NodeContext, Registration
from operator_node.binning import OperatorBinning
from operator_node.evaluation import OperatorEvaluation
from operator_node.job_desk import JobDesk, approve_job, describe_job, reset_quota
from operator_node.psi.sessions import psi_registration
from operator_node.roles.registry import passive_roles, served_model_types
from operator_node.scoring import OperatorScoring
from protocol.auth import PeerDirectory
from protocol.binning.service import binning_service
from protocol.evaluation.service import evaluation_service
from protocol.jobs.service import jobs_service
from protocol.scoring.service import scoring_service


def operator_services(
    ctx: NodeContext, directory: PeerDirectory
) -> Iterable[Registration]:
    """Passive-party services the operator offers its counterparts: PSI, jobs,
    binning, evaluation, the servicer of each model type's passive role, and
    real-time scoring of consented applicants."""
    desk = JobDesk(ctx, served_model_types())
    desk.start()
    return [
        psi_registration(ctx, directory, on_activity=desk.idle.seen),
        jobs_service(directory, desk),
        binning_service(
            directory,
            OperatorBinning(ctx, desk),
            ctx.max_transfer_bytes,
            ctx.limits.chunk_bytes,
        ),
        evaluation_service(
            directory,
            OperatorEvaluation(ctx, desk),
            ctx.max_transfer_bytes,
            ctx.limits.chunk_bytes,
        ),
        *(role.service(directory) for role in passive_roles(ctx, desk).values()),
        scoring_service(directory, OperatorScoring(ctx)),
    ]


def _approve(args: argparse.Namespace) -> int:
    print(approve_job(open_node(args), args.job_id, True, ""))
    return 0


def _refuse(args: argparse.Namespace) -> int:
    print(approve_job(open_node(args), args.job_id, False, args.reason))
    return 0


def _show(args: argparse.Namespace) -> int:
    print(describe_job(open_node(args).store.get_job(args.job_id)))
    return 0


def _reset_quota(args: argparse.Namespace) -> int:
    print(reset_quota(open_node(args), args.party))
    return 0


def build_cli() -> NodeCli:
    cli = NodeCli("operator-node", "operator", operator_services)
    for name, handler, text in (
        ("approve", _approve, "approve a job waiting for manual approval"),
        ("refuse", _refuse, "refuse a job waiting for manual approval"),
        ("show", _show, "show a job's proposal and status"),
    ):
        parser = cli.with_config(cli.command(name, handler, text, group="jobs"))
        parser.add_argument("job_id")
        if name == "refuse":
            parser.add_argument("--reason", default="", help="recorded in the audit")
    parser = cli.with_config(
        cli.command(
            "reset-quota",
            _reset_quota,
            "restart a counterpart's daily job count and PSI numbers (audited)",
            group="counterparts",
        )
    )
    parser.add_argument("party", help="the counterpart's party id")
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    return build_cli().main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
