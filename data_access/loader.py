"""Load message files (CSV or Parquet) into the store, merging updates of known messages.

The whole input is validated before anything is written. Rows are then merged in chunks, each
chunk one transaction; merging is idempotent, so a load cut short is finished by loading the
same files again.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import (
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    exists,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from data_access import rollup
from data_access.domain import CHANNELS, CONTENT_TYPES, DIRECTIONS, MT_STATUSES, STATUS_RANK
from data_access.store import bump_data_version
from data_access.tables import campaigns, contacts, messages, phone_tail, subaccounts, users

LOADER_COLUMNS = (
    "message_id",
    "channel",
    "direction",
    "subaccount",
    "user",
    "campaign",
    "content_type",
    "phone",
    "contact_name",
    "content",
    "status",
    "error_code",
    "error_description",
    "created_at",
    "sent_at",
    "delivered_at",
    "read_at",
    "correlation_id",
)
REQUIRED = (
    "message_id",
    "channel",
    "direction",
    "subaccount",
    "content_type",
    "phone",
    "status",
    "created_at",
)
TIMESTAMPS = ("created_at", "sent_at", "delivered_at", "read_at")
MAX_LENGTH = {
    "message_id": 128,
    "subaccount": 200,
    "user": 200,
    "campaign": 200,
    "error_code": 32,
    "correlation_id": 128,
    "contact_name": 500,
    "content": 10_000,
    "error_description": 2_000,
}
CHUNK_ROWS = 100_000
_OFFSET_PATTERN = r"(?:[Zz]|[+-]\d{2}:?\d{2})$"


@dataclass(frozen=True)
class RowProblem:
    """One reason a row cannot be loaded. `line` counts the header as line 1 in CSV files."""

    file: str
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.column}: {self.reason}"


class LoadError(ValueError):
    """The input has problems; nothing was loaded."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the input; nothing was loaded")
        self.problems = problems


@dataclass
class LoadReport:
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rejected_files: list[Path] = field(default_factory=list)


Progress = Callable[[int], None]


# --------------------------------------------------------------------------- reading


def _read_chunks(path: Path, chunk_rows: int) -> Iterator[tuple[int, pd.DataFrame]]:
    """Yield (first line number, frame of strings) for each chunk of the file."""
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


# --------------------------------------------------------------------------- validation


def _problem_rows(mask: pd.Series, first_line: int, file: str, column: str, reason: str):
    return [RowProblem(file, first_line + int(i), column, reason) for i in mask[mask].index]


