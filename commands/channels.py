"""`python app.py channels add|list|remove`: which subaccount each business number serves."""

from __future__ import annotations

import argparse

from commands.console import Console
from ingest.channels import ChannelError, assign, list_numbers, new_callback_token, remove
from ingest.keys import UnknownNameError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "channels",
        help="assign business numbers to subaccounts (for inbound messages)",
        description="Inbound messages are recorded under the subaccount of the number they "
        "were sent to: a WhatsApp phone_number_id (as shown in Meta's app dashboard) or the "
        "SMS number or short code that Sinch delivers to.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="assign a number to a subaccount (created if new)")
    add.add_argument("--channel", required=True, choices=("whatsapp", "sms"))
    add.add_argument("--number-id", required=True, metavar="ID")
    add.add_argument("--subaccount", required=True, metavar="NAME")
    add.add_argument("--label", help="a note, e.g. the display number")
    callback = actions.add_parser(
        "callback",
        help="give an SMS number its own Sinch callback URL",
        description="Prints a Sinch callback URL of the number's own: reports and inbound "
        "messages posted there are written in the number's subaccount only (a replaced URL "
        "stops working). The account-wide URL with SINCH_WEBHOOK_TOKEN writes any subaccount.",
    )
    callback.add_argument("--number-id", required=True, metavar="NUMBER")
    actions.add_parser("list", help="list the assigned numbers")
    drop = actions.add_parser("remove", help="unassign a number")
    drop.add_argument("--channel", required=True, choices=("whatsapp", "sms"))
    drop.add_argument("--number-id", required=True, metavar="ID")


def run(args: argparse.Namespace, console: Console, engine, settings) -> int:
    try:
        with engine.begin() as conn:
            if args.action == "add":
                number, created = assign(
                    conn, args.channel, args.number_id, args.subaccount.strip(), args.label
                )
                if created:
                    console.out(f"Subaccount {number.subaccount!r} did not exist; created it.")
                console.out(
                    f"The {number.channel} number {number.number_id} now belongs to "
                    f"{number.subaccount!r}."
                )
                return 0
            if args.action == "callback":
                number, token = new_callback_token(conn, args.number_id)
                console.out(
                    f"Sinch callback URL of the sms number {number.number_id} "
                    f"({number.subaccount!r}), shown only now:"
                )
                console.out(f"  https://HOST/webhooks/sinch/sms/{token}")
                return 0
            if args.action == "remove":
                remove(conn, args.channel, args.number_id)
                console.out(f"The {args.channel} number {args.number_id} is no longer assigned.")
                return 0
            numbers = list_numbers(conn)
    except (ChannelError, UnknownNameError) as error:
        console.err(str(error))
        return 2
    if not numbers:
        console.out("No business numbers are assigned.")
        return 0
    console.out(f"{'channel':<9} {'number id':<20} {'subaccount':<24} label")
    for number in numbers:
        console.out(
            f"{number.channel:<9} {number.number_id:<20} {number.subaccount:<24} "
            f"{number.label or ''}"
        )
    return 0
