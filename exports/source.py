"""Rows of an export, read from the store as Arrow batches without holding the whole result.

Detailed rows come from `reports.detailed_select`, so a file holds exactly what the detailed
view shows. How they are streamed depends on the store:

- PostgreSQL sorts on the server and streams the rows out as CSV (`COPY (SELECT ...) TO
  STDOUT`), which pyarrow parses into batches of about `COPY_PIECE_BYTES` of text. Reading
  the rows as Python tuples (a server-side cursor) and building Arrow arrays from them cost
  more than the whole rest of a CSV export.
- DuckDB runs inside this process, so an ORDER BY over the whole range would hold every row in
  memory while it sorts. The rows are therefore read in slices, all inside one transaction (one
  consistent snapshot): for the time order, consecutive windows of whole minutes planned from
  a per-minute count and size, each of at most `window_rows` rows and `window_bytes` of
  estimated size (a minute that holds more alone, a campaign sent at once, is cut into keyset
  pages); for any other order, keyset pages (`WHERE (key, message_id) > last ... LIMIT n`).
  Each slice streams through DuckDB's Arrow reader.
"""

from __future__ import annotations

import io
import operator
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Connection, Engine, and_, func, or_, select

from data_access import reports
from data_access.filters import AccessScope, ReportFilter
from data_access.tables import messages
from exports.read_ahead import ReadAhead

BATCH_ROWS = 4096
WINDOW_ROWS = 50_000
WINDOW_BYTES = 15 * 2**20
COPY_PIECE_BYTES = 4 * 2**20
# Read ahead of the writer: about a window, so the store runs the next window's query while a
# fast writer (CSV) renders the last one.
READ_AHEAD_BYTES = 16 * 2**20

m = messages.c

DETAIL_SCHEMA = pa.schema(
    [
        (name, pa.timestamp("us") if name in reports.TIME_COLUMNS else pa.string())
        for name in reports.DETAIL_COLUMNS
    ]
)


@dataclass
class DetailStream:
    """The number of rows about to come and an iterator over their batches."""

    total: int
    batches: Iterator[pa.RecordBatch]

    def close(self) -> None:
        """Stop reading: DuckDB refuses further statements on a connection with a result open."""
        close = getattr(self.batches, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> DetailStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _to_schema(batch: pa.RecordBatch) -> pa.RecordBatch:
    arrays = [
        batch.column(i).cast(field.type) if batch.column(i).type != field.type else batch.column(i)
        for i, field in enumerate(DETAIL_SCHEMA)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=DETAIL_SCHEMA)


def rows_to_batch(rows) -> pa.RecordBatch:
    """Result rows (tuples in DETAIL_COLUMNS order) as one Arrow batch of DETAIL_SCHEMA."""
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in DETAIL_SCHEMA]
    return pa.RecordBatch.from_arrays(
        [
            pa.array(list(values), field.type)
            for values, field in zip(columns, DETAIL_SCHEMA, strict=True)
        ],
        schema=DETAIL_SCHEMA,
    )


