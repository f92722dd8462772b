"""`bank-node consent issue|revoke|list|key`: the bank's consent register.

`issue` signs a consent for one number (read from --phone or, to keep it out of the
process list, from standard input with --phone -) and prints its id, never the
number; `key` prints the verification key to register at the operator
(`counterparts[].consent_key`); `revoke` marks a consent revoked here and pushes the
revocation to the operator, so it takes effect on the next query.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bank_node.consents import BankConsents
from bank_node.scoring.engine import ScoringEngine
from bank_node.scoring.model import ScoringError
from node_core.cli import NodeCli, open_node, print_json
from node_core.node import NodeContext
from protocol.errors import ProtocolError
from protocol.scoring.consent import MAX_USES, SCORING_SCOPE


def consents_of(ctx: NodeContext) -> BankConsents:
    return BankConsents(ctx.config.state_dir, ctx.store, ctx.party_id)


def _issue(args: argparse.Namespace) -> int:
    ctx = open_node(args)
    phone = sys.stdin.readline().strip() if args.phone == "-" else args.phone
    if not 1 <= args.max_uses <= MAX_USES:
        raise ValueError(f"--max-uses: must be 1..{MAX_USES}")
    if not 0 < args.days <= 366:
        raise ValueError("--days: must be in (0, 366]")
    proof = consents_of(ctx).issue(
        phone=phone,
        purpose=args.purpose,
        scope=tuple(args.scope or (SCORING_SCOPE,)),
        document=args.document.read_bytes(),
        now=int(time.time()),
        valid_s=int(args.days * 86400),
        max_uses=args.max_uses,
    )
    record = proof.record
    print_json(
        {
            "consent_id": record.consent_id,
            "purpose": record.purpose,
            "scope": list(record.scope),
            "expires_at": record.expires_at,
            "max_uses": record.max_uses,
        }
    )
    return 0


def _revoke(args: argparse.Namespace) -> int:
    ctx = open_node(args)
    if not consents_of(ctx).revoke(args.consent_id, time.time()):
        raise ValueError(f"no consent {args.consent_id!r} at this bank")
    pushed = push_revocation(ctx, args.consent_id)
    print_json({"consent_id": args.consent_id, "revoked": True, "operator": pushed})
    return 0


def push_revocation(ctx: NodeContext, consent_id: str) -> str:
    """Tell the scoring operator (Scoring.Revoke); the bank refuses the consent
    itself in any case, so a failed push is reported, not fatal."""
    engine = ScoringEngine(ctx)
    try:
        used = engine.revoke(consent_id)
    except (ScoringError, ProtocolError) as exc:
        return f"not pushed to {engine.counterpart or 'any operator'}: {exc}"
    finally:
        engine.close()
    return f"revoked at {engine.counterpart} (had been used there: {used})"


def _list(args: argparse.Namespace) -> int:
    print_json([c.to_dict() for c in consents_of(open_node(args)).list()])
    return 0


def _key(args: argparse.Namespace) -> int:
    sys.stdout.write(consents_of(open_node(args)).public_key_pem().decode())
    return 0


def add_consent_command(cli: NodeCli) -> None:
    p = cli.with_config(
        cli.command("issue", _issue, "sign a consent proof", group="consent")
    )
    p.add_argument("--phone", required=True, help="the number, or - for stdin")
    p.add_argument("--purpose", required=True, help="e.g. credit_risk")
    p.add_argument(
        "--scope", action="append", help=f"allowed use (default {SCORING_SCOPE})"
    )
    p.add_argument("--days", type=float, default=30.0, help="validity (default 30)")
    p.add_argument("--max-uses", type=int, default=10, help="queries allowed")
    p.add_argument(
        "--document", type=Path, required=True, help="the signed authorization"
    )
    p = cli.with_config(
        cli.command("revoke", _revoke, "revoke a consent", group="consent")
    )
    p.add_argument("consent_id")
    cli.with_config(cli.command("list", _list, "list consents", group="consent"))
    cli.with_config(
        cli.command("key", _key, "print the verification key", group="consent")
    )