def validate_chunk(
    raw: pd.DataFrame, first_line: int, file: str, timezone: str
) -> tuple[pd.DataFrame, list[RowProblem]]:
    """Check one chunk; return its good rows normalised for staging, and every problem found."""
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise LoadError(
            [RowProblem(file, 1, c, "column is missing from the header") for c in missing]
        )
    frame = raw.reset_index(drop=True).copy()
    for name in LOADER_COLUMNS:
        if name not in frame.columns:
            frame[name] = ""
        frame[name] = frame[name].astype(str).str.strip()
    problems: list[RowProblem] = []
    bad = pd.Series(False, index=frame.index)

    def flag(mask: pd.Series, column: str, reason: str) -> None:
        nonlocal bad
        mask = mask.fillna(False).astype(bool)
        problems.extend(_problem_rows(mask, first_line, file, column, reason))
        bad = bad | mask

    for name in REQUIRED:
        flag(frame[name] == "", name, "is required")
    for name, limit in MAX_LENGTH.items():
        flag(frame[name].str.len() > limit, name, f"is longer than {limit} characters")

    flag(
        (frame.channel != "") & ~frame.channel.isin(CHANNELS),
        "channel",
        f"must be one of {', '.join(CHANNELS)}",
    )
    flag(
        (frame.direction != "") & ~frame.direction.isin(DIRECTIONS), "direction", "must be MT or MO"
    )
    for channel in CHANNELS:
        on_channel = frame.channel == channel
        flag(
            on_channel
            & (frame.content_type != "")
            & ~frame.content_type.isin(CONTENT_TYPES[channel]),
            "content_type",
            f"is not a {channel} content type",
        )
    mt = frame.direction == "MT"
    mo = frame.direction == "MO"
    flag(
        mt & (frame.status != "") & ~frame.status.isin(MT_STATUSES),
        "status",
        f"an MT message's status is one of {', '.join(MT_STATUSES)}",
    )
    flag(
        mo & (frame.status != "") & (frame.status != "received"),
        "status",
        "an MO message's status is received",
    )
    flag((frame.channel == "sms") & (frame.status == "read"), "status", "SMS has no read receipts")
    flag((frame.channel == "sms") & (frame.read_at != ""), "read_at", "SMS has no read receipts")

    phone = frame.phone.str.replace(r"[\s().\-]", "", regex=True).str.removeprefix("+")
    flag(
        (frame.phone != "") & ~phone.str.fullmatch(r"\d{6,15}"),
        "phone",
        "must be an international number of 6 to 15 digits (E.164)",
    )

    parsed = {}
    for name in TIMESTAMPS:
        text = frame[name]
        present = text != ""
        values = pd.to_datetime(text.where(present), format="ISO8601", utc=True, errors="coerce")
        unreadable = present & values.isna()
        flag(unreadable, name, "is not an ISO 8601 date and time")
        flag(
            present & ~unreadable & ~text.str.contains(_OFFSET_PATTERN, regex=True),
            name,
            "needs a UTC offset or Z (ISO 8601, e.g. 2026-11-20T14:03:00-03:00)",
        )
        parsed[name] = values

    problems.sort(
        key=lambda p: (p.line, LOADER_COLUMNS.index(p.column) if p.column in LOADER_COLUMNS else 99)
    )
    good = frame[~bad]
    return _staged(good, {k: v[~bad] for k, v in parsed.items()}, phone[~bad], timezone), problems


def _staged(good: pd.DataFrame, parsed: dict, phone: pd.Series, timezone: str) -> pd.DataFrame:
    def optional(name: str) -> pd.Series:
        return good[name].where(good[name] != "", None).astype(object)

    created = parsed["created_at"]
    read_at = parsed["read_at"]
    # A read message was delivered, and a delivered one was sent.
    delivered_at = parsed["delivered_at"].fillna(read_at)
    sent_at = parsed["sent_at"].fillna(delivered_at)
    return pd.DataFrame(
        {
            "message_id": good.message_id,
            "channel": good.channel,
            "direction": good.direction,
            "subaccount": good.subaccount,
            "user": optional("user"),
            "campaign": optional("campaign"),
            "content_type": good.content_type,
            "phone": phone,
            "contact_name": optional("contact_name"),
            "content": optional("content"),
            "status_rank": good.status.map(STATUS_RANK).astype("int64"),
            "error_code": optional("error_code"),
            "error_description": optional("error_description"),
            "created_at": _naive_utc(created),
            "created_day": created.dt.tz_convert(timezone).dt.date,
            "sent_at": _naive_utc(sent_at),
            "delivered_at": _naive_utc(delivered_at),
            "read_at": _naive_utc(read_at),
            "correlation_id": optional("correlation_id"),
        }
    ).reset_index(drop=True)


def _naive_utc(values: pd.Series) -> pd.Series:
    return values.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")


# --------------------------------------------------------------------------- merging

_stage_metadata = MetaData()
load_stage = Table(
    "load_stage",
    _stage_metadata,
    Column("message_id", String(128)),
    Column("channel", String(16)),
    Column("direction", String(2)),
    Column("subaccount", String(200)),
    Column("user", String(200)),
    Column("campaign", String(200)),
    Column("content_type", String(32)),
    Column("phone", String(16)),
    Column("contact_name", Text),
    Column("content", Text),
    Column("status_rank", Integer),
    Column("error_code", String(32)),
    Column("error_description", Text),
    Column("created_at", DateTime),
    Column("created_day", Date),
    Column("sent_at", DateTime),
    Column("delivered_at", DateTime),
    Column("read_at", DateTime),
    Column("correlation_id", String(128)),
    prefixes=["TEMPORARY"],
)
STAGE_COLUMNS = tuple(c.name for c in load_stage.columns)