def _duckdb_batches(conn: Connection, statement, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Stream one statement through DuckDB's Arrow reader on this connection's transaction."""
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = [compiled.params[key] for key in compiled.positiontup or ()]
    raw = conn.connection.dbapi_connection
    reader = raw.sql(compiled.string, params=params).to_arrow_reader(batch_rows)
    try:
        for batch in reader:
            if batch.num_rows:
                yield _to_schema(batch)
    finally:
        reader.close()


def _count(conn: Connection, where) -> int:
    return int(conn.execute(select(func.count()).select_from(messages).where(where)).scalar_one())


@dataclass(frozen=True)
class _Window:
    """Rows created in [low, high), with their count and estimated size."""

    low: datetime
    high: datetime
    rows: int
    size: int


# The estimated size of a row: its content plus this much for the rest (ids, times, codes,
# names, phone, error text), a little more than real rows of the kind hold. Only the content
# is measured: reading the other texts too made the plan 50 % slower.
ROW_BYTES = 250


def _minute_windows(
    conn: Connection, where, descending: bool, window_rows: int, window_bytes: int
) -> list[_Window]:
    """Consecutive windows of whole minutes, in export order, each of at most window_rows rows
    and window_bytes of estimated size, unless one minute alone holds more."""
    minute = func.date_trunc("minute", m.created_at).label("minute")
    # strlen is DuckDB's byte length of a text; only the DuckDB path plans windows.
    size = func.sum(func.coalesce(func.strlen(m.content), 0) + ROW_BYTES)
    buckets = conn.execute(
        select(minute, func.count(), size).where(where).group_by(minute).order_by(minute)
    ).all()
    if descending:
        buckets.reverse()
    windows: list[_Window] = []
    for start, rows, bytes_ in buckets:
        end, rows, bytes_ = start + timedelta(minutes=1), int(rows), int(bytes_)
        last = windows[-1] if windows else None
        if last and last.rows + rows <= window_rows and last.size + bytes_ <= window_bytes:
            windows[-1] = _Window(
                min(last.low, start), max(last.high, end), last.rows + rows, last.size + bytes_
            )
        else:
            windows.append(_Window(start, end, rows, bytes_))
    return windows


def _time_windows(
    conn: Connection,
    scope: AccessScope,
    flt: ReportFilter,
    descending: bool,
    window_rows: int,
    window_bytes: int,
    batch_rows: int,
) -> DetailStream:
    where = reports.detailed_select(scope, flt).whereclause
    windows = _minute_windows(conn, where, descending, window_rows, window_bytes)

    def batches() -> Iterator[pa.RecordBatch]:
        for window in windows:
            statement = reports.detailed_window_select(
                scope, flt, window.low, window.high, descending
            )
            if window.rows <= window_rows and window.size <= window_bytes:
                yield from _duckdb_batches(conn, statement, batch_rows)
            else:
                # One minute holds more than a window (a campaign sent at once): its rows go
                # out in keyset pages of a window's size, each sorting only that minute.
                page_rows = max(1, min(window_rows, window_rows * window_bytes // window.size))
                yield from _pages(conn, statement, "created_at", descending, page_rows, batch_rows)

    return DetailStream(sum(window.rows for window in windows), batches())


def _pages(
    conn: Connection, statement, sort: str, descending: bool, page_rows: int, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """The rows of an ordered statement, page_rows at a time (WHERE (key, id) beyond the last
    row of the previous page ... LIMIT page_rows)."""
    key = reports.SORT_COLUMNS[sort]
    ident = m.message_id

    def after(last_key, last_id):
        """Rows after (last_key, last_id) in the order of reports._order_by (nulls last)."""
        beyond = operator.lt if descending else operator.gt
        if last_key is None:  # already in the trailing run of null keys
            return and_(key.is_(None), beyond(ident, last_id))
        return or_(
            and_(key.is_not(None), beyond(key, last_key)),
            and_(key == last_key, beyond(ident, last_id)),
            key.is_(None),
        )

    page = statement
    while True:
        got, last = 0, None
        for batch in _duckdb_batches(conn, page.limit(page_rows), batch_rows):
            got, last = got + batch.num_rows, batch
            yield batch
        if got < page_rows:
            return
        last_key = last.column(sort)[-1].as_py()
        page = statement.where(after(last_key, last.column("message_id")[-1].as_py()))


def _keyset_pages(
    conn: Connection,
    statement,
    sort: str,
    descending: bool,
    window_rows: int,
    batch_rows: int,
) -> DetailStream:
    total = _count(conn, statement.whereclause)
    pages = _pages(conn, statement, sort, descending, window_rows, batch_rows)
    return DetailStream(total, pages)


# COPY's CSV: NULL is an empty unquoted field, an empty text the quoted "".
_COPY_CONVERT = pacsv.ConvertOptions(
    column_types=DETAIL_SCHEMA,
    null_values=[""],
    strings_can_be_null=True,
    quoted_strings_can_be_null=False,
)
_COPY_PARSE = pacsv.ParseOptions(newlines_in_values=True)


def _parse_piece(piece: bytes, batch_rows: int) -> Iterator[pa.RecordBatch]:
    read = pacsv.ReadOptions(column_names=DETAIL_SCHEMA.names)
    table = pacsv.read_csv(
        io.BytesIO(piece),
        read_options=read,
        parse_options=_COPY_PARSE,
        convert_options=_COPY_CONVERT,
    )
    # One chunk per piece, so the batches are full-sized rather than one per parsing block.
    yield from table.combine_chunks().to_batches(max_chunksize=batch_rows)


def _copy_stream(conn: Connection, statement, batch_rows: int) -> DetailStream:
    total = _count(conn, statement.whereclause)
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    raw = conn.connection.dbapi_connection
    # Times leave as ISO text in UTC (the stored naive values), whatever the server's defaults;
    # LOCAL ends with the export's transaction.
    raw.execute("SET LOCAL datestyle = 'ISO, YMD'")
    raw.execute("SET LOCAL client_encoding = 'UTF8'")
    cursor = raw.cursor()
    query = f"COPY ({compiled.string}) TO STDOUT WITH (FORMAT csv)"

    def batches() -> Iterator[pa.RecordBatch]:
        # PostgreSQL sends one message per row, so a piece always ends on a whole row.
        with cursor.copy(query, compiled.params) as copy:
            piece, size = [], 0
            for data in copy:
                piece.append(data)
                size += len(data)
                if size >= COPY_PIECE_BYTES:
                    yield from _parse_piece(b"".join(piece), batch_rows)
                    piece, size = [], 0
            if piece:
                yield from _parse_piece(b"".join(piece), batch_rows)

    return DetailStream(total, batches())


def detailed_stream(
    conn: Connection,
    scope: AccessScope,
    flt: ReportFilter,
    sort: str = "created_at",
    descending: bool = True,
    *,
    batch_rows: int = BATCH_ROWS,
    window_rows: int = WINDOW_ROWS,
    window_bytes: int = WINDOW_BYTES,
    read_ahead_bytes: int = READ_AHEAD_BYTES,
) -> DetailStream:
    """The detailed rows in the view's order as Arrow batches (times still naive UTC).

    Run it inside a transaction on `conn` and consume the batches before it ends. Unless
    `read_ahead_bytes` is 0, the batches are read in a thread of their own (exports.read_ahead),
    which uses `conn` until the stream is used up or closed.
    """
    if not scope.subaccount_ids:
        return DetailStream(0, iter(()))
    statement = reports.detailed_select(scope, flt, sort, descending)
    if conn.dialect.name != "duckdb":
        stream = _copy_stream(conn, statement, batch_rows)
    elif sort == "created_at":
        stream = _time_windows(conn, scope, flt, descending, window_rows, window_bytes, batch_rows)
    else:
        stream = _keyset_pages(conn, statement, sort, descending, window_rows, batch_rows)
    if read_ahead_bytes:
        stream.batches = ReadAhead(stream.batches, read_ahead_bytes)
    return stream


def consolidated_rows(bind: Engine | Connection, scope: AccessScope, flt: ReportFilter):
    """The daily series and its range totals, as the consolidated view computes them."""
    daily = reports.daily_series(bind, scope, flt)
    return daily, reports.range_totals(daily, flt.channel)
