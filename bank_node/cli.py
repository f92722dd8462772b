"""`bank-node`: the bank's service, job runner and administrative commands."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence

from bank_node.consent_command import add_consent_command
from bank_node.features_command import add_features_command
from bank_node.job_command import add_job_command
from bank_node.job_reconcile import reconcile_bank_jobs
from bank_node.models_command import add_models_command
from bank_node.psi_command import add_psi_command
from bank_node.psi_outputs import purge_psi_outputs
from bank_node.scoring.api import ScoringServer
from node_core.cli import NodeCli
from node_core.node import NodeContext, Registration
from protocol.auth import PeerDirectory

log = logging.getLogger(__name__)
HOUSEKEEPING_S = 600.0


def _housekeeping(ctx: NodeContext) -> None:
    """While serving: delete PSI results past psi.retention_days, every 10 minutes."""
    while True:
        try:
            purge_psi_outputs(ctx, time.time())
        except Exception:  # the next pass retries
            log.exception("PSI retention pass failed")
        if ctx.stopped.wait(HOUSEKEEPING_S):
            return


def bank_services(ctx: NodeContext, directory: PeerDirectory) -> Iterable[Registration]:
    """Services the bank offers beyond handshake, health and diagnostics: none, as
    the bank calls the operator in every protocol (README, "Using the nodes"); with
    `[scoring] enabled`, the HTTP scoring API (bank_node/scoring/api.py).

    While it serves, its retention timer runs and, in the background, it reconciles
    the jobs of job runners that were killed outright (failed here and at the
    operator)."""
    threading.Thread(
        target=_housekeeping, args=(ctx,), name="bank-housekeeping", daemon=True
    ).start()
    threading.Thread(
        target=reconcile_bank_jobs, args=(ctx,), name="job-reconcile", daemon=True
    ).start()
    if ctx.config.scoring.enabled:
        api = ScoringServer(ctx)
        api.start()
        ctx.on_stop.append(api.stop)
    return []


def build_cli() -> NodeCli:
    cli = NodeCli("bank-node", "bank", bank_services)
    add_psi_command(cli)
    add_job_command(cli)
    add_models_command(cli)
    add_features_command(cli)
    add_consent_command(cli)
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    return build_cli().main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