def _fill_stage(conn: Connection, frame: pd.DataFrame) -> None:
    load_stage.drop(conn, checkfirst=True)
    load_stage.create(conn)
    if conn.dialect.name == "duckdb":
        raw = conn.connection.dbapi_connection
        raw.register("load_stage_frame", frame)
        try:
            columns = ", ".join(f'"{c}"' for c in STAGE_COLUMNS)
            raw.execute(
                f"INSERT INTO load_stage ({columns}) SELECT {columns} FROM load_stage_frame"
            )
        finally:
            raw.unregister("load_stage_frame")
        return
    raw = conn.connection.dbapi_connection
    columns = ", ".join(f'"{c}"' for c in STAGE_COLUMNS)
    with raw.cursor() as cursor, cursor.copy(f"COPY load_stage ({columns}) FROM STDIN") as copy:
        for row in frame.itertuples(index=False, name=None):
            copy.write_row(tuple(None if _is_missing(v) else v for v in row))


def _is_missing(value) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and value != value)


def _add_missing_names(
    conn: Connection, table: Table, column: str, stage_column, derived: dict | None = None
) -> None:
    """Create the names the stage mentions that the table does not have yet; `derived` maps
    further columns to a function of the name's SQL expression."""
    sequence = table.c.id.default
    names = (
        select(stage_column.label("name"))
        .where(stage_column.is_not(None))
        .where(~exists().where(table.c[column] == stage_column))
        .distinct()
        .subquery()
    )
    derived = derived or {}
    values = [sequence.next_value(), names.c.name]
    values += [make(names.c.name) for make in derived.values()]
    conn.execute(insert(table).from_select(["id", column, *derived], select(*values)))


def _rank(column):
    return case(STATUS_RANK, value=column)


def _status_of(rank_column):
    return case({rank: status for status, rank in STATUS_RANK.items()}, value=rank_column)


def merge_stage(conn: Connection) -> None:
    """Merge the staged rows into messages by the rules of the domain."""
    s = load_stage.c
    _add_missing_names(conn, subaccounts, "name", s.subaccount)
    _add_missing_names(conn, users, "username", s.user)
    _add_missing_names(conn, campaigns, "name", s.campaign)
    _add_missing_names(conn, contacts, "phone", s.phone, {"phone_tail": phone_tail})

    folded = (
        select(
            s.message_id,
            func.min(s.channel).label("channel"),
            func.min(s.direction).label("direction"),
            func.min(s.subaccount).label("subaccount"),
            func.max(s.user).label("user"),
            func.max(s.campaign).label("campaign"),
            func.min(s.content_type).label("content_type"),
            func.min(s.phone).label("phone"),
            func.max(s.contact_name).label("contact_name"),
            func.max(s.content).label("content"),
            func.max(s.status_rank).label("status_rank"),
            func.max(s.error_code).label("error_code"),
            func.max(s.error_description).label("error_description"),
            func.min(s.created_at).label("created_at"),
            func.min(s.created_day).label("created_day"),
            func.min(s.sent_at).label("sent_at"),
            func.min(s.delivered_at).label("delivered_at"),
            func.min(s.read_at).label("read_at"),
            func.max(s.correlation_id).label("correlation_id"),
        )
        .group_by(s.message_id)
        .subquery("folded")
    )
    f = folded.c
    rows = select(
        f.message_id,
        f.channel,
        f.direction,
        subaccounts.c.id,
        users.c.id,
        campaigns.c.id,
        f.content_type,
        contacts.c.id,
        f.contact_name,
        f.content,
        _status_of(f.status_rank),
        f.error_code,
        f.error_description,
        f.created_at,
        f.created_day,
        f.sent_at,
        f.delivered_at,
        f.read_at,
        f.correlation_id,
    ).select_from(
        folded.join(subaccounts, subaccounts.c.name == f.subaccount)
        .join(contacts, contacts.c.phone == f.phone)
        .outerjoin(users, users.c.username == f.user)
        .outerjoin(campaigns, campaigns.c.name == f.campaign)
    )
    target = [
        "message_id",
        "channel",
        "direction",
        "subaccount_id",
        "user_id",
        "campaign_id",
        "content_type",
        "contact_id",
        "contact_name",
        "content",
        "status",
        "error_code",
        "error_description",
        "created_at",
        "created_day",
        "sent_at",
        "delivered_at",
        "read_at",
        "correlation_id",
    ]
    statement = pg_insert(messages).from_select(target, rows)
    new, old = statement.excluded, messages.c
    advances = _rank(new.status) > _rank(old.status)
    statement = statement.on_conflict_do_update(
        index_elements=[messages.c.message_id],
        set_={
            "status": case((advances, new.status), else_=old.status),
            "error_code": case(
                (and_(advances, new.error_code.is_not(None)), new.error_code),
                else_=func.coalesce(old.error_code, new.error_code),
            ),
            "error_description": case(
                (and_(advances, new.error_code.is_not(None)), new.error_description),
                else_=func.coalesce(old.error_description, new.error_description),
            ),
            "sent_at": func.least(old.sent_at, new.sent_at),
            "delivered_at": func.least(old.delivered_at, new.delivered_at),
            "read_at": func.least(old.read_at, new.read_at),
            "user_id": func.coalesce(old.user_id, new.user_id),
            "campaign_id": func.coalesce(old.campaign_id, new.campaign_id),
            "contact_name": func.coalesce(old.contact_name, new.contact_name),
            "content": func.coalesce(old.content, new.content),
            "correlation_id": func.coalesce(old.correlation_id, new.correlation_id),
        },
    )
    # The stored day, channel and subaccount of every merged message (a stored message keeps
    # its own, so these are the roll-up regions the merge touched, whatever the stage said).
    touched = conn.execute(statement.returning(old.created_day, old.channel, old.subaccount_id))
    rollup.refresh(conn, {tuple(row) for row in touched})
    load_stage.drop(conn)


