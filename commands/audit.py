"""`python app.py audit [--user U] [--since D]`: read the audit trail, newest first."""

from __future__ import annotations

import argparse
from datetime import datetime

from commands.console import Console
from data_access import audit


def _since(value: str) -> str:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM) in UTC"
        ) from None
    return value


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="show the audit trail: sign-ins, account, grant and key changes, exports",
        description="The audit trail, newest first: sign-ins and failed sign-ins, account and "
        "grant changes, API keys made, used and revoked, exports asked and downloaded, and "
        "refused writes. Times are UTC. Rows are kept AUDIT_KEEP_DAYS days (default 365).",
    )
    parser.add_argument("--user", metavar="U", help="only what this actor did (a username)")
    parser.add_argument(
        "--since", type=_since, metavar="D", help="only from this UTC date or time on"
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=audit.DEFAULT_LIMIT,
        metavar="N",
        help=f"at most this many rows (default {audit.DEFAULT_LIMIT})",
    )


def run(args: argparse.Namespace, console: Console, engine, settings) -> int:
    if args.limit < 1:
        console.err("--limit must be at least 1.")
        return 2
    since = None
    if args.since:
        since = datetime.fromisoformat(args.since)
        if since.tzinfo is not None:
            console.err("--since is read in UTC; leave out the offset.")
            return 2
    with engine.connect() as conn:
        rows = audit.entries(conn, actor=args.user, since=since, limit=args.limit)
    if not rows:
        console.out("No audit rows" + (" match." if args.user or args.since else " yet."))
        return 0
    header = ("at (UTC)", "actor", "action", "address", "subaccount", "detail")
    table = [header] + [
        (
            row.at.strftime("%Y-%m-%d %H:%M:%S"),
            row.actor,
            row.action,
            row.address or "-",
            (row.subaccount or f"#{row.subaccount_id}") if row.subaccount_id is not None else "-",
            row.detail,
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
    for line in table:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        console.out("  ".join([*cells, line[-1]]))
    if len(rows) == args.limit:
        console.out(f"(the newest {args.limit} rows; --limit shows more, --since fewer)")
    return 0
