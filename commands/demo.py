"""`python app.py demo --messages N`: fill the store with realistic demo messages."""

from __future__ import annotations

import argparse
import time

from commands.console import Console
from data_access.clickhouse.binding import messages_of
from demo.generator import (
    MAX_DAYS,
    DemoError,
    build_demo,
    check_request,
    message_count,
    store_has_messages,
)


def _whole(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", "").replace(",", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="add realistic demo messages to the store",
        description="Generate demo messages (WhatsApp and SMS, six brands in Latin America) "
        "over the last days up to now, and add them to the store. The same seed gives the "
        "same messages; building it twice adds nothing.",
    )
    parser.add_argument(
        "--messages", type=_whole(1), required=True, metavar="N", help="how many messages"
    )
    parser.add_argument(
        "--days",
        type=_whole(1),
        default=90,
        metavar="D",
        help=f"spread them over the last D days, today included (default 90, at most {MAX_DAYS})",
    )
    parser.add_argument("--seed", type=_whole(0), default=0, help="random seed (default 0)")
    parser.add_argument(
        "--if-empty",
        action="store_true",
        help="do nothing when the store already holds messages",
    )


def run(args: argparse.Namespace, console: Console, engine, settings) -> int:
    if messages_of(engine) is not None:
        # The generator writes through data_access.merge, into the relational messages.
        console.err(
            "Demo data is written to a DuckDB or PostgreSQL store only; on ClickHouse load "
            "files with `python app.py load`."
        )
        return 2
    if args.if_empty and store_has_messages(engine):
        console.out("The store already holds messages; no demo data added.")
        return 0
    started = time.monotonic()
    try:
        # Checked before the progress bar is drawn, so a bad request shows only its message.
        check_request(args.messages, args.days, args.seed)
        written = build_demo(
            engine,
            args.messages,
            days=args.days,
            seed=args.seed,
            timezone=settings.account_timezone,
            progress=console.progress(args.messages, unit="messages"),
        )
    except DemoError as error:
        console.err(str(error))
        return 2
    console.out(
        f"Generated {written:,} demo messages over the last {args.days} days "
        f"in {time.monotonic() - started:.1f} s; the store now holds "
        f"{message_count(engine):,} messages."
    )
    return 0
