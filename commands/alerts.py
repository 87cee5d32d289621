"""`python app.py alerts add|list|disable|enable|test`: delivery alert rules."""

from __future__ import annotations

import argparse
import secrets

from sqlalchemy import select

from clock import utcnow
from commands.console import Console
from data_access import accounts
from data_access import alerts as rules
from data_access.filters import AccessScope
from data_access.tables import subaccounts
from notify.alerts import send_test
from notify.webhook import SIGNATURE_HEADER


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "alerts",
        help="delivery alert rules: add, list, disable, enable, test",
        description="A rule watches the MT messages of the last --window minutes and notifies "
        "once when it starts failing and once when it recovers (evaluated every minute where "
        "the exports run). Webhook calls are signed: " + SIGNATURE_HEADER + ": sha256=HMAC.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a rule")
    add.add_argument("--name", required=True)
    add.add_argument("--owner", help="the sign-in account that owns it (its scope bounds it)")
    add.add_argument("--channel", choices=rules.CHANNELS, default="whatsapp")
    add.add_argument(
        "--subaccount",
        action="append",
        default=[],
        metavar="NAME",
        help="a subaccount to watch (repeat; default: every one the owner sees)",
    )
    add.add_argument("--metric", choices=rules.METRICS, required=True)
    add.add_argument("--error-code", help="the code counted by error_code_count")
    add.add_argument("--stuck-minutes", type=int, help="minutes at sent that make stuck_sent")
    add.add_argument("--comparison", choices=tuple(rules.COMPARISONS), required=True)
    add.add_argument("--threshold", type=float, required=True)
    add.add_argument("--window", type=int, default=60, help="minutes looked at (default 60)")
    add.add_argument(
        "--min-volume",
        type=int,
        default=0,
        help="MT messages in the window below which it stays quiet (default 0)",
    )
    target = add.add_mutually_exclusive_group(required=True)
    target.add_argument("--email", help="addresses, comma-separated")
    target.add_argument("--webhook", metavar="URL")
    add.add_argument("--secret", help="the webhook's signing secret (default: one made now)")
    listing = actions.add_parser("list", help="list the rules and their state")
    listing.add_argument("--owner", help="only the rules this account may manage")
    for name, text in (
        ("disable", "stop evaluating a rule"),
        ("enable", "evaluate a rule again"),
        ("test", "send a test notification"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("id", type=int, metavar="ID")


def _scope(conn, owner: str | None):
    """(owner account or None, the scope it bounds rules to; every subaccount without one)."""
    if owner is None:
        return None, AccessScope.of(accounts.every_subaccount_id(conn))
    account = accounts.require_account(conn, owner)
    return account, AccessScope.of(accounts.scope_ids(conn, account))


def _ids(conn, names: list[str]) -> list[int]:
    found = dict(
        conn.execute(
            select(subaccounts.c.name, subaccounts.c.id).where(subaccounts.c.name.in_(names))
        ).all()
    )
    missing = [name for name in names if name not in found]
    if missing:
        raise rules.AlertRuleError("subaccount", f"There is no subaccount named {missing[0]!r}.")
    return [int(found[name]) for name in names]


def _add(args, console: Console, engine) -> int:
    secret = None
    if args.webhook:
        secret = args.secret or secrets.token_urlsafe(32)
    with engine.begin() as conn:
        account, scope = _scope(conn, args.owner)
        rule = rules.create_rule(
            conn,
            name=args.name,
            owner_id=account.id if account else None,
            owner=account.username if account else "command line",
            owner_scope=scope,
            channel=args.channel,
            subaccount_ids=_ids(conn, args.subaccount),
            metric=args.metric,
            comparison=args.comparison,
            threshold=args.threshold,
            window_minutes=args.window,
            min_volume=args.min_volume,
            notify_by="webhook" if args.webhook else "email",
            target=args.webhook or args.email,
            secret=secret,
            error_code=args.error_code,
            stuck_minutes=args.stuck_minutes,
            now=utcnow(),
        )
    console.out(f"Alert rule {rule.id} ({rule.name}) added.")
    if args.webhook and not args.secret:
        console.out(f"Webhook secret (sign check: {SIGNATURE_HEADER}): {secret}")
    return 0


def describe(rule: rules.AlertRule) -> str:
    what = rule.metric
    if rule.metric == "error_code_count":
        what += f"({rule.error_code})"
    elif rule.metric == "stuck_sent":
        what += f"({rule.stuck_minutes} min)"
    return (
        f"{what} {rule.comparison} {rule.threshold:g} over {rule.window_minutes} min, "
        f"at least {rule.min_volume} sent"
    )


def run(args: argparse.Namespace, console: Console, engine, settings) -> int:
    try:
        if args.action == "add":
            return _add(args, console, engine)
        if args.action == "list":
            with engine.connect() as conn:
                scope = _scope(conn, args.owner)[1] if args.owner else None
                found = rules.list_rules(conn, scope)
            if not found:
                console.out("No alert rules.")
                return 0
            for rule in found:
                state = rule.state if rule.active else "disabled"
                console.out(
                    f"{rule.id:>4}  {state:<8}  {rule.name}  [{rule.channel}] {describe(rule)}"
                    f"  -> {rule.notify_by} {rule.target}  (owner {rule.owner})"
                )
            return 0
        with engine.begin() as conn:
            chosen = rules.get_rule(conn, args.id)
            if chosen is None:
                console.err(f"There is no alert rule {args.id}; `alerts list` shows them.")
                return 2
            if args.action in ("disable", "enable"):
                rules.set_active(conn, chosen.id, args.action == "enable", utcnow())
                console.out(f"Alert rule {chosen.id} ({chosen.name}) is {args.action}d.")
                return 0
        outcome = send_test(engine, settings, chosen.id, utcnow())
        if outcome.delivered:
            console.out(f"Test notification of rule {chosen.id} sent by {chosen.notify_by}.")
            return 0
        console.err(f"The test notification was not delivered: {outcome.problem}")
        return 1
    except (rules.AlertRuleError, accounts.AccountError) as error:
        console.err(str(error))
        return 2
