"""`python app.py load FILE...`: validate and merge message files into the store."""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from commands.console import Console
from data_access.clickhouse import loader as clickhouse_loader
from data_access.clickhouse.binding import messages_of
from data_access.loader import (
    CheckedLoad,
    LoadError,
    LoadReport,
    check_files,
    check_sizes_alone,
    load_files,
    merge_checked,
)
from data_access.writes import StoreBusyError, is_out_of_memory

MAX_PROBLEMS_SHOWN = 200

T = TypeVar("T")

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


def prepare(args: argparse.Namespace, console: Console, settings) -> int:
    """Read and check the files here, before the store is opened: where the server holds the
    store, it is handed only the checked parts to merge, so the check's memory and work stay
    in this process. (A ClickHouse store's loader reads its files itself.)"""
    args.checked = None
    if settings.clickhouse_url:
        return 0
    folder = Path(tempfile.mkdtemp(prefix="load-"))
    args.checked = folder
    reader_limit, part_rows = check_sizes_alone(
        settings.duckdb_memory_limit if settings.is_duckdb else None
    )
    code, _ = _reported(
        console,
        settings,
        lambda: check_files(
            list(args.files),
            settings.account_timezone,
            folder,
            skip_invalid=args.skip_invalid,
            part_rows=part_rows,
            reader_limit=reader_limit,
        ),
    )
    return code


def finish(args: argparse.Namespace) -> None:
    """Remove the checked parts, merged or not."""
    checked = getattr(args, "checked", None)
    if checked is not None:
        shutil.rmtree(checked, ignore_errors=True)


def run(args: argparse.Namespace, console: Console, engine, settings) -> int:
    checked = getattr(args, "checked", None)
    # Messages kept in ClickHouse are written there (the relational engine keeps their names).
    clickhouse = messages_of(engine)
    files, timezone, skip = list(args.files), settings.account_timezone, args.skip_invalid
    work: Callable[[], LoadReport]
    if clickhouse is not None:
        work = partial(
            clickhouse_loader.load_files, clickhouse, files, timezone, skip_invalid=skip,
            progress=console.progress,
        )  # fmt: skip
    elif checked is not None:
        # Checked by `prepare`: in this process, or in the command's that handed it here.
        work = partial(_merge_checked, engine, checked, console.progress)
    else:
        work = partial(
            load_files, engine, files, timezone, skip_invalid=skip, progress=console.progress
        )
    code, report = _reported(console, settings, work)
    if report is None:
        return code
    console.out(
        f"Loaded {report.rows_loaded:,} rows from {len(args.files)} file(s)"
        + (f"; rejected {report.rows_rejected:,}" if report.rows_rejected else "")
        + "."
    )
    for path in report.rejected_files:
        console.out(f"Rejected rows and reasons: {path}")
    return 0


def _merge_checked(engine, folder: Path, progress) -> LoadReport:
    return merge_checked(engine, CheckedLoad.read(folder), progress=progress)


def _reported(console: Console, settings, work: Callable[[], T]) -> tuple[int, T | None]:
    """`work`'s result (code 0), or the code and sentences of a load that stopped."""
    try:
        return 0, work()
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
        return 2, None
    except StoreBusyError as error:
        console.err(f"The load stopped: {error}. Rows already merged stay; load again.")
        return 1, None
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
        return 1, None
