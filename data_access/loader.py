"""Load message files (CSV or Parquet) into the store, merging updates of known messages.

A load goes in two steps. `check_files` reads every file in a scratch DuckDB (in memory up to
its limit, on disk past it), runs the rules of data_access/validation.py over it and writes
the good rows in Parquet parts of whole messages (every record of a message in the same
part), with the problems found. It needs no store, so a command checks its files in its own
process and hands a running server only the checked parts. `merge_checked` then looks the
messages the rows name up among the stored ones, one lookup a file, and checks the rows
against their identity and the writer's scope. Only when every file passes is anything
written: part by part, each part one transaction through the write path. A part's lookup is
used again unless another writer stored new messages in between. Merging is idempotent, so a
load cut short is finished by loading the same files again. `load_files` does both steps.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
from sqlalchemy import Engine, text

from data_access import message_keys, rollup
from data_access.merge import (
    Identity,
    Refusal,
    check_records,
    merge_records,
    stored_identity_frame,
)
from data_access.store import memory_limit_setting, set_memory_limit
from data_access.validation import (
    LOADER_COLUMNS,
    REQUIRED,
    TIMESTAMPS,
    LoadError,
    RowProblem,
    as_staged_frame,
    check,
    discard,
    validate_chunk,
)
from data_access.writes import Transaction, WriteScope, is_out_of_memory, write

log = logging.getLogger(__name__)

__all__ = [
    "LOADER_COLUMNS",
    "REQUIRED",
    "TIMESTAMPS",
    "LoadError",
    "LoadReport",
    "RowProblem",
    "chunk_rows_for",
    "load_files",
    "validate_chunk",
]

# Rows read at a time where a file is read in pandas (the ClickHouse store's loader).
CHUNK_ROWS = 100_000
# Rows merged in one transaction at most.
MERGE_ROWS_MAX = 100_000
# A part's rows in the embedded store's memory while it is merged (staged, folded, joined):
# measured under a 64MB limit, 20,000 rows fit and 100,000 did not. A part is sized to the
# limit with room to spare, so a small limit loads in smaller parts instead of failing.
CHUNK_BYTES_PER_ROW = 2_500
CHUNK_ROWS_MIN = 5_000
# The scratch database that reads and checks the files has this share of the store's limit
# while it reads (see _Memory): with a quarter of 1GB, a file of 1M rows (three copies of
# about 300 MB: as read, normalised, in parts) went to disk and its check took 8.4 s; with
# half, 5.2 s.
READER_MEMORY_SHARE = 0.5
READER_MEMORY_MIN = 64 * 2**20
# What the scratch store reads and checks with at least where the limit is not tiny: a CSV
# of 1M rows, read by two threads in blocks of 30 MiB, ran out of 64 MiB, and its checked
# rows' join to their parts ran out of 128 MiB (the check passed with 160 and 192 MiB, for
# files of 0.5M, 1M and 2M rows, on one thread or two).
READER_MEMORY_READING = 192 * 2**20
READER_MEMORY_FLOOR = 16 * 2**20
READER_MEMORY_MERGING = 128 * 2**20
# What a part's rows take in this process's own memory while they are merged (the pandas
# frames of the part and of its steps): measured about 2,500 bytes a row at 100,000 rows. The
# store gives that room up while it merges, so the process stays within its limit, keeping
# at least STORE_MERGING_MIN (under a small limit its merge would run out of memory else).
FRAME_BYTES_PER_ROW = 2_500
STORE_MERGING_MIN = 256 * 2**20
# The share of the limit the store keeps beyond what it cannot evict while a load shares the
# limit: room for the reports, webhooks and API writes that run beside the load (a webhook
# batch and a load's check ran out of memory with the store held at half of 1GB beside a
# recent index of 9.5M keys).
STORE_HEADROOM_SHARE = 0.25
_UNITS = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "bytes": 1}


@dataclass
class LoadReport:
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_changed: int = 0
    rejected_files: list[Path] = field(default_factory=list)


Progress = Callable[[int], None]


# --------------------------------------------------------------------------- reading in pandas


def _read_chunks(path: Path, chunk_rows: int) -> Iterator[tuple[int, pd.DataFrame]]:
    """Yield (first line number, frame of strings) for each chunk of the file (for stores
    that take records in pandas; the embedded and server stores read in the engine)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        first = 1
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            # Integer columns with gaps would turn into floats ("131026.0"); keep them whole.
            frame = batch.to_pandas(integer_object_nulls=True)
            yield first, _as_strings(frame)
            first += len(frame)
        return
    if suffix not in (".csv", ".txt"):
        raise LoadError([RowProblem(path.name, 0, "-", "file must be .csv or .parquet")])
    first = 2
    reader = pd.read_csv(
        path,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        chunksize=chunk_rows,
        encoding="utf-8-sig",
    )
    for frame in reader:
        yield first, frame
        first += len(frame)


