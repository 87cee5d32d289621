"""`python app.py apikeys add|list|revoke`: keys for the send-records API, one subaccount each."""

from __future__ import annotations

import argparse

from commands.console import Console
from data_access import audit
from ingest.keys import UnknownNameError, create_key, list_keys, revoke_key, subaccount_id


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "apikeys",
        help="make, list and revoke keys of the send-records API",
        description="A key records messages for one subaccount through POST /api/v1/messages. "
        "Only a hash is stored: the key is shown once, when it is made.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="make a key for a subaccount (created if new)")
    add.add_argument("--subaccount", required=True, metavar="NAME")
    add.add_argument("--label", help="a note saying who uses the key")
    listing = actions.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--subaccount", metavar="NAME")
    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("id", type=int, metavar="ID")


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "-"


def run(args: argparse.Namespace, console: Console, engine, settings) -> int:
    try:
        with engine.begin() as conn:
            if args.action == "add":
                key, plain = create_key(conn, args.subaccount.strip(), args.label)
                audit.record(
                    conn,
                    actor=audit.command_actor(),
                    action=audit.KEY_CREATED,
                    detail=f"key {key.id} ({key.prefix}…) of {key.subaccount}"
                    + (f", {key.label}" if key.label else ""),
                    subaccount_id=subaccount_id(conn, key.subaccount)[0],
                )
                console.out(f"API key {key.id} for subaccount {key.subaccount!r}:")
                console.out(plain)
                console.out("Keep it now: it is not stored and cannot be shown again.")
                return 0
            if args.action == "revoke":
                was_live = any(k.id == args.id and k.revoked_at is None for k in list_keys(conn))
                key = revoke_key(conn, args.id)
                if was_live:
                    audit.record(
                        conn,
                        actor=audit.command_actor(),
                        action=audit.KEY_REVOKED,
                        detail=f"key {key.id} ({key.prefix}…) of {key.subaccount}",
                        subaccount_id=subaccount_id(conn, key.subaccount)[0],
                    )
                console.out(f"API key {key.id} ({key.prefix}…) of {key.subaccount!r} is revoked.")
                return 0
            keys = list_keys(conn, args.subaccount)
    except UnknownNameError as error:
        console.err(str(error))
        return 2
    if not keys:
        console.out("No API keys.")
        return 0
    console.out(f"{'id':>4}  {'key starts':<12} {'subaccount':<24} {'created':<21} revoked  label")
    for key in keys:
        console.out(
            f"{key.id:>4}  {key.prefix + '…':<12} {key.subaccount:<24} "
            f"{_when(key.created_at):<21} {'yes' if key.revoked_at else 'no':<8} {key.label or ''}"
        )
    return 0
