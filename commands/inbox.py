"""`python app.py inbox list|show|replay`: the webhook bodies that could not be processed."""

from __future__ import annotations

import argparse
import json

from sqlalchemy import select

from commands.console import Console
from data_access.tables import inbox, pending_statuses
from ingest.inbox import replay, state_counts

STATES = ("failed", "new", "done", "all", "expired")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "inbox",
        help="see and replay webhook bodies that could not be processed",
        description="Every accepted webhook body is kept in the inbox. One that could not be "
        "mapped stays there as failed, with its reasons, until it is replayed.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list",
        help="counts, then the latest bodies in a state (or, with --state expired, the kept "
        "statuses whose send record never came)",
    )
    listing.add_argument("--state", choices=STATES, default="failed")
    listing.add_argument("--limit", type=int, default=50)
    show = actions.add_parser("show", help="one body in full, with its reasons")
    show.add_argument("id", type=int, metavar="ID")
    again = actions.add_parser(
        "replay", help="process bodies again (the given ids, or every failed one)"
    )
    again.add_argument("ids", type=int, nargs="*", metavar="ID")


def _first_line(text: str | None) -> str:
    if not text:
        return ""
    lines = text.splitlines()
    more = f" (+{len(lines) - 1} more)" if len(lines) > 1 else ""
    return lines[0][:110] + more


def _expired(args, console: Console, engine) -> int:
    p = pending_statuses.c
    query = (
        select(p.message_id, p.channel, p.status, p.received_at, p.expired_at)
        .where(p.expired_at.is_not(None), p.problem.is_(None))
        .order_by(p.expired_at.desc(), p.message_id)
        .limit(max(args.limit, 1))
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    if not rows:
        console.out("No expired statuses.")
        return 0
    console.out("Statuses whose send record did not come in time (applied if it still comes):")
    console.out(f"{'message id':<40} {'channel':<8} {'status':<9} {'received (UTC)':<19}  expired")
    for row in rows:
        console.out(
            f"{row.message_id:<40} {row.channel:<8} {row.status:<9} "
            f"{row.received_at:%Y-%m-%d %H:%M:%S}  {row.expired_at:%Y-%m-%d %H:%M:%S}"
        )
    return 0


def _list(args, console: Console, engine) -> int:
    if args.state == "expired":
        return _expired(args, console, engine)
    query = select(
        inbox.c.id,
        inbox.c.source,
        inbox.c.received_at,
        inbox.c.state,
        inbox.c.attempts,
        inbox.c.problems,
    ).order_by(inbox.c.id.desc())
    if args.state != "all":
        query = query.where(inbox.c.state == args.state)
    with engine.connect() as conn:
        counts = state_counts(conn)
        rows = conn.execute(query.limit(max(args.limit, 1))).all()
    console.out(
        f"Inbox: {counts['new']:,} new, {counts['done']:,} done, {counts['failed']:,} failed. "
        f"Statuses waiting for their send record: {counts['pending_statuses']:,}"
        + (
            f"; {counts['unfit_statuses']:,} that do not fit their message"
            if counts["unfit_statuses"]
            else ""
        )
        + (
            f"; {counts['expired_statuses']:,} expired, their send record never came "
            "(`inbox list --state expired`)"
            if counts["expired_statuses"]
            else ""
        )
        + "."
    )
    if not rows:
        console.out("No bodies in that state.")
        return 0
    console.out(f"{'id':>8}  {'source':<8} {'received (UTC)':<19}  {'state':<6} tries  reasons")
    for row in rows:
        console.out(
            f"{row.id:>8}  {row.source:<8} {row.received_at:%Y-%m-%d %H:%M:%S}  "
            f"{row.state:<6} {row.attempts:>5}  {_first_line(row.problems)}"
        )
    return 0


def _show(args, console: Console, engine) -> int:
    with engine.connect() as conn:
        row = conn.execute(select(inbox).where(inbox.c.id == args.id)).first()
    if row is None:
        console.err(f"There is no inbox body {args.id}; `inbox list --state all` shows the ids.")
        return 2
    console.out(
        f"Body {row.id} from {row.source}, received {row.received_at:%Y-%m-%d %H:%M:%S} UTC, "
        f"{row.state}, {row.attempts} failed attempt(s)."
    )
    if row.problems:
        console.out("Reasons:")
        for line in row.problems.splitlines():
            console.out(f"  {line}")
    try:
        body = json.dumps(json.loads(row.body), indent=2, ensure_ascii=False)
    except ValueError:
        body = row.body
    console.out(body)
    return 0


def run(args: argparse.Namespace, console: Console, engine, settings) -> int:
    if args.action == "list":
        return _list(args, console, engine)
    if args.action == "show":
        return _show(args, console, engine)
    report = replay(engine, settings.account_timezone, args.ids or None)
    console.out(
        f"Replayed {report.processed:,} bodies ({report.events:,} events): "
        f"{report.processed - report.failed:,} processed, {report.failed:,} still failed"
        + (f", {report.retried:,} to be retried" if report.retried else "")
        + "."
    )
    return 1 if report.failed else 0