def _as_strings(frame: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            text = column.map(lambda v: v.isoformat() if pd.notna(v) else "")
        else:
            text = column.map(
                lambda v: "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)
            )
        out[name] = text.astype(str)
    return pd.DataFrame(out)


# --------------------------------------------------------------------------- reading in the engine


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _csv_header(path: Path) -> list[str]:
    """The header's names, repeated ones numbered as pandas does (name, name.1, ...)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        names = next(csv.reader(handle), None)
    if not names:
        raise ValueError("the file is empty")
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}.{count}")
    return out


def _read_file(reader: duckdb.DuckDBPyConnection, path: Path, table: str) -> list[str]:
    """Read a file into a view `table` (a `line` column and every column as text, over the
    table `{table}_text`; `_drop_read` drops both); returns the file's column names."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        described = reader.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
        names = [row[0] for row in described]
        values = []
        for name, kind, *_ in described:
            column = '"' + name.replace('"', '""') + '"'
            if kind == "TIMESTAMP WITH TIME ZONE":
                # A zoned time reads as ISO 8601 with its offset (UTC), as a file would write it.
                value = f"strftime({column} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ')"
            else:
                value = f"CAST({column} AS VARCHAR)"
            values.append(f"{value} AS {column}")
        reader.execute(
            f"CREATE OR REPLACE TABLE {table}_text AS SELECT file_row_number + 1 AS line, "
            f"{', '.join(values)} FROM read_parquet(?, file_row_number = true) "
            "ORDER BY file_row_number",
            [str(path)],
        )
        reader.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM {table}_text")
        return names
    if suffix not in (".csv", ".txt"):
        raise LoadError([RowProblem(path.name, 0, "-", "file must be .csv or .parquet")])
    names = _csv_header(path)
    columns = "{" + ", ".join(f"{_literal(n)}: 'VARCHAR'" for n in names) + "}"
    reader.execute(
        f"CREATE OR REPLACE TABLE {table}_text AS SELECT * FROM read_csv(?, header = true, "
        f"auto_detect = false, columns = {columns}, delim = ',', quote = '\"', escape = '\"', "
        "strict_mode = true, encoding = 'utf-8')",
        [str(path)],
    )
    # Rows keep the file's order: the header is line 1, the first row line 2.
    reader.execute(
        f"CREATE OR REPLACE VIEW {table} AS SELECT rowid + 2 AS line, * FROM {table}_text"
    )
    return names


def _drop_read(reader: duckdb.DuckDBPyConnection, table: str) -> None:
    reader.execute(f"DROP VIEW IF EXISTS {table}")
    reader.execute(f"DROP TABLE IF EXISTS {table}_text")


def _size_bytes(shown: object) -> float | None:
    """A size as DuckDB shows it ('953.6 MiB') in bytes."""
    number, _, unit = str(shown).partition(" ")
    try:
        return float(number) * _UNITS[unit]
    except (KeyError, ValueError):
        return None


def _memory_limit_bytes(engine: Engine) -> float | None:
    """The store's memory limit as set for the process, not as a load running now lowered it."""
    if engine.dialect.name != "duckdb":
        return None
    shown = memory_limit_setting(engine)
    if shown is None:
        with engine.connect() as conn:
            shown = conn.execute(text("SELECT current_setting('memory_limit')")).scalar_one()
    return _size_bytes(shown)


def _setting_bytes(memory_limit: str | None) -> float | None:
    """A memory limit setting ('1GB', as the settings give it) in bytes, as DuckDB reads it."""
    if memory_limit is None:
        return None
    probe = duckdb.connect(":memory:", config={"memory_limit": memory_limit})
    try:
        return _size_bytes(probe.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
    finally:
        probe.close()


def _part_rows(limit: float | None, most: int) -> int:
    if limit is None:
        return most
    return max(CHUNK_ROWS_MIN, min(most, int(limit / CHUNK_BYTES_PER_ROW)))


def chunk_rows_for(engine: Engine, most: int = MERGE_ROWS_MAX) -> int:
    """The rows of a part the store's memory limit leaves room for (DuckDB); `most` else."""
    return _part_rows(_memory_limit_bytes(engine), most)


class _Memory:
    """The store's memory limit shared by the store and the scratch store that checks the
    files, so that the two together keep within it: the scratch store gets up to half while it
    reads and checks, little while the store merges (the checked rows wait on disk then), and
    the store gives up the room the part's frames take.

    The store never gives up what it cannot evict (its recent index, the work of the queries
    and writes running beside the load), nor a quarter of the limit more for the users and
    webhooks that come meanwhile: where that leaves the scratch store less, it spills to disk
    sooner.
    Without a limit to share (PostgreSQL) the scratch store keeps READER_MEMORY_MIN."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.limit = _memory_limit_bytes(engine)
        # The store's limit while the files are read and checked, sized as the load begins.
        self._store_reading = (
            None
            if self.limit is None
            else self._store_size(max(self.limit - self._reading(), self.limit / 2))
        )

    def reader_config(self) -> str:
        """The scratch store's limit while it reads; the store gets the rest (`reading`)."""
        if self.limit is None or self._store_reading is None:
            return _mib(READER_MEMORY_MIN)
        # Where the store keeps more than its share, the two pass the limit by up to
        # READER_MEMORY_READING rather than fail to read.
        left = max(self.limit - self._store_reading, READER_MEMORY_READING)
        return _mib(min(self._reading(), left))

    def _reading(self) -> float:
        assert self.limit is not None
        return _reading_share(self.limit)

    def _merging(self) -> float:
        assert self.limit is not None
        return max(READER_MEMORY_FLOOR, min(READER_MEMORY_MERGING, self.limit / 8))

    def _store_size(self, wanted: float) -> float:
        """`wanted`, or more where the store holds more than that it cannot evict."""
        assert self.limit is not None
        headroom = self.limit * STORE_HEADROOM_SHARE
        return min(self.limit, max(wanted, self._unevictable() + headroom))

    def _unevictable(self) -> float:
        """What the store holds beyond its cache of table blocks and what it can write to its
        temporary files (DuckDB's own count): indexes, the work of running statements."""
        with self.engine.connect() as conn:
            return float(conn.execute(text(_UNEVICTABLE)).scalar_one())

    def reading(self) -> None:
        if self._store_reading is not None:
            self._set_store(self._store_reading)

    def merging(self, reader: duckdb.DuckDBPyConnection, part_rows: int) -> None:
        """The scratch store keeps little, and the store gives up the room the part's frames
        take, as far as its merge can spare."""
        if self.limit is None:
            return
        reader.execute(f"SET memory_limit = '{_mib(self._merging())}'")
        rest = self.limit - self._merging()
        frames = part_rows * FRAME_BYTES_PER_ROW
        self._set_store(self._store_size(max(rest - frames, min(rest, STORE_MERGING_MIN))))

    def restore(self) -> None:
        if self.limit is not None:
            self._set_store(self.limit)

    def _set_store(self, size: float) -> None:
        # A setting of the database, not of one connection: every connection of the process
        # to the store shares it, those the pool opens later too.
        set_memory_limit(self.engine, _mib(size))


# What a DuckDB instance holds by its own count, and the part of it that it cannot evict.
_HELD = "SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()"
_UNEVICTABLE = f"{_HELD} WHERE tag NOT IN ('BASE_TABLE', 'IN_MEMORY_TABLE')"


def _mib(size: float) -> str:
    return f"{max(1, int(size) // 2**20)}MiB"


def _memory_note(engine: Engine | None, reader: duckdb.DuckDBPyConnection) -> str:
    """Where the load's process keeps its memory now, for the server's log: resident memory
    (Linux), and what the store (DuckDB; None: not open here) and the scratch store hold by
    their own count."""
    parts = []
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    parts.append(f"process {int(line.split()[1]) // 1024:,} MiB")
    except OSError:
        pass
    if engine is not None and engine.dialect.name == "duckdb":
        with engine.connect() as conn:
            parts.append(f"store {int(conn.execute(text(_HELD)).scalar_one()) // 2**20:,} MiB")
    parts.append(f"scratch store {int(reader.execute(_HELD).fetchall()[0][0]) // 2**20:,} MiB")
    return ", ".join(parts)


def _open_reader(folder: Path, limit: str) -> duckdb.DuckDBPyConnection:
    """A scratch database that reads and checks files, or reads checked parts: in memory up
    to `limit`, on disk (in `folder`) past it."""
    spill = folder / "spill"
    spill.mkdir(exist_ok=True)
    return duckdb.connect(":memory:", config={"memory_limit": limit, "temp_directory": str(spill)})


def _reading_share(limit: float) -> float:
    """What a check reads with out of the store's limit. DuckDB's CSV reader takes blocks of
    about 20 MiB: below READER_MEMORY_MIN the two together pass a very small limit rather
    than fail."""
    return max(READER_MEMORY_MIN, limit * READER_MEMORY_SHARE)


def check_sizes_alone(memory_limit: str | None) -> tuple[str, int]:
    """The scratch store's limit and the rows of a part for a check in a process that does
    not hold the store (the command's own while the server holds it): the share of the
    store's limit a check reads with, and chunk_rows_for a store run at that limit.
    `memory_limit`: the store's setting (None: not DuckDB)."""
    limit = _setting_bytes(memory_limit)
    reader = READER_MEMORY_MIN if limit is None else _reading_share(limit)
    return _mib(reader), _part_rows(limit, MERGE_ROWS_MAX)


# --------------------------------------------------------------------------- files


def _write_rejected(
    path: Path, raw: pd.DataFrame, problems: list[RowProblem], first_line: int, header: bool
) -> None:
    reasons: dict[int, list[str]] = {}
    for problem in problems:
        reasons.setdefault(problem.line, []).append(f"{problem.column}: {problem.reason}")
    lines = sorted(reasons)
    subset = raw.iloc[[line - first_line for line in lines]].copy()
    subset.insert(0, "line", lines)
    subset["reasons"] = ["; ".join(reasons[line]) for line in lines]
    subset.to_csv(
        path, mode="w" if header else "a", header=header, index=False, quoting=csv.QUOTE_MINIMAL
    )


def _refusal_problem(frame: pd.DataFrame, refusal: Refusal, file: str) -> RowProblem:
    return RowProblem(file, int(frame["line"].iloc[refusal.row]), refusal.field, refusal.reason)


@dataclass
class CheckedFile:
    """A file read and checked: its good rows in `parts` Arrow files of whole messages (in
    the folder `name` of its checked load, each in line order), and, for a load that goes on
    past bad rows, its rows as read (to write the rejected ones out as they were). `index`:
    its position among the load's files."""

    path: Path
    index: int
    rows: int
    good: int
    parts: int
    problems: list[RowProblem]
    # Names a message of an earlier file of the same load (whose merge a lookup would predate).
    repeats_earlier: bool = False
    kept_as_read: bool = False

    @property
    def name(self) -> str:
        return f"file{self.index}"


@dataclass
class CheckedLoad:
    """The files of one load, read and checked, in `folder` (`checked.json` describes them):
    what the merge takes, in the process that holds the store, or handed to the server that
    does. `stopped`: the problems of files that could not be read at all (by the file's
    position among the load's), which stop even a load that goes on past bad rows."""

    folder: Path
    files: list[CheckedFile]
    stopped: list[tuple[int, RowProblem]]
    skip_invalid: bool
    part_rows: int

    def problems(self, refused: dict[int, list[RowProblem]] | None = None) -> list[RowProblem]:
        """Every problem found, file by file in the load's order; a file's records `refused`
        by the lookup (by the file's index) after its own."""
        refused = refused or {}
        found = [(f.index, p) for f in self.files for p in [*f.problems, *refused.get(f.index, ())]]
        return [p for _, p in sorted([*self.stopped, *found], key=lambda item: item[0])]

    def part(self, checked: CheckedFile, part: int, columns: list[str] | None = None) -> pa.Table:
        """A part's rows (`columns` of them), in line order."""
        return feather.read_table(self._path(checked, f"part-{part:05d}.arrow"), columns=columns)

    def ids(self, checked: CheckedFile) -> pa.Table:
        """The file's message ids, each once, with its part."""
        return feather.read_table(self._path(checked, "ids.arrow"))

    def as_read(self, checked: CheckedFile) -> str:
        """The file's rows as read, as a query's source (kept only for a load that goes on past
        bad rows)."""
        return f"read_parquet({_literal(str(self._path(checked, 'read.parquet')))})"

    def _path(self, checked: CheckedFile, name: str) -> Path:
        return self.folder / checked.name / name

    def save(self) -> None:
        described = {
            "files": [
                {**asdict(f), "path": str(f.path), "problems": [asdict(p) for p in f.problems]}
                for f in self.files
            ],
            "stopped": [[index, asdict(p)] for index, p in self.stopped],
            "skip_invalid": self.skip_invalid,
            "part_rows": self.part_rows,
        }
        (self.folder / MANIFEST).write_text(json.dumps(described), encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> CheckedLoad:
        described = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = [
            CheckedFile(
                **{
                    **f,
                    "path": Path(f["path"]),
                    "problems": [RowProblem(**p) for p in f["problems"]],
                }
            )
            for f in described["files"]
        ]
        stopped = [(int(index), RowProblem(**p)) for index, p in described["stopped"]]
        return cls(folder, files, stopped, described["skip_invalid"], described["part_rows"])


MANIFEST = "checked.json"


def _check_file(
    reader: duckdb.DuckDBPyConnection,
    folder: Path,
    index: int,
    path: Path,
    timezone: str,
    part_rows: int,
    keep_as_read: bool,
) -> CheckedFile:
    """Read and check one file; write its good rows in parts, and its rows as read where
    `keep_as_read` (a load that goes on past bad rows writes the rejected ones out)."""
    table = f"file{index}"
    names = _read_file(reader, path, table)
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise LoadError(
            [RowProblem(path.name, 1, c, "column is missing from the header") for c in missing]
        )
    present = {n for n in names if n in LOADER_COLUMNS}
    checked = check(reader, table, present, path.name, timezone, prefix=table)
    rows = _count(reader, table)
    out = folder / table
    out.mkdir()
    if keep_as_read:
        reader.execute(
            f"COPY (SELECT * FROM {table} ORDER BY line) TO "
            f"{_literal(str(out / 'read.parquet'))} (FORMAT parquet)"
        )
    _drop_read(reader, table)
    good = _count(reader, checked.staged)
    parts = _cut_in_parts(reader, checked.staged, f"{table}_part_of", part_rows)
    # The good rows once, in their parts, then each part to its file in line order.
    staged = f"{table}_parts"
    reader.execute(
        f"CREATE TEMP TABLE {staged} AS SELECT s.*, p.part FROM {checked.staged} s "
        f"JOIN {table}_part_of p USING (message_id) ORDER BY part, line"
    )
    discard(reader, table)
    _write_arrow(reader, f"SELECT message_id, part FROM {table}_part_of", out / "ids.arrow")
    for part in range(parts):
        _write_arrow(
            reader,
            f"SELECT * EXCLUDE (part) FROM {staged} WHERE part = {part} ORDER BY line",
            out / f"part-{part:05d}.arrow",
        )
    result = CheckedFile(
        path, index, rows, good, parts, list(checked.problems), kept_as_read=keep_as_read
    )
    # Whether an earlier file of this load names one of the file's messages.
    result.repeats_earlier = index > 0 and bool(
        reader.execute(
            f"SELECT count(*) FROM {table}_part_of SEMI JOIN load_ids USING (message_id)"
        ).fetchall()[0][0]
    )
    reader.execute(f"INSERT INTO load_ids SELECT message_id FROM {table}_part_of")
    reader.execute(f"DROP TABLE {table}_part_of")
    reader.execute(f"DROP TABLE {staged}")
    return result


def _write_arrow(reader: duckdb.DuckDBPyConnection, query: str, path: Path) -> None:
    """A query's rows to an Arrow file: written and read back several times faster than
    Parquet (a part of 100,000 rows: 56 and 29 ms against 207 and 87), in the same types."""
    feather.write_feather(reader.sql(query).to_arrow_table(), str(path), compression="lz4")


def _cut_in_parts(
    reader: duckdb.DuckDBPyConnection, staged: str, part_of: str, part_rows: int
) -> int:
    """Give each message of the checked rows its part (table `part_of`: message_id, part) and
    return how many parts there are. Every record of a message goes to the same part, so a
    part's lookup sees them all; the parts follow the messages' days (the day of a message's
    first record), about `part_rows` rows each, so a file of many days is merged a few days
    at a time: each part's roll-up update reads its days' rows only, and the messages go in
    in day order across the parts, whatever order the file had."""
    reader.execute(
        f"CREATE TEMP TABLE {part_of} AS WITH firsts AS ("
        "SELECT message_id, min(created_day) AS day, count(*) AS records "
        f"FROM {staged} GROUP BY message_id), "
        "placed AS (SELECT message_id, records, sum(records) OVER "
        "(ORDER BY day, message_id ROWS UNBOUNDED PRECEDING) AS upto FROM firsts) "
        f"SELECT message_id, CAST((upto - records) // {part_rows} AS INTEGER) AS part "
        "FROM placed"
    )
    last = reader.execute(f"SELECT max(part) FROM {part_of}").fetchall()[0][0]
    return 1 if last is None else int(last) + 1


def _looked_up(
    reader: duckdb.DuckDBPyConnection,
    engine: Engine,
    load: CheckedLoad,
    checked: CheckedFile,
    scope: WriteScope,
) -> list[RowProblem]:
    """Look the file's ids up among the stored messages (one lookup for the file, kept in the
    table `{name}_stored` with each message's part) and check its records against their
    identity and the writer's scope; returns the records refused."""
    ids = load.ids(checked)
    with engine.connect() as conn:
        stored = stored_identity_frame(conn, ids.select(["message_id"]))
    reader.register("stored_view", stored)
    reader.register("file_ids", ids)
    try:
        reader.execute(
            f"CREATE TEMP TABLE {checked.name}_stored AS SELECT v.*, p.part FROM stored_view v "
            "JOIN file_ids p USING (message_id)"
        )
    finally:
        reader.unregister("stored_view")
        reader.unregister("file_ids")
    problems = []
    for part in range(checked.parts):
        columns = ["line", "message_id", "subaccount", "channel", "direction"]
        frame = load.part(checked, part, columns).to_pandas()
        refused = check_records(frame, _stored_of(reader, checked, part), scope)
        problems += [_refusal_problem(frame, r, checked.path.name) for r in refused]
    return problems


def _stored_of(
    reader: duckdb.DuckDBPyConnection, checked: CheckedFile, part: int
) -> dict[str, Identity]:
    # Rows as tuples straight from the engine (days as dates, as Identity keeps them).
    found = reader.execute(
        "SELECT message_id, subaccount, channel, direction, created_day "
        f"FROM {checked.name}_stored WHERE part = {part}"
    ).fetchall()
    return {row[0]: Identity(*row[1:]) for row in found}


def _count(reader: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(reader.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def _rejected_rows(
    reader: duckdb.DuckDBPyConnection, table: str, problems: list[RowProblem], target: Path
) -> int:
    """Write the file's rejected rows, as read, with their line and reasons; returns how many."""
    reasons: dict[int, list[str]] = {}
    for problem in problems:
        reasons.setdefault(problem.line, []).append(f"{problem.column}: {problem.reason}")
    lines = pd.DataFrame({"line": sorted(reasons)}, dtype="int64")
    reader.register("rejected_lines", lines)
    try:
        rows = reader.execute(
            f"SELECT t.* FROM {table} t SEMI JOIN rejected_lines r ON t.line = r.line "
            "ORDER BY t.line"
        ).df()
    finally:
        reader.unregister("rejected_lines")
    rows["reasons"] = ["; ".join(reasons[int(line)]) for line in rows["line"]]
    rows.to_csv(target, index=False, quoting=csv.QUOTE_MINIMAL)
    return len(rows)


def _forget_old_keys(tx) -> None:
    if message_keys.in_use(tx.conn):
        message_keys.forget_old(tx.conn)


def _fold_appended(tx: Transaction) -> None:
    rollup.fold_appended(tx.conn)


def _keys_version(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return message_keys.version(conn) if message_keys.in_use(conn) else None


class _Lookups:
    """Whether a file's lookup, made before the merge began, still holds: no writer but this
    load stored new messages since (the keys' version moved only by this load's own writes)."""

    def __init__(self, version: int | None) -> None:
        self.expected = version

    def merge(self, tx: Transaction, stored: dict[str, Identity] | None, **merge) -> object:
        keyed = message_keys.in_use(tx.conn)
        before = message_keys.version(tx.conn) if keyed else None
        holds = stored is not None and keyed and before == self.expected
        result = merge_records(tx, stored=stored if holds else None, **merge)
        after = message_keys.version(tx.conn) if keyed else None
        return result, before, after

    def written(self, before: int | None, after: int | None) -> None:
        self.expected = after if before == self.expected else None


def load_files(
    engine: Engine,
    paths: list[Path],
    timezone: str,
    *,
    skip_invalid: bool = False,
    chunk_rows: int | None = None,
    progress: Callable[[int], Progress] | None = None,
    scope: WriteScope | None = None,
) -> LoadReport:
    """Read and check every file, then merge them part by part through the write path.

    Without skip_invalid any problem raises LoadError and nothing is written. With it, the
    bad rows go to FILE.rejected.csv beside each input, with their line and reasons. Rows for
    stored messages whose identity they contradict count as problems too.
    `progress(total_rows)` returns a function called with the rows done after each part.
    `chunk_rows` caps a part's rows (by default what the store's memory allows).
    """
    folder = Path(tempfile.mkdtemp(prefix="load-"))
    memory = _Memory(engine)
    try:
        memory.reading()
        checked = check_files(
            paths,
            timezone,
            folder,
            skip_invalid=skip_invalid,
            # Parts sized to the store's share of the limit.
            part_rows=chunk_rows or chunk_rows_for(engine),
            reader_limit=memory.reader_config(),
        )
        return merge_checked(engine, checked, scope=scope, progress=progress, memory=memory)
    finally:
        memory.restore()
        shutil.rmtree(folder, ignore_errors=True)


def check_files(
    paths: list[Path],
    timezone: str,
    folder: Path,
    *,
    skip_invalid: bool,
    part_rows: int,
    reader_limit: str,
) -> CheckedLoad:
    """Read and check every file in a scratch store of `reader_limit`, leaving the good rows
    in parts in `folder` (an empty folder of this load's) and the problems in its
    description. Needs no store: a command checks its files in its own process and hands
    only the parts to the server that holds the store. Raises only when the engine runs out
    of memory; merge_checked raises the problems."""
    reader = _open_reader(folder, reader_limit)
    began = time.monotonic()
    files: list[CheckedFile] = []
    stopped: list[tuple[int, RowProblem]] = []
    try:
        reader.execute("CREATE TABLE load_ids (message_id VARCHAR)")
        for index, path in enumerate(paths):
            if not path.is_file():
                stopped.append((index, RowProblem(str(path), 0, "-", "file not found")))
                continue
            try:
                checked = _check_file(
                    reader, folder, index, path, timezone, part_rows, keep_as_read=skip_invalid
                )
            except LoadError as error:
                stopped += [(index, problem) for problem in error.problems]
                continue
            except (ValueError, OSError, UnicodeDecodeError, duckdb.Error) as error:
                if is_out_of_memory(error):
                    raise
                reason = f"cannot be read: {_reading(error)}"
                stopped.append((index, RowProblem(path.name, 0, "-", reason)))
                continue
            files.append(checked)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "load: %s rows of %d file(s) read and checked in %.1f s; memory: %s",
                f"{sum(f.rows for f in files):,}",
                len(paths),
                time.monotonic() - began,
                _memory_note(None, reader),
            )
    finally:
        reader.close()
        shutil.rmtree(folder / "spill", ignore_errors=True)
    load = CheckedLoad(folder, files, stopped, skip_invalid, part_rows)
    load.save()
    return load


def merge_checked(
    engine: Engine,
    load: CheckedLoad,
    *,
    scope: WriteScope | None = None,
    progress: Callable[[int], Progress] | None = None,
    memory: _Memory | None = None,
) -> LoadReport:
    """Merge a checked load's parts through the write path. First the stored messages its
    records name are looked up and checked against their identity (a load that stops at any
    problem), so that nothing is written unless every file passes; then part by part."""
    scope = scope or WriteScope.account("file load")
    memory = memory or _Memory(engine)
    # The lookup joins a whole file's ids with what the store holds of them: the scratch
    # store gets its reading share for it, as the check had, and little once parts merge.
    memory.reading()
    reader = _open_reader(load.folder, memory.reader_config())
    try:
        version = _keys_version(engine)
        looked_up = not load.skip_invalid
        refused: dict[int, list[RowProblem]] = {}
        if looked_up:
            refused = {
                f.index: _looked_up(reader, engine, load, f, scope) for f in load.files if f.good
            }
        problems = load.problems(refused)
        if problems and (not load.skip_invalid or load.stopped):
            raise LoadError(problems)
        report = LoadReport(rows_read=sum(f.rows for f in load.files))
        # The recent keys' days that aged out go first (the server does it hourly too), so the
        # index stays the size of its window where no server runs.
        write(engine, _forget_old_keys)
        memory.merging(reader, load.part_rows)
        advance = progress(report.rows_read) if progress else (lambda _n: None)
        lookups = _Lookups(version)
        for checked in load.files:
            _merge_file(engine, reader, load, checked, scope, looked_up, lookups, report, advance)
        # The days the load appended counts to, folded now rather than left to later writes.
        write(engine, _fold_appended, bulk=True)
        return report
    finally:
        reader.close()
        memory.restore()


def _reading(error: BaseException) -> str:
    """The engine's reason a file cannot be read, on one line."""
    text = str(error).strip()
    for prefix in ("Invalid Input Error: ", "IO Error: ", "Conversion Error: "):
        text = text.removeprefix(prefix)
    return " ".join(text.split())[:500]


def _merge_file(
    engine: Engine,
    reader: duckdb.DuckDBPyConnection,
    load: CheckedLoad,
    checked: CheckedFile,
    scope: WriteScope,
    looked_up: bool,
    lookups: _Lookups,
    report: LoadReport,
    advance: Progress,
) -> None:
    path = checked.path
    refused_problems: list[RowProblem] = []
    merged_rows = 0
    for part in range(checked.parts):
        # The part as read is not kept beside its converted copy while the store merges it.
        frame = as_staged_frame(load.part(checked, part).to_pandas())
        if frame.empty:
            continue
        stored = None
        if looked_up and checked.good and not checked.repeats_earlier:
            stored = _stored_of(reader, checked, part)

        def work(tx: Transaction, frame=frame, stored=stored):
            return lookups.merge(
                tx,
                stored,
                frame=frame,
                scope=scope,
                source="file",
                all_or_nothing=not load.skip_invalid,
            )

        result, before, after = write(engine, work, bulk=True)
        lookups.written(before, after)
        refused = [_refusal_problem(frame, r, path.name) for r in result.refused]
        if refused and not load.skip_invalid:
            # Another writer stored a contradicting record since the check.
            raise LoadError(refused, loaded=report.rows_loaded)
        refused_problems += refused
        report.rows_loaded += len(frame) - len(refused)
        report.rows_changed += result.created + result.updated
        merged_rows += len(frame)
        advance(len(frame))
        # Let this part's frames go before the next part is read, not after.
        del frame, stored, work
        if log.isEnabledFor(logging.INFO):
            log.info(
                "load: part %d of %d of %s merged; memory: %s",
                part + 1,
                checked.parts,
                path.name,
                _memory_note(engine, reader),
            )
    rejected = checked.problems + refused_problems
    if rejected and checked.kept_as_read:
        target = path.with_name(path.name + ".rejected.csv")
        report.rows_rejected += _rejected_rows(reader, load.as_read(checked), rejected, target)
        report.rejected_files.append(target)
    reader.execute(f"DROP TABLE IF EXISTS {checked.name}_stored")
    advance(checked.rows - merged_rows)
