"""`python app.py export ...`: write a consolidated or detailed report file now, for scripts."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable
from datetime import date
from pathlib import Path

from sqlalchemy import select

from commands.console import Console
from data_access import audit
from data_access.clickhouse.binding import bind_url
from data_access.domain import CHANNELS, DIRECTIONS, STATUSES
from data_access.filters import AccessScope, FilterError
from data_access.store import make_engine
from data_access.tables import subaccounts
from exports import standalone
from exports.request import FORMATS, ExportError, ExportRequest
from exports.writers import ExportResult, write_export

LANGUAGE_CHOICES = ("es", "pt", "en")


def _day(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date in YYYY-MM-DD form") from None
    if len(value) != 10:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date in YYYY-MM-DD form")
    return value


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a report file (CSV, XLSX, or a ZIP of the consolidated sections) now",
        description="Write the consolidated or detailed report of a channel and date range to a "
        "file, as the dashboard's export does, and wait until it is written. Times are in "
        "--tz (default: the account time zone). Exit status 2 means the arguments need fixing.",
    )
    parser.add_argument("--view", required=True, choices=("consolidated", "detailed"))
    parser.add_argument("--format", required=True, choices=FORMATS)
    parser.add_argument("--channel", required=True, choices=CHANNELS)
    parser.add_argument("--start", required=True, type=_day, metavar="YYYY-MM-DD")
    parser.add_argument("--end", required=True, type=_day, metavar="YYYY-MM-DD")
    parser.add_argument("--direction", choices=DIRECTIONS)
    parser.add_argument(
        "--subaccount", action="append", default=[], metavar="NAME", help="repeat for several"
    )
    parser.add_argument(
        "--status", action="append", default=[], choices=STATUSES, help="repeat for several"
    )
    parser.add_argument("--phone", help="detailed view: messages of this number only")
    parser.add_argument("--lang", default="es", choices=LANGUAGE_CHOICES, help="headers' language")
    parser.add_argument("--tz", metavar="ZONE", help="IANA time zone of the times in the file")
    parser.add_argument("--out", required=True, type=Path, metavar="PATH")


def _subaccount_ids(engine, names: list[str]) -> tuple[list[int], list[str]]:
    """Ids of the named subaccounts, and the names that match none."""
    with engine.connect() as conn:
        known = dict(conn.execute(select(subaccounts.c.name, subaccounts.c.id)).all())
    return [known[n] for n in names if n in known], [n for n in names if n not in known]


def run(args: argparse.Namespace, console: Console, engine, settings) -> int:
    out = Path(args.out)
    if out.is_dir():
        console.err(f"--out {out} is a folder; give a file name, for example {out / 'report.csv'}")
        return 2
    if not out.parent.is_dir():
        console.err(f"The folder {out.parent} does not exist; create it first.")
        return 2
    if args.phone and args.view != "detailed":
        console.err("--phone applies to the detailed view only; add --view detailed.")
        return 2
    ids, unknown = _subaccount_ids(engine, args.subaccount)
    if unknown:
        console.err("Unknown subaccount(s): " + ", ".join(repr(n) for n in unknown))
        return 2
    with engine.connect() as conn:
        everything = conn.execute(select(subaccounts.c.id)).scalars().all()
    state = {
        "channel": args.channel,
        "view": args.view,
        "start": args.start,
        "end": args.end,
        "direction": args.direction,
        "subaccounts": ids,
        "statuses": args.status,
        "phone": args.phone,
    }
    try:
        request = ExportRequest.build(
            state, args.format, args.lang, args.tz or settings.account_timezone
        )
    except (FilterError, ExportError) as error:
        console.err(str(error))
        return 2
    with engine.begin() as conn:
        audit.record(
            conn,
            actor=audit.command_actor(),
            action=audit.EXPORT_REQUESTED,
            detail=f"{request.format} of the {request.view} {request.channel} report, "
            f"{args.start} to {args.end}, written to {out.resolve()}",
            subaccount_id=ids[0] if len(ids) == 1 else None,
        )
    advance: Callable[[int], None] | None = None
    shown = 0

    def progress(done: int, total: int) -> None:
        nonlocal advance, shown
        if advance is None:
            advance, shown = console.progress(total), 0
        advance(done - shown)
        shown = done

    def write(store) -> ExportResult:
        return write_export(
            store,
            request,
            AccessScope.of(everything),
            out,
            requested_by=f"command line ({getpass.getuser()})",
            max_rows=settings.xlsx_max_rows,
            progress=progress,
        )

    try:
        try:
            result = write(engine)
        except Exception as error:
            if not (standalone.is_export_engine(engine) and standalone.ran_out_of_memory(error)):
                raise
            console.err(
                f"The export needed more memory than a lone export is given "
                f"({standalone.MEMORY_LIMIT}); writing it again under DUCKDB_MEMORY_LIMIT "
                f"({settings.duckdb_memory_limit})."
            )
            advance = None  # the second try draws a bar of its own
            roomier = bind_url(
                make_engine(settings.database_url, settings.duckdb_memory_limit),
                settings.clickhouse_url,
            )
            try:
                result = write(roomier)
            finally:
                roomier.dispose()
    except OSError as error:
        console.err(f"Could not write {out}: {error.strerror or error}")
        return 1
    except Exception as error:
        # Nothing was written (write_export removes its partial file); say why in one line.
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        console.err(f"The export failed: {reason}")
        return 1
    sheets = f" on {len(result.sheets)} sheets" if len(result.sheets) > 1 else ""
    console.out(
        f"Wrote {result.rows:,} rows{sheets} to {out} ({result.size:,} bytes; "
        f"times in {request.timezone})."
    )
    return 0
