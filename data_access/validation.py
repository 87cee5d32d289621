"""The rules a message record must meet, checked in the engine (DuckDB), for every writer.

A record arrives as text (a file's row, an API or webhook record mapped to the loader's
columns). `check` runs every rule over a table of such rows in one DuckDB connection and
returns the problems, each with its row's line, plus a table of the good rows normalised for
staging: trimmed text, the phone's digits, the status's rank, timestamps in naive UTC, the
creation day in the account's zone, and the times a later one implies filled in (a read
message was delivered, a delivered one was sent).

Files are checked where they are read (data_access/loader.py, a whole file at once and out of
Python); small batches (the API, webhooks) through `validate_chunk`, on a frame.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import duckdb
import pandas as pd

from data_access.domain import CHANNELS, CONTENT_TYPES, DIRECTIONS, MT_STATUSES, STATUS_RANK

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
    # Optional columns a file or record may leave out altogether (older files have neither).
    "operator",
    "template",
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
    "operator": 100,
    # WhatsApp's limit for a template's name.
    "template": 512,
}
OPTIONAL = tuple(c for c in LOADER_COLUMNS if c not in REQUIRED and c not in TIMESTAMPS)
OFFSET_PATTERN = r"(?:[Zz]|[+-]\d{2}:?\d{2})$"
# What a date and time must start with to be read at all (DuckDB also reads words such as
# 'infinity' and 'epoch' as timestamps).
DATE_START_PATTERN = r"^\d{4}-\d{2}-\d{2}"
BASIC_PATTERN = r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})"
# Characters trimmed from both ends of every value.
WHITESPACE = " \t\n\r\x0b\x0c\xa0"
QUOTED_MAX = 40


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


def quoted(value) -> str:
    """A value as a problem quotes it: repr, shortened past QUOTED_MAX characters."""
    text = str(value)
    if len(text) > QUOTED_MAX:
        text = text[: QUOTED_MAX - 1] + "…"
    return repr(text)


# --------------------------------------------------------------------------- the rules


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _one_of(values) -> str:
    return "(" + ", ".join(_literal(v) for v in values) + ")"


def _col(name: str) -> str:
    return f'"{name}"'


_PHONE = "phone_digits"


@dataclass(frozen=True)
class Rule:
    """A row breaks the rule where `condition` (SQL over the normalised row) holds. A
    `{value}` in the reason quotes the row's own value of the column."""

    column: str
    condition: str
    reason: str


def _rules() -> tuple[Rule, ...]:
    rules = [Rule(name, f"{_col(name)} = ''", "is required") for name in REQUIRED]
    rules += [
        Rule(
            name,
            f"length({_col(name)}) > {limit}",
            "{value} is longer than " + f"{limit:,} characters",
        )
        for name, limit in MAX_LENGTH.items()
    ]
    rules += [
        Rule(
            "channel",
            f"channel <> '' AND channel NOT IN {_one_of(CHANNELS)}",
            "{value} is not one of " + ", ".join(CHANNELS),
        ),
        Rule(
            "direction",
            f"direction <> '' AND direction NOT IN {_one_of(DIRECTIONS)}",
            "{value} is not MT or MO",
        ),
    ]
    rules += [
        Rule(
            "content_type",
            f"channel = {_literal(channel)} AND content_type <> '' "
            f"AND content_type NOT IN {_one_of(CONTENT_TYPES[channel])}",
            "{value} is not a " + f"{channel} content type",
        )
        for channel in CHANNELS
    ]
    rules += [
        Rule(
            "status",
            f"direction = 'MT' AND status <> '' AND status NOT IN {_one_of(MT_STATUSES)}",
            "{value} is not an MT message's status (one of " + ", ".join(MT_STATUSES) + ")",
        ),
        Rule(
            "status",
            "direction = 'MO' AND status <> '' AND status <> 'received'",
            "{value} is not an MO message's status (received)",
        ),
        Rule("status", "channel = 'sms' AND status = 'read'", "{value}: SMS has no read receipts"),
        Rule("read_at", "channel = 'sms' AND read_at <> ''", "{value}: SMS has no read receipts"),
        Rule(
            "phone",
            f"phone <> '' AND NOT regexp_full_match({_PHONE}, '\\d{{6,15}}')",
            "{value} is not an international number of 6 to 15 digits (E.164)",
        ),
    ]
    for name in TIMESTAMPS:
        parsed = f"{name}__parsed"
        rules += [
            Rule(
                name,
                f"{_col(name)} <> '' AND {parsed} IS NULL",
                "{value} is not an ISO 8601 date and time",
            ),
            Rule(
                name,
                f"{parsed} IS NOT NULL AND NOT regexp_matches({_col(name)}, '{OFFSET_PATTERN}')",
                "{value} needs a UTC offset or Z (ISO 8601, e.g. 2026-11-20T14:03:00-03:00)",
            ),
        ]
    return tuple(rules)


