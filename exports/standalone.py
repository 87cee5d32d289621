"""How a process that runs one export and nothing else (`python app.py export`) sizes itself.

The server's embedded store keeps a cache of table blocks for the dashboard's many queries
(DUCKDB_MEMORY_LIMIT, 1GB by default). A lone export reads each block once, in time order, so
that cache is of no use to it: under the settings below a detailed export of 2M rows peaks at
about 270 MiB instead of 530 MiB (docs/BENCHMARKS.md, Exports). They hold for exports in time
order, the only order the command writes; other orders sort the rest of the range page by
page and need the server's memory. Time windows are planned by the estimated size of their
rows, so long texts make them shorter; should an export still run out of this memory, the
command writes it again under DUCKDB_MEMORY_LIMIT (commands/export.py).
"""

from __future__ import annotations

import weakref

import duckdb
from sqlalchemy import Engine

from data_access.store import make_engine
from servertools import allocator

# DuckDB's memory for the export's statements on one thread: it scans a window's rows and looks
# up the contacts of a run of windows, and the export names and sorts the rows itself
# (exports.source). 16MB ran out of memory on a minute of 62k messages (a campaign sent at
# once, sorted by DuckDB in pages); a second thread gained nothing, as the store's query
# already runs beside the file writer (exports.read_ahead).
MEMORY_LIMIT = "24MB"
THREADS = 1


_export_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def make_export_engine(database_url: str) -> Engine:
    """The store for a process that runs one export (PostgreSQL ignores the DuckDB sizes)."""
    engine = make_engine(database_url, MEMORY_LIMIT, duckdb_threads=THREADS)
    _export_engines.add(engine)
    return engine


def is_export_engine(engine: Engine) -> bool:
    return engine in _export_engines


def ran_out_of_memory(error: BaseException) -> bool:
    """Whether an export failed because DuckDB ran out of its memory (raised as it is by the
    export's own reads, or wrapped by SQLAlchemy)."""
    cause = getattr(error, "orig", error)
    return isinstance(cause, duckdb.OutOfMemoryException)


def prepare_process() -> None:
    """Size the process's allocators for one export.

    Arrow hands freed buffers back through the C allocator, which keeps fewer of them than
    Arrow's own pool (17 MB less at the peak of a 2M-row export). The C allocator then maps
    every block of 128 KiB or more on its own and unmaps it when freed: left to itself, glibc
    raises that threshold as soon as big blocks are freed, and a window's columns, read and
    sorted one after another, then stay in its heap (25 MB more at the peak).
    """
    allocator.fix_sizes(allocator.glibc())  # not glibc: its allocator keeps its own counsel
