"""Command-line skeleton shared by `operator-node` and `bank-node`.

Common commands: serve, certs init, handshake, ingest check, audit verify/show/head,
jobs list. Each role adds its own commands and server-side services. Expected failures
(bad config, bad data, a peer's refusal) print one clear line and exit 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from node_core.certs import init_dev_pki
from node_core.config import ConfigError, NodeConfig, load_config
from node_core.ingest import IngestionError, load_dataset
from node_core.logs import redact, setup_logging
from node_core.node import NodeContext, Registration, serve
from node_core.store import StoreError
from protocol.auth import PeerDirectory
from protocol.domain import JobStatus
from protocol.errors import ProtocolError
from protocol.transport import health_check

EXPECTED_ERRORS = (
    ConfigError,
    IngestionError,
    ProtocolError,
    StoreError,
    FileExistsError,
    ValueError,
)

Handler = Callable[[argparse.Namespace], int]
RoleServices = Callable[[NodeContext, PeerDirectory], Iterable[Registration]]


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def open_node(args: argparse.Namespace) -> NodeContext:
    config: NodeConfig = load_config(args.config)
    role = getattr(args, "role", None)
    if role is not None and config.role != role:
        raise ConfigError(
            f"{config.source}: role: this is the {role} node's command, the config"
            f" is the {config.role}'s"
        )
    setup_logging(config.log, config.party_id)
    return NodeContext.open(config)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line too (like every other error)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


class NodeCli:
    """Builds the argument parser; roles register extra commands with `command`."""

    def __init__(self, prog: str, role: str, role_services: RoleServices) -> None:
        self.role = role
        self.role_services = role_services
        self.parser = _Parser(prog=prog)
        self.parser.set_defaults(role=role)
        self._sub = self.parser.add_subparsers(dest="command", required=True)
        self._groups: dict[str, Any] = {}
        self._add_common()

    def command(
        self, name: str, handler: Handler, help: str, *, group: str | None = None
    ) -> argparse.ArgumentParser:
        """Add `name` (or `group name`) and return its parser for arguments."""
        if group is None:
            parser = self._sub.add_parser(name, help=help)
        else:
            if group not in self._groups:
                grp = self._sub.add_parser(group, help=f"{group} commands")
                self._groups[group] = grp.add_subparsers(
                    dest="subcommand", required=True
                )
            parser = self._groups[group].add_parser(name, help=help)
        parser.set_defaults(handler=handler)
        return parser

    def with_config(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--config", type=Path, required=True, help="node TOML")
        return parser

    def _add_common(self) -> None:
        self.with_config(self.command("serve", self._serve, "run the node service"))
        p = self.command(
            "init", self._certs_init, "create a dev CA and certs", group="certs"
        )
        p.add_argument("--dir", type=Path, required=True, help="output folder")
        p.add_argument("--party", action="append", required=True, help="party id")
        p.add_argument("--force", action="store_true", help="replace an existing PKI")
        p = self.with_config(
            self.command("handshake", self._handshake, "handshake with a counterpart")
        )
        p.add_argument("--counterpart", help="party id (default: the first)")
        p = self.with_config(
            self.command("check", self._ingest_check, "validate data", group="ingest")
        )
        p.add_argument("--source", help="data source name (default: all)")
        p.add_argument("--json", action="store_true", help="print the report as JSON")
        self.with_config(
            self.command(
                "verify", self._audit_verify, "verify the audit chain", group="audit"
            )
        )
        self.with_config(
            self.command(
                "head", self._audit_head, "print the signed chain head", group="audit"
            )
        )
        p = self.with_config(
            self.command("show", self._audit_show, "print audit entries", group="audit")
        )
        p.add_argument(
            "--tail", type=int, default=20, help="show the last N entries (default 20)"
        )
        p = self.with_config(
            self.command("list", self._jobs_list, "list jobs", group="jobs")
        )
        p.add_argument("--status", choices=sorted(s.value for s in JobStatus))

    # ---- common handlers -------------------------------------------------------
    def _serve(self, args: argparse.Namespace) -> int:
        return serve(open_node(args), self.role_services)

    def _certs_init(self, args: argparse.Namespace) -> int:
        issued = init_dev_pki(args.dir, args.party, force=args.force)
        print_json(
            {
                "parties": {
                    p: {
                        "ca": str(c.ca.cert),
                        "cert": str(c.party.cert),
                        "key": str(c.party.key),
                    }
                    for p, c in issued.items()
                },
            }
        )
        return 0

    def _handshake(self, args: argparse.Namespace) -> int:
        ctx = open_node(args)
        counterpart = args.counterpart or ctx.config.counterparts[0].party_id
        with ctx.channel(counterpart) as channel:
            reply = ctx.handshake(channel, counterpart)
            health = health_check(channel, ctx.limits.deadline_s)
        print_json(
            {
                "counterpart": reply.party_id,
                "protocol_version": reply.protocol_version,
                "software_version": reply.software_version,
                "shared_capabilities": list(reply.shared_capabilities),
                "health": health,
            }
        )
        return 0

    def _ingest_check(self, args: argparse.Namespace) -> int:
        """The report of every source, then one line per unusable source (exit 2)."""
        ctx = open_node(args)
        names = [args.source] if args.source else sorted(ctx.config.data)
        reports, errors = {}, []
        for name in names:
            src = ctx.config.data_source(name)
            try:
                report = load_dataset(name, src, check_share=False).report
            except IngestionError as exc:
                errors.append(str(exc))
                continue
            reports[name] = report
            ctx.store.append_audit(
                "data.validated", subject=name, detail=report.counts()
            )
            try:
                report.check_rejected_share(
                    src.max_rejected_share, f"data.{name}.max_rejected_share"
                )
            except IngestionError as exc:
                errors.append(str(exc))
        if args.json:
            print_json({n: r.to_dict(max_rejections=100) for n, r in reports.items()})
        else:
            for name, report in reports.items():
                print(f"[{name}] {report.to_text()}")
        for error in errors:
            print(f"{self.parser.prog}: error: {error}", file=sys.stderr)
        return 2 if errors else 0

    def _audit_verify(self, args: argparse.Namespace) -> int:
        ctx = open_node(args)
        verdict = ctx.store.verify_audit()
        party = ctx.party_id
        if verdict.intact:
            print(
                f"{party}: audit chain intact: {verdict.entries} entries, signed head"
                f" at entry {verdict.head_seq}"
            )
            return 0
        print(
            f"{party}: audit chain BROKEN: {verdict.problem} ({verdict.entries}"
            " entries)",
            file=sys.stderr,
        )
        return 1

    def _audit_head(self, args: argparse.Namespace) -> int:
        head = open_node(args).store.chain_head()
        if head is None:
            raise StoreError("no readable signed chain head; run `audit verify`")
        print(head.to_json())
        return 0

    def _audit_show(self, args: argparse.Namespace) -> int:
        ctx = open_node(args)
        for entry in ctx.store.audit_entries()[-args.tail :]:
            print_json(vars(entry))
        return 0

    def _jobs_list(self, args: argparse.Namespace) -> int:
        ctx = open_node(args)
        for job in ctx.store.list_jobs(args.status):
            # The operator keeps the proposal, the bank its own spec: both carry the
            # purpose, and a model job its task (what the labels are).
            spec = job.spec.get("proposal", job.spec)
            purpose, task = spec.get("purpose", ""), spec.get("task", "")
            what = f"{purpose} ({task})" if task and task != "credit" else purpose
            print(
                f"{job.id}  {job.kind:<12} {job.counterpart:<12}"
                f" {job.status.value:<16} {what}".rstrip()
            )
        return 0

    def main(self, argv: Sequence[str] | None = None) -> int:
        args = self.parser.parse_args(argv)
        try:
            return int(args.handler(args))
        except EXPECTED_ERRORS as exc:
            print(f"{self.parser.prog}: error: {redact(str(exc))}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 130
