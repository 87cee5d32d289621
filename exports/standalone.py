"""How a process that runs one export and nothing else (`python app.py export`) sizes itself.

The server's embedded store keeps a cache of table blocks for the dashboard's many queries
(DUCKDB_MEMORY_LIMIT, 1GB by default). A lone export reads each block once, in time order, so
that cache is of no use to it: under the settings below a detailed export of 2M rows peaks at
about 270 MiB instead of 530 MiB (docs/BENCHMARKS.md, Exports). They hold for exports in time
order, the only order the command writes; other orders sort the rest of the range page by
page and need the server's memory.
"""

from __future__ import annotations

import pyarrow as pa
from sqlalchemy import Engine

from data_access.store import make_engine

# DuckDB's memory for one 50k-row window of the export on one thread (two threads ran out of
# memory at 64MB). The store's query runs beside the file writer (exports.read_ahead), so the
# second core is not idle.
MEMORY_LIMIT = "64MB"
THREADS = 1


def make_export_engine(database_url: str) -> Engine:
    """The store for a process that runs one export (PostgreSQL ignores the DuckDB sizes)."""
    return make_engine(database_url, MEMORY_LIMIT, duckdb_threads=THREADS)


def prepare_process() -> None:
    """Let Arrow hand freed buffers back through the C allocator, which keeps fewer of them
    than Arrow's own pool (17 MB less at the peak of a 2M-row export)."""
    pa.set_memory_pool(pa.system_memory_pool())