def merge_frame(conn: Connection, staged: pd.DataFrame) -> None:
    """Stage and merge one validated chunk inside the caller's transaction."""
    if staged.empty:
        return
    _fill_stage(conn, staged[list(STAGE_COLUMNS)])
    merge_stage(conn)
    bump_data_version(conn)


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


def load_files(
    engine: Engine,
    paths: list[Path],
    timezone: str,
    *,
    skip_invalid: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int], Progress] | None = None,
) -> LoadReport:
    """Validate every file, then merge them chunk by chunk.

    Without skip_invalid any problem raises LoadError and nothing is written. With it, the
    bad rows go to FILE.rejected.csv beside each input, with their line and reasons.
    `progress(total_rows)` returns a function called with the rows done after each chunk.
    """
    report = LoadReport()
    problems: list[RowProblem] = []
    # A missing file, header column or unreadable file stops even a --skip-invalid load.
    # (Row numbers cannot tell them apart: a Parquet file's first row is line 1.)
    whole_file_problem = False
    for path in paths:
        if not path.is_file():
            problems.append(RowProblem(str(path), 0, "-", "file not found"))
            whole_file_problem = True
            continue
        try:
            for first, raw in _read_chunks(path, chunk_rows):
                _, found = validate_chunk(raw, first, path.name, timezone)
                report.rows_read += len(raw)
                problems.extend(found)
        except LoadError as error:
            problems.extend(error.problems)
            whole_file_problem = True
        except (ValueError, OSError, UnicodeDecodeError) as error:
            problems.append(RowProblem(path.name, 0, "-", f"cannot be read: {error}"))
            whole_file_problem = True
    if problems and (not skip_invalid or whole_file_problem):
        raise LoadError(problems)

    advance = progress(report.rows_read) if progress else (lambda _n: None)
    for path in paths:
        rejected_path = path.with_name(path.name + ".rejected.csv")
        wrote_header = False
        for first, raw in _read_chunks(path, chunk_rows):
            staged, found = validate_chunk(raw, first, path.name, timezone)
            if found:
                _write_rejected(rejected_path, raw, found, first, header=not wrote_header)
                wrote_header = True
                report.rows_rejected += len({p.line for p in found})
            with engine.begin() as conn:
                merge_frame(conn, staged)
            report.rows_loaded += len(staged)
            advance(len(raw))
        if wrote_header:
            report.rejected_files.append(rejected_path)
    return report