RULES = _rules()
_COLUMN_ORDER = {name: index for index, name in enumerate(LOADER_COLUMNS)}


def _trimmed(value: str) -> str:
    """The value without whitespace at its ends (trimming only where an end is blank is
    several times faster than trimming every value)."""
    blank = _literal(WHITESPACE)
    ends = f"contains({blank}, ({value})[1]) OR contains({blank}, ({value})[-1])"
    return f"CASE WHEN {ends} THEN trim({value}, {blank}) ELSE {value} END"


def _normalised(source: str, present: set[str]) -> str:
    """SQL of the source's rows as trimmed text (absent columns empty), the phone's digits and
    each timestamp read."""
    columns = ["line"]
    for name in LOADER_COLUMNS:
        if name in present:
            value = f"coalesce({_trimmed(f'CAST({_col(name)} AS VARCHAR)')}, '')"
        else:
            value = "''"
        columns.append(f"{value} AS {_col(name)}")
    trimmed = f"SELECT {', '.join(columns)} FROM {source}"
    digits = "regexp_replace(phone, '[\\s().\\-]', '', 'g')"
    derived = [
        f"CASE WHEN starts_with({digits}, '+') THEN {digits}[2:] ELSE {digits} END AS {_PHONE}"
    ]
    for name in TIMESTAMPS:
        # A final 'z' is UTC as 'Z' is (the engine reads only the capital).
        given = _col(name)
        value = f"CASE WHEN suffix({given}, 'z') THEN {given}[:-2] || 'Z' ELSE {given} END"
        # ISO 8601's basic format (20261120T140300Z) is written out in the extended one.
        extended = f"regexp_replace({value}, '{BASIC_PATTERN}', '\\1-\\2-\\3T\\4:\\5:\\6')"
        derived.append(
            f"CASE WHEN regexp_matches({value}, '{DATE_START_PATTERN}') "
            f"THEN TRY_CAST({value} AS TIMESTAMPTZ) "
            f"WHEN regexp_matches({value}, '{BASIC_PATTERN}') "
            f"THEN TRY_CAST({extended} AS TIMESTAMPTZ) END AS {name}__parsed"
        )
    return f"SELECT *, {', '.join(derived)} FROM ({trimmed})"


def _rank_of_status() -> str:
    cases = " ".join(f"WHEN {_literal(s)} THEN {rank}" for s, rank in STATUS_RANK.items())
    return f"CAST(CASE status {cases} END AS BIGINT)"


def _staged_columns(timezone: str) -> str:
    def naive(expression: str) -> str:
        return f"({expression}) AT TIME ZONE 'UTC'"

    def optional(name: str) -> str:
        return f"nullif({_col(name)}, '') AS {_col(name)}"

    read = "read_at__parsed"
    delivered = f"coalesce(delivered_at__parsed, {read})"
    sent = f"coalesce(sent_at__parsed, {delivered})"
    return ", ".join(
        [
            "line",
            "message_id",
            "channel",
            "direction",
            "subaccount",
            optional("user"),
            optional("campaign"),
            "content_type",
            f"{_PHONE} AS phone",
            optional("contact_name"),
            optional("content"),
            f"{_rank_of_status()} AS status_rank",
            optional("error_code"),
            optional("error_description"),
            f"{naive('created_at__parsed')} AS created_at",
            f"CAST(created_at__parsed AT TIME ZONE {_literal(timezone)} AS DATE) AS created_day",
            f"{naive(sent)} AS sent_at",
            f"{naive(delivered)} AS delivered_at",
            f"{naive(read)} AS read_at",
            optional("correlation_id"),
            optional("operator"),
            optional("template"),
        ]
    )


# --------------------------------------------------------------------------- running them


@dataclass(frozen=True)
class Checked:
    """What `check` leaves in its connection: the problems, and the name of a view of the
    good rows in the staging columns (`line` first; in no set order)."""

    problems: list[RowProblem]
    staged: str


