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
  estimated size. A window is read as it lies, with ids for the subaccount, user and campaign
  names, and named and sorted here in Arrow: that costs less than half of what DuckDB takes to
  join the names and sort the whole rows. A minute that holds more than a window alone (a
  campaign sent at once) is cut into keyset pages sorted by DuckDB, as is any other order
  (`WHERE (key, message_id) > last ... LIMIT n`), each streamed through DuckDB's Arrow reader.
"""

from __future__ import annotations

import operator
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    and_,
    cast,
    column,
    func,
    or_,
    select,
    table,
)

from data_access import reports
from data_access.clickhouse.binding import messages_of
from data_access.filters import AccessScope, ReportFilter
from data_access.sql import duckdb_relation, raw_connection
from data_access.tables import contacts, messages
from exports.read_ahead import ReadAhead

BATCH_ROWS = 16384
WINDOW_ROWS = 50_000
WINDOW_BYTES = 10 * 2**20
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
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in DETAIL_SCHEMA]
    return pa.RecordBatch.from_arrays(
        [
            pa.array(list(values), field.type)
            for values, field in zip(columns, DETAIL_SCHEMA, strict=True)
        ],
        schema=DETAIL_SCHEMA,
    )


def _converted(batches: Generator[pa.RecordBatch, None, None], convert) -> Iterator[pa.RecordBatch]:
    """The batches through convert; closing this closes the batches (and DuckDB's result)."""
    try:
        for batch in batches:
            yield convert(batch)
    finally:
        batches.close()


def _duckdb_table(conn: Connection, statement) -> pa.Table:
    return duckdb_relation(conn, statement).to_arrow_table()


def _duckdb_batches(conn: Connection, statement, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Stream one statement through DuckDB's Arrow reader on this connection's transaction
    (the batches as DuckDB types them)."""
    reader = duckdb_relation(conn, statement).to_arrow_reader(batch_rows)
    try:
        for batch in reader:
            if batch.num_rows:
                yield batch
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
    size = cast(func.sum(func.coalesce(func.strlen(m.content), 0) + ROW_BYTES), BigInteger)
    plan = select(minute, func.count(), size).where(where).group_by(minute).order_by(minute)
    # A month holds tens of thousands of minutes: read as Arrow and packed as plain integers,
    # they cost a third of what result rows with a datetime each would.
    buckets = _duckdb_table(conn, plan)
    starts = pc.cast(buckets.column(0), pa.int64()).to_pylist()
    counts = buckets.column(1).to_pylist()
    sizes = buckets.column(2).to_pylist()
    order = range(len(starts) - 1, -1, -1) if descending else range(len(starts))
    spans: list[list[int]] = []  # [low, high, rows, size], times in microseconds
    for i in order:
        start, rows, bytes_ = starts[i], counts[i], sizes[i]
        last = spans[-1] if spans else None
        if last and last[2] + rows <= window_rows and last[3] + bytes_ <= window_bytes:
            last[0], last[1] = min(last[0], start), max(last[1], start + _MINUTE_US)
            last[2] += rows
            last[3] += bytes_
        else:
            spans.append([start, start + _MINUTE_US, rows, bytes_])
    return [_Window(_time(low), _time(high), rows, bytes_) for low, high, rows, bytes_ in spans]


_MINUTE_US = 60_000_000
_EPOCH = datetime(1970, 1, 1)


def _time(microseconds: int) -> datetime:
    return _EPOCH + timedelta(microseconds=microseconds)


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
    names = _Names.read(conn)
    order = "descending" if descending else "ascending"

    def batches() -> Iterator[pa.RecordBatch]:
        for span in _spans(windows, window_rows, window_bytes):
            if len(span) == 1 and not _fits(span[0], window_rows, window_bytes):
                # One minute holds more than a window (a campaign sent at once): its rows go
                # out in keyset pages of an eighth of a window, sorted by DuckDB, which holds
                # a page whole while it picks it (a quarter ran out of the lone export's 24MB),
                # and named here.
                window = span[0]
                page_rows = max(1, min(window_rows, window_rows * window_bytes // window.size) // 8)
                statement = reports.detailed_window_select(
                    scope, flt, window.low, window.high, descending
                )
                pages = _pages(conn, statement, "created_at", descending, page_rows, batch_rows)
                for page in pages:
                    phones = _Phones.of_contacts(conn, [batch.column("phone") for batch in page])
                    for batch in page:
                        yield names.batch(batch, phones)
                continue
            low, high = min(w.low for w in span), max(w.high for w in span)
            phones = _Phones.read(conn, scope, flt, low, high)
            for window in span:
                statement = reports.detailed_window_select(scope, flt, window.low, window.high)
                yield from _sorted_window(conn, statement, names, phones, order, batch_rows)

    return DetailStream(sum(window.rows for window in windows), batches())


def _fits(window: _Window, window_rows: int, window_bytes: int) -> bool:
    return window.rows <= window_rows and window.size <= window_bytes


# The rows of consecutive windows whose contacts' phones are read at once (exports._Phones).
SPAN_ROWS = 250_000


def _spans(windows: list[_Window], window_rows: int, window_bytes: int) -> list[list[_Window]]:
    """The windows in runs of at most SPAN_ROWS rows; a minute over a window's budget alone."""
    spans: list[list[_Window]] = []
    rows = 0
    for window in windows:
        fits = _fits(window, window_rows, window_bytes)
        last = spans[-1] if spans else None
        if (
            fits
            and last
            and _fits(last[0], window_rows, window_bytes)
            and (rows + window.rows <= SPAN_ROWS)
        ):
            last.append(window)
            rows += window.rows
        else:
            spans.append([window])
            rows = window.rows
    return spans


class _Names:
    """The names of subaccounts, users and campaigns by id, read once per export, which
    window rows carry in place of the names (reports.detailed_window_select)."""

    def __init__(self, lookups: dict[str, tuple[pa.Array, pa.Array]]) -> None:
        self.lookups = lookups  # column: (ids, names)

    @classmethod
    def read(cls, conn: Connection) -> _Names:
        lookups = {}
        for name, (_, ident, label) in reports.WINDOW_NAMES.items():
            if name == "phone":  # contacts are many: read span by span (_Phones)
                continue
            table = _duckdb_table(conn, select(ident, label))
            lookups[name] = (table.column(0).combine_chunks(), table.column(1).combine_chunks())
        return cls(lookups)

    def column(self, name: str, values: pa.ChunkedArray | pa.Array, phones: _Phones):
        """A column of window rows in DETAIL_SCHEMA: names and phones for ids, other columns
        as read."""
        if name == "phone":
            return phones.of(values)
        if name in self.lookups:
            ids, names = self.lookups[name]
            return pc.take(names, pc.index_in(values, value_set=ids))
        wanted = DETAIL_SCHEMA.field(name).type
        return values if values.type == wanted else values.cast(wanted)

    def batch(self, batch: pa.RecordBatch, phones: _Phones) -> pa.RecordBatch:
        """A batch of window rows in DETAIL_SCHEMA."""
        return pa.RecordBatch.from_arrays(
            [self.column(name, batch.column(name), phones) for name in DETAIL_SCHEMA.names],
            schema=DETAIL_SCHEMA,
        )


_WANTED_CONTACTS = "export_wanted_contacts"
_wanted = table(_WANTED_CONTACTS, column("id"))


class _Phones:
    """The phones of the contacts of a run of windows (SPAN_ROWS rows at most), read in one
    pass over contacts: joined window by window, the contacts cost DuckDB as much as the rows."""

    def __init__(self, ids: np.ndarray, phones: pa.Array) -> None:
        self.ids = ids  # ascending
        self.phones = phones

    @classmethod
    def read(cls, conn: Connection, scope, flt, low: datetime, high: datetime) -> _Phones:
        return cls._of(_duckdb_table(conn, reports.contact_phones_select(scope, flt, low, high)))

    @classmethod
    def of_contacts(cls, conn: Connection, contact_ids: list[pa.Array]) -> _Phones:
        """The phones of the given contacts (DuckDB scans the ids as an Arrow table)."""
        wanted = pa.table({"id": pc.unique(pa.chunked_array(contact_ids, pa.int64()))})
        raw = raw_connection(conn)
        raw.register(_WANTED_CONTACTS, wanted)
        try:
            by_id = select(contacts.c.id, contacts.c.phone).join(
                _wanted, _wanted.c.id == contacts.c.id
            )
            table = _duckdb_table(conn, by_id.order_by(contacts.c.id))
        finally:
            raw.unregister(_WANTED_CONTACTS)
        return cls._of(table)

    @classmethod
    def _of(cls, table: pa.Table) -> _Phones:
        """From (id, phone) rows in id order."""
        return cls(table.column(0).to_numpy(), table.column(1).combine_chunks())

    def of(self, contact_ids: pa.ChunkedArray | pa.Array) -> pa.Array:
        wanted = contact_ids.to_numpy()
        found = np.searchsorted(self.ids, wanted)
        if len(wanted) and (
            found.max() >= len(self.ids) or not np.array_equal(self.ids[found], wanted)
        ):
            raise RuntimeError("A message's contact was not found among its window's contacts.")
        return self.phones.take(pa.array(found))


def _sorted_window(
    conn: Connection, statement, names: _Names, phones: _Phones, order: str, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """A window's rows, read as they lie, named and sorted here. Each column is put in order
    and its unsorted copy let go before the next, so the window is held about once."""
    table = _duckdb_table(conn, statement)
    if not table.num_rows:
        return
    indices = pc.sort_indices(table, [("created_at", order), ("message_id", order)])
    columns = dict(zip(table.column_names, table.columns, strict=True))
    del table
    arrays = []
    for name in DETAIL_SCHEMA.names:
        values = columns.pop(name).take(indices)
        values = names.column(name, values, phones)
        arrays.append(values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values)
    del columns, values
    yield from pa.Table.from_arrays(arrays, schema=DETAIL_SCHEMA).to_batches(batch_rows)


def _pages(
    conn: Connection, statement, sort: str, descending: bool, page_rows: int, batch_rows: int
) -> Iterator[list[pa.RecordBatch]]:
    """The rows of an ordered statement, page_rows at a time (WHERE (key, id) beyond the last
    row of the previous page ... LIMIT page_rows), a page's batches at once: the page's result
    is closed by then, so the connection can run another statement."""
    key = reports.sort_value(reports.SORT_COLUMNS[sort], sort)
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
        batches = list(_duckdb_batches(conn, page.limit(page_rows), batch_rows))
        if batches:
            yield batches
        if sum(batch.num_rows for batch in batches) < page_rows:
            return
        last = batches[-1]
        last_key = last.column(sort)[-1].as_py()
        if sort == "status":
            last_key = reports.STATUS_PLACE.get(last_key, len(reports.STATUS_PLACE))
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
    pages = (batch for page in _pages(conn, statement, sort, descending, window_rows, batch_rows)
             for batch in page)  # fmt: skip
    return DetailStream(total, _converted(pages, _to_schema))


# COPY's CSV: NULL is an empty unquoted field, an empty text the quoted "".
_COPY_CONVERT = pacsv.ConvertOptions(
    column_types=DETAIL_SCHEMA,
    null_values=[""],
    strings_can_be_null=True,
    quoted_strings_can_be_null=False,
)
_COPY_PARSE = pacsv.ParseOptions(newlines_in_values=True)


def _parse_piece(piece: bytes | bytearray, batch_rows: int) -> Iterator[pa.RecordBatch]:
    # One thread: with line breaks allowed inside values pyarrow's threads spend 60 % more CPU
    # on a piece and finish later, and the file writer needs the other core.
    read = pacsv.ReadOptions(column_names=DETAIL_SCHEMA.names, use_threads=False)
    table = pacsv.read_csv(
        pa.BufferReader(pa.py_buffer(piece)),
        read_options=read,
        parse_options=_COPY_PARSE,
        convert_options=_COPY_CONVERT,
    )
    # One chunk per piece, so the batches are full-sized rather than one per parsing block.
    yield from table.combine_chunks().to_batches(max_chunksize=batch_rows)


def _copy_stream(conn: Connection, statement, batch_rows: int) -> DetailStream:
    total = _count(conn, statement.whereclause)
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    raw = raw_connection(conn)
    # Times leave as ISO text in UTC (the stored naive values), whatever the server's defaults;
    # LOCAL ends with the export's transaction.
    raw.execute("SET LOCAL datestyle = 'ISO, YMD'")
    raw.execute("SET LOCAL client_encoding = 'UTF8'")
    cursor = raw.cursor()
    query = f"COPY ({compiled.string}) TO STDOUT WITH (FORMAT csv)"

    def batches() -> Iterator[pa.RecordBatch]:
        # PostgreSQL sends one message per row, so a piece always ends on a whole row. Each row
        # is copied into the piece at once: holding the rows (views of the client library's
        # buffers) until a join cost a million-row export 1.8 s of CPU instead of 0.6.
        with cursor.copy(query, compiled.params) as copy:
            piece = bytearray()
            for data in copy:
                piece += data
                if len(piece) >= COPY_PIECE_BYTES:
                    yield from _parse_piece(piece, batch_rows)
                    piece = bytearray()
            if piece:
                yield from _parse_piece(piece, batch_rows)

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
    if (clickhouse := messages_of(conn)) is not None:
        # ClickHouse sorts on its servers and sends the rows as it reads them.
        total, batches = clickhouse.detailed_stream(scope, flt, sort, descending, batch_rows)
        stream = DetailStream(total, _converted(batches, _to_schema))
        if read_ahead_bytes:
            stream.batches = ReadAhead(stream.batches, read_ahead_bytes)
        return stream
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
