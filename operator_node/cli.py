"""`operator-node`: the operator's service and its administrative commands."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from node_core.cli import NodeCli
from node_core.node import NodeContext, Registration
from operator_node.psi import psi_registration
from protocol.auth import PeerDirectory


def operator_services(
    ctx: NodeContext, directory: PeerDirectory
) -> Iterable[Registration]:
    """Passive-party services the operator offers its counterparts."""
    return [psi_registration(ctx, directory)]


def build_cli() -> NodeCli:
    return NodeCli("operator-node", "operator", operator_services)


def main(argv: Sequence[str] | None = None) -> int:
    return build_cli().main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