def check(
    conn: duckdb.DuckDBPyConnection,
    source: str,
    present: set[str],
    file: str,
    timezone: str,
    *,
    prefix: str = "checked",
) -> Checked:
    """Run every rule over `source` (a table or view with a `line` column and the loader's
    columns that are `present`, as text). Creates `{prefix}_rows` (normalised, every row) and
    `{prefix}_staged` (a view of the good rows, staged) in `conn`; `discard` drops them."""
    conn.execute("SET TimeZone = 'UTC'")
    rows, staged = f"{prefix}_rows", f"{prefix}_staged"
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {rows} AS {_normalised(source, present)}")
    # One pass over the rows: each row's broken rules, then the values they quote.
    broken = ", ".join(
        f"CASE WHEN {rule.condition} THEN {number} END" for number, rule in enumerate(RULES)
    )
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {prefix}_hits AS SELECT line, unnest(rules) AS rule "
        f"FROM (SELECT line, list_filter([{broken}], lambda x: x IS NOT NULL) AS rules "
        f"FROM {rows}) WHERE len(rules) > 0"
    )
    quoted_value = " ".join(
        f"WHEN {number} THEN CAST(r.{_col(rule.column)} AS VARCHAR)"
        for number, rule in enumerate(RULES)
    )
    found = conn.execute(
        f"SELECT h.line, h.rule, CASE h.rule {quoted_value} END FROM {prefix}_hits h "
        f"JOIN {rows} r USING (line) ORDER BY h.line, h.rule"
    ).fetchall()
    problems = [_problem(file, line, RULES[number], value) for line, number, value in found]
    problems.sort(key=lambda p: (p.line, _COLUMN_ORDER.get(p.column, 99)))
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {prefix}_bad AS SELECT DISTINCT line FROM {prefix}_hits"
    )
    conn.execute(f"DROP TABLE {prefix}_hits")
    conn.execute(
        f"CREATE OR REPLACE TEMP VIEW {staged} AS SELECT {_staged_columns(timezone)} "
        f"FROM {rows} WHERE line NOT IN (SELECT line FROM {prefix}_bad)"
    )
    return Checked(problems, staged)


def discard(conn: duckdb.DuckDBPyConnection, prefix: str = "checked") -> None:
    """Drop what `check` made."""
    conn.execute(f"DROP VIEW IF EXISTS {prefix}_staged")
    conn.execute(f"DROP TABLE IF EXISTS {prefix}_rows")
    conn.execute(f"DROP TABLE IF EXISTS {prefix}_bad")


def _problem(file: str, line: int, rule: Rule, value: str) -> RowProblem:
    reason = rule.reason.format(value=quoted(value)) if "{value}" in rule.reason else rule.reason
    return RowProblem(file, int(line), rule.column, reason)


class _Reader(threading.local):
    """A small in-memory DuckDB per thread, for the rules over small batches."""

    conn: duckdb.DuckDBPyConnection | None = None


_reader = _Reader()


def _small_reader() -> duckdb.DuckDBPyConnection:
    if _reader.conn is None:
        _reader.conn = duckdb.connect(config={"memory_limit": "256MB", "threads": 1})
    return _reader.conn


def validate_chunk(
    raw: pd.DataFrame, first_line: int, file: str, timezone: str
) -> tuple[pd.DataFrame, list[RowProblem]]:
    """Check a small batch of records given as text; return its good rows staged (a frame with
    `line` = first_line + the row's position), and every problem found."""
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise LoadError(
            [RowProblem(file, 1, c, "column is missing from the header") for c in missing]
        )
    present = [c for c in LOADER_COLUMNS if c in raw.columns]
    frame = raw[present].reset_index(drop=True).astype(str)
    frame.insert(0, "line", range(first_line, first_line + len(frame)))
    conn = _small_reader()
    conn.register("incoming_batch", frame)
    try:
        checked = check(conn, "incoming_batch", set(present), file, timezone, prefix="batch")
        staged = conn.execute(f"SELECT * FROM {checked.staged} ORDER BY line").df()
        discard(conn, "batch")
    finally:
        conn.unregister("incoming_batch")
    return as_staged_frame(staged), checked.problems


def as_staged_frame(staged: pd.DataFrame) -> pd.DataFrame:
    """Staged rows as the merge takes them: creation days as dates, times in microseconds."""
    frame = staged.copy(deep=False)
    frame["created_day"] = pd.to_datetime(frame["created_day"]).dt.date.astype(object)
    for name in TIMESTAMPS:
        frame[name] = frame[name].astype("datetime64[us]")
    for name in OPTIONAL:
        frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    frame["line"] = frame["line"].astype("int64")
    frame["status_rank"] = frame["status_rank"].astype("int64")
    return frame
