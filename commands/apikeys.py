"""`python app.py apikeys add|list|revoke`: keys for the send-records API, one subaccount each,
and with `--read` keys of the read API, which read the figures of one or more subaccounts."""

from __future__ import annotations

import argparse

from commands.console import Console
from data_access import audit
from data_access.read_keys import (
    ReadKeyError,
    create_read_key,
    list_read_keys,
    revoke_read_key,
)
from ingest.keys import UnknownNameError, create_key, list_keys, revoke_key, subaccount_id


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "apikeys",
        help="make, list and revoke keys of the send-records API",
        description="A send key records messages for one subaccount through POST "
        "/api/v1/messages; a read key (--read) reads the figures of the subaccounts it names "
        "through GET /api/v1/reports/... and nothing else. Only a hash is stored: the key is "
        "shown once, when it is made.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="make a key for a subaccount (created if new)")
    add.add_argument(
        "--subaccount",
        required=True,
        metavar="NAME",
        action="append",
        help="the key's subaccount; a read key may name several (repeat the option)",
    )
    add.add_argument("--label", help="a note saying who uses the key")
    add.add_argument("--read", action="store_true", help="a key of the read API")
    add.add_argument(
        "--per-minute",
        type=int,
        metavar="N",
        help="a read key's requests per minute (default READ_API_PER_MINUTE)",
    )
    listing = actions.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--subaccount", metavar="NAME")
    listing.add_argument("--read", action="store_true", help="list read keys")
    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("id", type=int, metavar="ID")
    revoke.add_argument("--read", action="store_true", help="the id is a read key's")


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "-"


def _run_read(args: argparse.Namespace, console: Console, engine) -> int:
    if args.action == "add" and args.per_minute is not None and args.per_minute < 1:
        console.err("--per-minute must be at least 1.")
        return 2
    try:
        with engine.begin() as conn:
            if args.action == "add":
                key, plain = create_read_key(conn, args.subaccount, args.label, args.per_minute)
                audit.record(
                    conn,
                    actor=audit.command_actor(),
                    action=audit.KEY_CREATED,
                    detail=f"read key {key.id} ({key.prefix}…) of {', '.join(key.subaccounts)}"
                    + (f", {key.label}" if key.label else ""),
                )
                console.out(f"Read key {key.id} for {', '.join(map(repr, key.subaccounts))}:")
                console.out(plain)
                console.out("Keep it now: it is not stored and cannot be shown again.")
                return 0
            if args.action == "revoke":
                key = revoke_read_key(conn, args.id)
                audit.record(
                    conn,
                    actor=audit.command_actor(),
                    action=audit.KEY_REVOKED,
                    detail=f"read key {key.id} ({key.prefix}…)",
                )
                console.out(f"Read key {key.id} ({key.prefix}…) is revoked.")
                return 0
            keys = list_read_keys(conn)
    except ReadKeyError as error:
        console.err(str(error))
        return 2
    if args.subaccount:
        keys = [key for key in keys if args.subaccount in key.subaccounts]
    if not keys:
        console.out("No read keys.")
        return 0
    console.out(f"{'id':>4}  {'key starts':<12} {'per min':>7}  {'revoked':<8} subaccounts  label")
    for key in keys:
        console.out(
            f"{key.id:>4}  {key.prefix + '…':<12} {key.per_minute or '-':>7}  "
            f"{'yes' if key.revoked_at else 'no':<8} {', '.join(key.subaccounts)}  "
            f"{key.label or ''}"
        )
    return 0


def run(args: argparse.Namespace, console: Console, engine, settings) -> int:
    if args.read:
        return _run_read(args, console, engine)
    if args.action == "add":
        if len(args.subaccount) > 1:
            console.err("A send key records for one subaccount; name one --subaccount.")
            return 2
        if args.per_minute is not None:
            console.err("--per-minute is for read keys (--read).")
            return 2
        args.subaccount = args.subaccount[0]
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
