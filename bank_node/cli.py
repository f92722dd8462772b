"""`bank-node`: the bank's service, job runner and administrative commands."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bank_node.job_command import add_job_command
from bank_node.models_command import add_models_command
from bank_node.psi_command import add_psi_command
from node_core.cli import NodeCli
from node_core.node import NodeContext, Registration
from protocol.auth import PeerDirectory


def bank_services(ctx: NodeContext, directory: PeerDirectory) -> Iterable[Registration]:
    """Services the bank offers (the operator calls back during some protocols)."""
    return []


def build_cli() -> NodeCli:
    cli = NodeCli("bank-node", "bank", bank_services)
    add_psi_command(cli)
    add_job_command(cli)
    add_models_command(cli)
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    return build_cli().main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
