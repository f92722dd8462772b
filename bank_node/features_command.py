"""`bank-node features`: the operator features the bank's policy offers, before a job.

Asks the operator (Jobs/ListFeatures) for the names, or aliases if it does not disclose
names, and kinds of every feature the bank's policy lets it request; `--match` narrows
the list with the patterns a job spec would use, and a pattern outside the policy gets
the same refusal a proposal would.
"""

from __future__ import annotations

import argparse

from node_core.cli import NodeCli, open_node, print_json
from protocol.jobs.messages import FeatureQuery
from protocol.jobs.service import PROTOCOL as JOBS
from protocol.jobs.service import JobsClient


def _features(args: argparse.Namespace) -> int:
    ctx = open_node(args)
    counterpart = args.counterpart or ctx.config.counterparts[0].party_id
    with ctx.link(counterpart, (JOBS.capability,)) as link:
        features = JobsClient(link.channel, ctx.limits.deadline_s).features(
            FeatureQuery(tuple(args.match or ()))
        )
    if args.json:
        print_json([{"name": f.display_name, "kind": f.kind} for f in features])
        return 0
    width = max((len(f.display_name) for f in features), default=4)
    for f in features:
        print(f"{f.display_name:<{width}}  {f.kind}")
    print(f"{len(features)} features offered by {counterpart}")
    return 0


def add_features_command(cli: NodeCli) -> None:
    p = cli.with_config(
        cli.command(
            "features", _features, "list the operator features the policy offers"
        )
    )
    p.add_argument("--counterpart", help="party id (default: the first)")
    p.add_argument(
        "--match", action="append", metavar="PATTERN", help="name or glob pattern"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
