"""Load message files (CSV or Parquet) into the store, merging updates of known messages.

The whole input is validated before anything is written. Rows are then merged in chunks, each
chunk one transaction; merging is idempotent, so a load cut short is finished by loading the
same files again.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, Engine, text

from data_access import message_keys
from data_access.domain import CHANNELS, CONTENT_TYPES, DIRECTIONS, MT_STATUSES, STATUS_RANK
from data_access.merge import Refusal, check_records, merge_records, quoted, stored_identities
from data_access.writes import WriteScope, write

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
# A chunk's rows in the embedded store's memory while it is merged (staged, folded, joined):
# measured under a 64MB limit, 20,000 rows fit and 100,000 did not. A chunk is sized to the
# limit with room to spare, so a small limit loads in smaller chunks instead of failing.
CHUNK_BYTES_PER_ROW = 2_500
CHUNK_ROWS_MIN = 5_000
_UNITS = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "bytes": 1}
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

    def __init__(self, problems: list[RowProblem], loaded: int = 0) -> None:
        if loaded:
            message = (
                f"{len(problems)} problem(s) in the input; the {loaded:,} rows before them were "
                "loaded (loading the fixed files again is harmless), nothing after"
            )
        else:
            message = f"{len(problems)} problem(s) in the input; nothing was loaded"
        super().__init__(message)
        self.problems = problems
        self.loaded = loaded


@dataclass
class LoadReport:
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_changed: int = 0
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
        """Flag the rows of `mask`; a `{value}` in the reason quotes each row's own value."""
        nonlocal bad
        mask = mask.fillna(False).astype(bool)
        if "{value}" in reason:
            for i in mask[mask].index:
                shown = quoted(frame.at[i, column])
                problems.append(
                    RowProblem(file, first_line + int(i), column, reason.format(value=shown))
                )
        else:
            problems.extend(_problem_rows(mask, first_line, file, column, reason))
        bad = bad | mask

    for name in REQUIRED:
        flag(frame[name] == "", name, "is required")
    for name, limit in MAX_LENGTH.items():
        flag(
            frame[name].str.len() > limit, name, "{value} is longer than " + f"{limit:,} characters"
        )

    flag(
        (frame.channel != "") & ~frame.channel.isin(CHANNELS),
        "channel",
        "{value} is not one of " + ", ".join(CHANNELS),
    )
    flag(
        (frame.direction != "") & ~frame.direction.isin(DIRECTIONS),
        "direction",
        "{value} is not MT or MO",
    )
    for channel in CHANNELS:
        on_channel = frame.channel == channel
        flag(
            on_channel
            & (frame.content_type != "")
            & ~frame.content_type.isin(CONTENT_TYPES[channel]),
            "content_type",
            "{value} is not a " + f"{channel} content type",
        )
    mt = frame.direction == "MT"
    mo = frame.direction == "MO"
    flag(
        mt & (frame.status != "") & ~frame.status.isin(MT_STATUSES),
        "status",
        "{value} is not an MT message's status (one of " + ", ".join(MT_STATUSES) + ")",
    )
    flag(
        mo & (frame.status != "") & (frame.status != "received"),
        "status",
        "{value} is not an MO message's status (received)",
    )
    flag(
        (frame.channel == "sms") & (frame.status == "read"),
        "status",
        "{value}: SMS has no read receipts",
    )
    flag(
        (frame.channel == "sms") & (frame.read_at != ""),
        "read_at",
        "{value}: SMS has no read receipts",
    )

    phone = frame.phone.str.replace(r"[\s().\-]", "", regex=True).str.removeprefix("+")
    flag(
        (frame.phone != "") & ~phone.str.fullmatch(r"\d{6,15}"),
        "phone",
        "{value} is not an international number of 6 to 15 digits (E.164)",
    )

    parsed = {}
    for name in TIMESTAMPS:
        text = frame[name]
        present = text != ""
        values = pd.to_datetime(text.where(present), format="ISO8601", utc=True, errors="coerce")
        unreadable = present & values.isna()
        flag(unreadable, name, "{value} is not an ISO 8601 date and time")
        flag(
            present & ~unreadable & ~text.str.contains(_OFFSET_PATTERN, regex=True),
            name,
            "{value} needs a UTC offset or Z (ISO 8601, e.g. 2026-11-20T14:03:00-03:00)",
        )
        parsed[name] = values

    problems.sort(
        key=lambda p: (p.line, LOADER_COLUMNS.index(p.column) if p.column in LOADER_COLUMNS else 99)
    )
    good = frame[~bad]
    staged = _staged(
        good, {k: v[~bad] for k, v in parsed.items()}, phone[~bad], timezone, first_line
    )
    return staged, problems


