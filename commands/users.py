"""`python app.py users add|passwd|grant|revoke|disable|enable|reset-totp|list|demo`: accounts."""

from __future__ import annotations

import argparse
import getpass
import sys

from commands.console import Console
from data_access import accounts, audit
from demo.accounts import DemoAccount, create_demo_accounts
from reporting.languages import DEFAULT_LANGUAGE, LANGUAGES


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "users",
        help="manage the people who sign in to the dashboard",
        description="Sign-in accounts. An admin sees every subaccount; a user sees the "
        "subaccounts granted to them. Passwords are asked for on the terminal (or read as one "
        "line from standard input when it is not a terminal) and stored as argon2 hashes.",
    )
    actions = parser.add_subparsers(dest="users_command", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="create an account (asks for its password)")
    add.add_argument("username")
    add.add_argument("--role", choices=accounts.ROLES, default="user")
    add.add_argument("--name", dest="display_name", help="the name shown in the dashboard")
    add.add_argument("--lang", choices=LANGUAGES, default=DEFAULT_LANGUAGE)
    add.add_argument("--tz", dest="timezone", help="IANA time zone (default: the account's)")
    add.add_argument(
        "--subaccount",
        action="append",
        default=[],
        metavar="NAME",
        help="grant this subaccount (repeat for more)",
    )

    passwd = actions.add_parser("passwd", help="set a new password (ends the user's sessions)")
    passwd.add_argument("username")

    for name, text in (
        ("grant", "let a user see subaccounts"),
        ("revoke", "take subaccounts away from a user"),
    ):
        sub = actions.add_parser(name, help=text)
        sub.add_argument("username")
        sub.add_argument("subaccounts", nargs="+", metavar="SUBACCOUNT")

    for name, text in (
        ("disable", "stop an account from signing in (ends its sessions)"),
        ("enable", "let a disabled account sign in again"),
        ("reset-totp", "turn off two-step verification (a lost phone)"),
    ):
        actions.add_parser(name, help=text).add_argument("username")

    actions.add_parser("list", help="list the accounts, their roles and subaccounts")
    actions.add_parser(
        "demo",
        help="on a store without accounts, add the demo admin and user; print their sign-in",
    )


def read_password(console: Console, stdin=None) -> str | None:
    """A new password from the terminal (typed twice) or the first line of standard input."""
    stdin = stdin or sys.stdin
    if stdin.isatty():
        first = getpass.getpass("New password: ")
        if getpass.getpass("Repeat it: ") != first:
            console.err("The two passwords differ; nothing was changed.")
            return None
        return first
    return stdin.readline().rstrip("\r\n")


def prepare(args: argparse.Namespace, console: Console, settings=None) -> int:
    """Ask for the password here and keep only its hash, so no password leaves this process."""
    if args.users_command not in ("add", "passwd"):
        return 0
    try:
        accounts.check_username(args.username)
        password = read_password(console)
        if password is None:
            return 2
        args.password_hash = accounts.hash_password(password, args.username)
    except accounts.AccountError as error:
        console.err(str(error))
        return 2
    return 0


def _describe(listing: accounts.AccountListing) -> str:
    account = listing.account
    if account.role == "admin":
        scope = "all subaccounts"
    else:
        scope = ", ".join(listing.subaccounts) or "no subaccounts"
    return scope


def run(args: argparse.Namespace, console: Console, engine, settings) -> int:
    action = args.users_command
    actor = audit.command_actor()
    try:
        with engine.begin() as conn:

            def record(kind: str, detail: str) -> None:
                # In the change's own transaction: a refused change leaves no row.
                audit.record(conn, actor=actor, action=kind, detail=detail)

            if action == "add":
                account = accounts.create_account(
                    conn,
                    args.username,
                    args.password_hash,
                    role=args.role,
                    display_name=args.display_name,
                    language=args.lang,
                    timezone=args.timezone,
                )
                granted = accounts.grant(conn, account.username, args.subaccount)
                record(audit.ACCOUNT_CHANGED, f"{account.username}: added as {account.role}")
                if granted:
                    record(audit.GRANT_CHANGED, f"{account.username}: granted {', '.join(granted)}")
                console.out(
                    f"Added {account.role} {account.username!r}"
                    + (f" with {', '.join(granted)}" if granted else "")
                    + "."
                )
            elif action == "passwd":
                account = accounts.change_password(conn, args.username, args.password_hash)
                record(audit.ACCOUNT_CHANGED, f"{account.username}: new password; sessions ended")
                console.out(f"New password set for {account.username!r}; its sessions ended.")
            elif action == "grant":
                added = accounts.grant(conn, args.username, args.subaccounts)
                if added:
                    record(audit.GRANT_CHANGED, f"{args.username}: granted {', '.join(added)}")
                console.out(
                    f"{args.username!r} now also sees {', '.join(added)}."
                    if added
                    else f"{args.username!r} already saw those subaccounts."
                )
            elif action == "revoke":
                removed = accounts.revoke(conn, args.username, args.subaccounts)
                if removed:
                    record(audit.GRANT_CHANGED, f"{args.username}: revoked {', '.join(removed)}")
                console.out(
                    f"{args.username!r} no longer sees {', '.join(removed)}."
                    if removed
                    else f"{args.username!r} did not see those subaccounts."
                )
            elif action in ("disable", "enable"):
                account = accounts.set_active(conn, args.username, action == "enable")
                record(audit.ACCOUNT_CHANGED, f"{account.username}: {action}d")
                console.out(
                    f"{account.username!r} can sign in again."
                    if account.active
                    else f"{account.username!r} can no longer sign in; its sessions ended."
                )
            elif action == "reset-totp":
                account = accounts.reset_totp(conn, args.username)
                record(audit.ACCOUNT_CHANGED, f"{account.username}: two-step verification reset")
                console.out(
                    f"Two-step verification is off for {account.username!r}; they can set it "
                    "up again from their profile."
                )
            elif action == "list":
                _print_list(console, accounts.list_accounts(conn))
            elif action == "demo":
                made = create_demo_accounts(conn)
                for demo in made:
                    if demo.created:
                        detail = f"{demo.username}: added as {demo.role} (demo account)"
                        record(audit.ACCOUNT_CHANGED, detail)
                _print_demo(console, made)
    except accounts.AccountError as error:
        console.err(str(error))
        return 2
    return 0


def _print_list(console: Console, listings: list[accounts.AccountListing]) -> None:
    if not listings:
        console.out("No sign-in accounts yet; `python app.py users add NAME` creates one.")
        return
    header = ("username", "name", "role", "status", "2-step", "lang", "time zone", "sees")
    rows = [header]
    for listing in listings:
        account = listing.account
        rows.append(
            (
                account.username,
                account.display_name or "",
                account.role,
                "active" if account.active else "disabled",
                "on" if account.totp_enabled else "off",
                account.language,
                account.timezone or "(account's)",
                _describe(listing),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        console.out("  ".join([*cells, row[-1]]))


def _print_demo(console: Console, made: list[DemoAccount]) -> None:
    if not made:
        console.out(
            "This store already has sign-in accounts of its own; no demo accounts were added."
        )
        return
    console.out("Demo sign-in:")
    for demo in made:
        if demo.role == "admin":
            scope = "every subaccount"
        else:
            scope = ", ".join(demo.subaccounts) or "no subaccounts yet"
        console.out(f"  {demo.username} / {demo.password}   ({demo.role}: {scope})")
