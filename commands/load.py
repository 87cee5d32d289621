"""`python app.py load FILE...`: validate and merge message files into the store."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from commands.console import Console
from data_access.clickhouse import loader as clickhouse_loader
from data_access.clickhouse.binding import messages_of
from data_access.loader import LoadError, load_files
from data_access.writes import StoreBusyError, is_out_of_memory

MAX_PROBLEMS_SHOWN = 200

log = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "load",
        help="load message files (CSV or Parquet) into the store",
        description="Validate every file, then merge its rows into the store. A message "
        "already stored is updated by the merge rules; loading a file twice changes nothing.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="load the good rows and write the rejected ones, with reasons, to FILE.rejected.csv",
    )


def run(args: argparse.Namespace, console: Console, engine, settings) -> int:
    # Messages kept in ClickHouse are written there (the relational engine keeps their names).
    clickhouse = messages_of(engine)
    target = engine if clickhouse is None else clickhouse
    load = load_files if clickhouse is None else clickhouse_loader.load_files
    try:
        report = load(
            target,
            list(args.files),
            settings.account_timezone,
            skip_invalid=args.skip_invalid,
            progress=console.progress,
        )
    except LoadError as error:
        for problem in error.problems[:MAX_PROBLEMS_SHOWN]:
            console.err(str(problem))
        if len(error.problems) > MAX_PROBLEMS_SHOWN:
            console.err(f"... and {len(error.problems) - MAX_PROBLEMS_SHOWN} more problems")
        if error.loaded:
            console.err(
                f"{len(error.problems)} problem(s) found; the {error.loaded:,} rows before them "
                "were loaded (loading the fixed files again is harmless), nothing after."
            )
        else:
            console.err(f"{len(error.problems)} problem(s) found; nothing was loaded.")
        return 2
    except StoreBusyError as error:
        console.err(f"The load stopped: {error}. Rows already merged stay; load again.")
        return 1
    except Exception as error:  # the engine's refusal, raised through the driver or not
        if not is_out_of_memory(error):
            raise
        # The engine's own words for whoever reads the log (the server's, for a served load).
        log.warning("a load ran out of memory: %s", " ".join(str(error).split())[:500])
        console.err(
            f"The store ran out of memory (DUCKDB_MEMORY_LIMIT={settings.duckdb_memory_limit}) "
            "during the load: the parts merged before it are stored, nothing of the part it "
            "stopped in (nothing at all if it stopped while reading the files). "
            "Raise DUCKDB_MEMORY_LIMIT and load the same files again (it is harmless)."
        )
        return 1
    console.out(
        f"Loaded {report.rows_loaded:,} rows from {len(args.files)} file(s)"
        + (f"; rejected {report.rows_rejected:,}" if report.rows_rejected else "")
        + "."
    )
    for path in report.rejected_files:
        console.out(f"Rejected rows and reasons: {path}")
    return 0