def _staged(
    good: pd.DataFrame, parsed: dict, phone: pd.Series, timezone: str, first_line: int
) -> pd.DataFrame:
    def optional(name: str) -> pd.Series:
        return good[name].where(good[name] != "", None).astype(object)

    created = parsed["created_at"]
    read_at = parsed["read_at"]
    # A read message was delivered, and a delivered one was sent.
    delivered_at = parsed["delivered_at"].fillna(read_at)
    sent_at = parsed["sent_at"].fillna(delivered_at)
    return pd.DataFrame(
        {
            "line": good.index.to_numpy() + first_line,
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


def identity_problems(
    conn: Connection, staged: pd.DataFrame, scope: WriteScope, file: str
) -> list[RowProblem]:
    """The rows of a validated chunk that the writer may not write (see data_access/merge.py)."""
    frame = staged.reset_index(drop=True)
    refused = check_records(frame, stored_identities(conn, frame["message_id"]), scope)
    return [_refusal_problem(frame, refusal, file) for refusal in refused]


def _refusal_problem(frame: pd.DataFrame, refusal: Refusal, file: str) -> RowProblem:
    return RowProblem(file, int(frame["line"].iloc[refusal.row]), refusal.field, refusal.reason)


def chunk_rows_for(engine: Engine, most: int = CHUNK_ROWS) -> int:
    """The rows of a chunk the store's memory limit leaves room for (DuckDB); `most` else."""
    if engine.dialect.name != "duckdb":
        return most
    with engine.connect() as conn:
        shown = conn.execute(text("SELECT current_setting('memory_limit')")).scalar_one()
    number, _, unit = str(shown).partition(" ")
    try:
        limit = float(number) * _UNITS[unit]
    except (KeyError, ValueError):
        return most
    return max(CHUNK_ROWS_MIN, min(most, int(limit / CHUNK_BYTES_PER_ROW)))


def _check_files(
    engine: Engine,
    paths: list[Path],
    timezone: str,
    scope: WriteScope,
    chunk_rows: int,
    report: LoadReport,
    spool: Path | None,
) -> dict[Path, list[tuple[int, Path]]]:
    """Validate every file and check its rows against the stored messages' identity; raise
    LoadError when a load must stop. With a spool folder, each validated chunk is kept there
    (as Parquet) for the merge: returns them per file."""
    problems: list[RowProblem] = []
    spooled: dict[Path, list[tuple[int, Path]]] = {}
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
                staged, found = validate_chunk(raw, first, path.name, timezone)
                report.rows_read += len(raw)
                problems.extend(found)
                with engine.connect() as conn:
                    problems.extend(identity_problems(conn, staged, scope, path.name))
                if spool is not None and not problems:
                    part = spool / f"{len(list(spool.iterdir())):06d}.parquet"
                    staged.reset_index(drop=True).to_parquet(part, index=False)
                    spooled.setdefault(path, []).append((first, part))
        except LoadError as error:
            problems.extend(error.problems)
            whole_file_problem = True
        except (ValueError, OSError, UnicodeDecodeError) as error:
            problems.append(RowProblem(path.name, 0, "-", f"cannot be read: {error}"))
            whole_file_problem = True
    if problems and (spool is not None or whole_file_problem):
        raise LoadError(problems)
    return spooled


def _forget_old_keys(tx) -> None:
    if message_keys.in_use(tx.conn):
        message_keys.forget_old(tx.conn)


def _revalidated(path: Path, chunk_rows: int, timezone: str):
    """The chunks of a file read and validated again: (first line, raw, staged, problems)."""
    for first, raw in _read_chunks(path, chunk_rows):
        staged, found = validate_chunk(raw, first, path.name, timezone)
        yield first, raw, staged, found


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
    """Validate every file, then merge them chunk by chunk through the write path.

    Without skip_invalid any problem raises LoadError and nothing is written. With it, the
    bad rows go to FILE.rejected.csv beside each input, with their line and reasons. Rows for
    stored messages whose identity they contradict count as problems too.
    `progress(total_rows)` returns a function called with the rows done after each chunk.
    """
    scope = scope or WriteScope.account("file load")
    chunk_rows = chunk_rows or chunk_rows_for(engine)
    with tempfile.TemporaryDirectory(prefix="load-") as spool_dir:
        # Without skip_invalid the validated chunks are kept on disk between the check and
        # the merge, so a file is read and validated once (in memory: one chunk at a time).
        spool = None if skip_invalid else Path(spool_dir)
        report = LoadReport()
        spooled = _check_files(engine, paths, timezone, scope, chunk_rows, report, spool)
        # The recent keys' days that aged out go first (the server does it hourly too), so the
        # index stays the size of its window where no server runs.
        write(engine, _forget_old_keys)
        advance = progress(report.rows_read) if progress else (lambda _n: None)
        for path in paths:
            rejected_path = path.with_name(path.name + ".rejected.csv")
            wrote_header = False
            if spool is None:
                chunks = _revalidated(path, chunk_rows, timezone)
            else:
                chunks = (
                    (first, None, pd.read_parquet(part), [])
                    for first, part in spooled.get(path, [])
                )
            for first, raw, staged, found in chunks:
                staged = staged.reset_index(drop=True)
                merge = partial(
                    merge_records,
                    frame=staged,
                    scope=scope,
                    source="file",
                    all_or_nothing=not skip_invalid,
                )
                result = write(engine, merge)
                refused = [_refusal_problem(staged, r, path.name) for r in result.refused]
                if refused and not skip_invalid:
                    # Another writer stored a contradicting record since the check above.
                    raise LoadError(refused, loaded=report.rows_loaded)
                found = found + refused
                if found:
                    _write_rejected(rejected_path, raw, found, first, header=not wrote_header)
                    wrote_header = True
                    report.rows_rejected += len({p.line for p in found})
                report.rows_loaded += len(staged) - len(refused)
                report.rows_changed += result.created + result.updated
                advance(len(raw) if raw is not None else len(staged))
            if wrote_header:
                report.rejected_files.append(rejected_path)
    return report
