"""`python app.py schedules add|list|disable|enable`: reports exported and mailed on a schedule."""

from __future__ import annotations

import argparse

from clock import utcnow
from commands.console import Console
from data_access import accounts
from data_access import schedules as store
from data_access.filters import FilterError
from reporting.url_query import state_from_search

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "schedules",
        help="scheduled reports: add, list, disable, enable",
        description="A view of the reports screen (the query string of its address) exported "
        "daily, weekly or monthly at an hour of the owner's time zone; each run is an export "
        "in the owner's history, and the recipients get the headline figures and the link.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="schedule a view")
    add.add_argument("--owner", required=True, help="the sign-in account whose view it is")
    add.add_argument(
        "--view",
        default="",
        metavar="QUERY",
        help="the address's query string, e.g. 'channel=sms&start=2026-11-01&end=2026-11-07'",
    )
    add.add_argument("--format", choices=store.FORMATS, default="xlsx")
    add.add_argument("--every", choices=store.FREQUENCIES, required=True, dest="frequency")
    add.add_argument("--hour", type=int, required=True, help="0-23, in the owner's time zone")
    add.add_argument("--weekday", choices=WEEKDAYS, help="for weekly schedules")
    add.add_argument("--day", type=int, help="day of the month (1-28) for monthly schedules")
    add.add_argument("--to", required=True, help="recipients' addresses, comma-separated")
    actions.add_parser("list", help="list the schedules and their last runs")
    for name in ("disable", "enable"):
        action = actions.add_parser(name, help=f"{name} a schedule")
        action.add_argument("id", type=int, metavar="ID")


def _add(args, console: Console, engine, settings) -> int:
    state_from_search(args.view)  # a malformed view is refused now, not at its first run
    with engine.begin() as conn:
        account = accounts.require_account(conn, args.owner)
        schedule = store.create_schedule(
            conn,
            owner_id=account.id,
            owner=account.username,
            search=args.view,
            format=args.format,
            frequency=args.frequency,
            hour=args.hour,
            weekday=WEEKDAYS.index(args.weekday) if args.weekday else None,
            month_day=args.day,
            timezone=account.timezone or settings.account_timezone,
            language=account.language,
            recipients=args.to,
            now=utcnow(),
        )
    next_run = schedule.next_due(utcnow())
    console.out(
        f"Schedule {schedule.id} added; next run {next_run:%Y-%m-%d %H:%M} UTC."
        if next_run
        else f"Schedule {schedule.id} added."
    )
    return 0


def run(args: argparse.Namespace, console: Console, engine, settings) -> int:
    try:
        if args.action == "add":
            return _add(args, console, engine, settings)
        with engine.begin() as conn:
            if args.action == "list":
                found = store.list_schedules(conn)
                if not found:
                    console.out("No scheduled reports.")
                    return 0
                now = utcnow()
                for schedule in found:
                    last = store.runs_of(conn, schedule.id)[-1:] or None
                    next_run = schedule.next_due(now) if schedule.active else None
                    console.out(
                        f"{schedule.id:>4}  {'active' if schedule.active else 'disabled':<8}  "
                        f"{schedule.frequency} {schedule.hour:02d}:00 {schedule.timezone}  "
                        f"{schedule.format}  ?{schedule.search}  -> {schedule.recipients}  "
                        f"(owner {schedule.owner}; next "
                        f"{f'{next_run:%Y-%m-%d %H:%M} UTC' if next_run else '-'}"
                        + (
                            f"; last {last[0].due_at:%Y-%m-%d %H:%M} UTC "
                            f"{'mailed' if last[0].mailed else last[0].problem or 'running'}"
                            if last
                            else ""
                        )
                        + ")"
                    )
                return 0
            if store.get_schedule(conn, args.id) is None:
                console.err(f"There is no schedule {args.id}; `schedules list` shows them.")
                return 2
            store.set_active(conn, args.id, args.action == "enable")
        console.out(f"Schedule {args.id} is {args.action}d.")
        return 0
    except (store.ScheduleError, accounts.AccountError, FilterError) as error:
        console.err(str(error))
        return 2
