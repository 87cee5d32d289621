"""The loader: every kind of bad input, --skip-invalid, the merge rules, Parquet and the CLI."""

from __future__ import annotations

import csv
import logging
import os
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import event, func, select, text

from config import PROJECT_DIR
from data_access import reports
from data_access.filters import AccessScope, ReportFilter
from data_access.loader import LOADER_COLUMNS, LoadError, RowProblem, load_files
from data_access.store import data_version, make_engine
from data_access.tables import (
    campaigns,
    contacts,
    daily_rollup,
    message_events,
    messages,
    subaccounts,
    user_subaccounts,
    users,
)
from tests.conftest import TIMEZONE, write_csv
from tests.test_reports import ROWS as REPORT_ROWS
from tests.test_rollup import assert_rollup_matches

GOOD = {
    "message_id": "m-1",
    "channel": "whatsapp",
    "direction": "MT",
    "subaccount": "Brand A",
    "user": "ana",
    "campaign": "Black Friday",
    "content_type": "text",
    "phone": "+5511987654321",
    "status": "sent",
    "created_at": "2026-11-20T10:00:00-03:00",
    "sent_at": "2026-11-20T10:00:05-03:00",
}
MT_STATUS_REASON = (
    "is not an MT message's status "
    "(one of scheduled, queued, sent, delivered, read, error, cancelled)"
)
MO_STATUS_REASON = "is not an MO message's status (received)"
PHONE_REASON = "is not an international number of 6 to 15 digits (E.164)"
OFFSET_REASON = "needs a UTC offset or Z (ISO 8601, e.g. 2026-11-20T14:03:00-03:00)"

# (changes to a good row, the problems it must produce as (column, reason))
BAD_ROWS = [
    ({"message_id": ""}, [("message_id", "is required")]),
    ({"phone": "", "created_at": ""}, [("phone", "is required"), ("created_at", "is required")]),
    ({"channel": "telegram"}, [("channel", "'telegram' is not one of whatsapp, sms")]),
    ({"direction": "inbound"}, [("direction", "'inbound' is not MT or MO")]),
    ({"status": "lost"}, [("status", "'lost' " + MT_STATUS_REASON)]),
    ({"status": "received"}, [("status", "'received' " + MT_STATUS_REASON)]),
    ({"content_type": "gif"}, [("content_type", "'gif' is not a whatsapp content type")]),
    (
        {"channel": "sms", "content_type": "image"},
        [("content_type", "'image' is not a sms content type")],
    ),
    (
        {"channel": "sms", "status": "read", "read_at": "2026-11-20T10:05:00-03:00"},
        [("status", "'read': SMS has no read receipts"),
         ("read_at", "'2026-11-20T10:05:00-03:00': SMS has no read receipts")],
    ),
    (
        {"channel": "sms", "status": "delivered", "read_at": "2026-11-20T10:05:00-03:00"},
        [("read_at", "'2026-11-20T10:05:00-03:00': SMS has no read receipts")],
    ),
    ({"direction": "MO", "status": "delivered"}, [("status", "'delivered' " + MO_STATUS_REASON)]),
    ({"phone": "55-11-CALL-ME"}, [("phone", "'55-11-CALL-ME' " + PHONE_REASON)]),
    ({"phone": "+12345"}, [("phone", "'+12345' " + PHONE_REASON)]),
    ({"phone": "+1234567890123456"}, [("phone", "'+1234567890123456' " + PHONE_REASON)]),
    (
        {"created_at": "2026-11-20T10:00:00"},
        [("created_at", "'2026-11-20T10:00:00' " + OFFSET_REASON)],
    ),
    (
        {"delivered_at": "2026-11-20 10:00"},
        [("delivered_at", "'2026-11-20 10:00' " + OFFSET_REASON)],
    ),
    (
        {"created_at": "2026-11-31T10:00:00Z"},
        [("created_at", "'2026-11-31T10:00:00Z' is not an ISO 8601 date and time")],
    ),
    ({"sent_at": "yesterday"}, [("sent_at", "'yesterday' is not an ISO 8601 date and time")]),
    (
        {"message_id": "x" * 129},
        [("message_id", "'" + "x" * 39 + "…' is longer than 128 characters")],
    ),
    (
        {"content": "é" * 10_001},
        [("content", "'" + "é" * 39 + "…' is longer than 10,000 characters")],
    ),
    ({"error_code": "E" * 33}, [("error_code", "'" + "E" * 33 + "' is longer than 32 characters")]),
]  # fmt: skip

STORE_TABLES = (messages, subaccounts, users, user_subaccounts, campaigns, contacts, daily_rollup)


def row(**changes) -> dict:
    return {**GOOD, **changes}


def load(engine, tmp_path: Path, rows: list[dict], name: str = "in.csv", **kwargs):
    return load_files(engine, [write_csv(tmp_path / name, rows)], TIMEZONE, **kwargs)


def snapshot(engine) -> dict[str, list[tuple]]:
    """Every row of every table a load writes to, in a stable order."""
    with engine.connect() as conn:
        return {
            table.name: sorted((tuple(r) for r in conn.execute(select(table))), key=repr)
            for table in STORE_TABLES
        }


def count_rows(engine) -> dict[str, int]:
    return {name: len(rows) for name, rows in snapshot(engine).items()}


def stored(engine, message_id: str) -> dict:
    with engine.connect() as conn:
        found = conn.execute(select(messages).where(messages.c.message_id == message_id)).one()
    return found._asdict()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --------------------------------------------------------------------------- bad input


def bad_file_rows() -> tuple[list[dict], list[RowProblem]]:
    """Good rows on lines 2 and the last line, each bad row between them."""
    rows = [row(message_id="good-first")]
    expected = []
    for number, (changes, problems) in enumerate(BAD_ROWS, start=1):
        rows.append(row(**{"message_id": f"bad-{number}", **changes}))
        line = len(rows) + 1  # the header is line 1
        expected += [RowProblem("in.csv", line, column, reason) for column, reason in problems]
    rows.append(row(message_id="good-last"))
    return rows, expected


def test_every_bad_row_is_reported_and_nothing_is_loaded(engine, tmp_path):
    rows, expected = bad_file_rows()
    with engine.connect() as conn:
        version = data_version(conn)
    with pytest.raises(LoadError) as caught:
        load(engine, tmp_path, rows)
    assert caught.value.problems == expected
    assert str(caught.value.problems[0]) == "in.csv:3: message_id: is required"
    assert set(count_rows(engine).values()) == {0}
    with engine.connect() as conn:
        assert data_version(conn) == version


def test_problems_in_several_files_are_all_reported_and_nothing_is_loaded(engine, tmp_path):
    good = write_csv(tmp_path / "good.csv", [row(message_id="g-1")])
    bad = write_csv(tmp_path / "bad.csv", [row(message_id="b-1"), row(channel="fax")])
    with pytest.raises(LoadError) as caught:
        load_files(engine, [good, bad], TIMEZONE)
    assert caught.value.problems == [
        RowProblem("bad.csv", 3, "channel", "'fax' is not one of whatsapp, sms")
    ]
    assert set(count_rows(engine).values()) == {0}


def test_problems_with_a_whole_file_stop_even_a_skip_invalid_load(engine, tmp_path):
    short = tmp_path / "short.csv"
    short.write_text("message_id,channel,direction,subaccount,content_type,created_at\n")
    (tmp_path / "dir").mkdir()
    cases = [
        (
            short,
            [
                RowProblem("short.csv", 1, "phone", "column is missing from the header"),
                RowProblem("short.csv", 1, "status", "column is missing from the header"),
            ],
        ),
        (
            tmp_path / "missing.csv",
            [RowProblem(str(tmp_path / "missing.csv"), 0, "-", "file not found")],
        ),
        (tmp_path / "dir", [RowProblem(str(tmp_path / "dir"), 0, "-", "file not found")]),
    ]
    for name in ("messages.json", "messages.xlsx", "messages"):
        (tmp_path / name).write_text("message_id\n")
        cases.append((tmp_path / name, [RowProblem(name, 0, "-", "file must be .csv or .parquet")]))
    good = write_csv(tmp_path / "good.csv", [row()])
    for path, expected in cases:
        with pytest.raises(LoadError) as caught:
            load_files(engine, [good, path], TIMEZONE, skip_invalid=True)
        assert caught.value.problems == expected, path
    assert set(count_rows(engine).values()) == {0}


def test_optional_columns_may_be_left_out_of_the_header(engine, tmp_path):
    path = tmp_path / "minimal.csv"
    path.write_text(
        "message_id,channel,direction,subaccount,content_type,phone,status,created_at\n"
        "m-9,sms,MO,Brand A,text,+5511987654321,received,2026-11-20T10:00:00Z\n"
    )
    assert load_files(engine, [path], TIMEZONE).rows_loaded == 1
    assert stored(engine, "m-9")["user_id"] is None


def test_skip_invalid_loads_good_rows_and_writes_the_rejected_ones(engine, tmp_path):
    rows, expected = bad_file_rows()
    report = load(engine, tmp_path, rows, skip_invalid=True)
    rejected_path = tmp_path / "in.csv.rejected.csv"
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (
        len(rows),
        2,
        len(BAD_ROWS),
    )
    assert report.rejected_files == [rejected_path]
    with engine.connect() as conn:
        ids = conn.execute(select(messages.c.message_id).order_by(messages.c.message_id))
        assert ids.scalars().all() == ["good-first", "good-last"]

    with rejected_path.open(newline="", encoding="utf-8") as handle:
        rejected = list(csv.DictReader(handle))
    assert list(rejected[0]) == ["line", *LOADER_COLUMNS, "reasons"]
    assert [(r["line"], r["message_id"]) for r in rejected] == [
        (str(line), rows[line - 2]["message_id"]) for line in range(3, len(BAD_ROWS) + 3)
    ]
    assert rejected[0]["reasons"] == "message_id: is required"
    assert rejected[1]["reasons"] == "phone: is required; created_at: is required"
    assert rejected[2]["channel"] == "telegram"
    by_line: dict[int, list[str]] = {}
    for problem in expected:
        by_line.setdefault(problem.line, []).append(f"{problem.column}: {problem.reason}")
    assert [r["reasons"] for r in rejected] == ["; ".join(by_line[line]) for line in by_line]


# --------------------------------------------------------------------------- merge rules


def test_delivered_then_sent_keeps_delivered(engine, tmp_path):
    load(
        engine,
        tmp_path,
        [row(status="delivered", delivered_at="2026-11-20T10:00:09-03:00")],
        "1.csv",
    )
    load(engine, tmp_path, [row(status="sent", sent_at="2026-11-20T10:00:30-03:00")], "2.csv")
    message = stored(engine, "m-1")
    assert message["status"] == "delivered"
    assert message["sent_at"] == utc("2026-11-20T13:00:05")
    assert message["delivered_at"] == utc("2026-11-20T13:00:09")


def test_read_before_delivered(engine, tmp_path):
    read = row(status="read", sent_at="", read_at="2026-11-20T10:20:00-03:00")
    load(engine, tmp_path, [read], "1.csv")
    # Read implies delivered and sent: both take the read time until better times arrive.
    message = stored(engine, "m-1")
    assert (message["status"], message["sent_at"], message["delivered_at"], message["read_at"]) == (
        "read",
        utc("2026-11-20T13:20:00"),
        utc("2026-11-20T13:20:00"),
        utc("2026-11-20T13:20:00"),
    )
    load(
        engine,
        tmp_path,
        [row(status="delivered", delivered_at="2026-11-20T10:00:09-03:00")],
        "2.csv",
    )
    message = stored(engine, "m-1")
    assert (message["status"], message["sent_at"], message["delivered_at"], message["read_at"]) == (
        "read",
        utc("2026-11-20T13:00:05"),
        utc("2026-11-20T13:00:09"),
        utc("2026-11-20T13:20:00"),
    )


def test_error_then_delivered(engine, tmp_path):
    failed = row(status="error", error_code="131000", error_description="Something went wrong")
    load(engine, tmp_path, [failed], "1.csv")
    flt = ReportFilter.build("whatsapp", "2026-11-20", "2026-11-20", today=date(2026, 11, 25))
    scope = AccessScope.of([stored(engine, "m-1")["subaccount_id"]])
    daily = reports.daily_series(engine, scope, flt)
    assert daily[["total", "sent", "delivered", "errors"]].values.tolist() == [[1, 1, 0, 1]]

    load(
        engine,
        tmp_path,
        [row(status="delivered", delivered_at="2026-11-20T10:01:00-03:00")],
        "2.csv",
    )
    message = stored(engine, "m-1")
    assert (message["status"], message["delivered_at"]) == (
        "delivered",
        utc("2026-11-20T13:01:00"),
    )
    daily = reports.daily_series(engine, scope, flt)
    assert daily[["total", "sent", "delivered", "errors"]].values.tolist() == [[1, 1, 1, 0]]
    assert reports.top_errors(engine, scope, flt).empty


STATUS_SEQUENCES = [
    # (first status, later updates in the order they arrive, the status that must remain)
    ("read", ["queued", "sent", "error", "delivered", "scheduled"], "read"),
    ("delivered", ["error", "sent"], "delivered"),
    ("error", ["sent", "queued"], "error"),
    ("sent", ["queued", "scheduled"], "sent"),
    ("scheduled", ["cancelled"], "cancelled"),
    ("queued", ["cancelled"], "cancelled"),
    ("sent", ["cancelled"], "sent"),
    ("delivered", ["cancelled"], "delivered"),
    ("error", ["cancelled"], "error"),
    ("cancelled", ["scheduled", "queued"], "cancelled"),
    # Cancelling did not stop a send the channel reports afterwards.
    ("cancelled", ["sent"], "sent"),
    ("scheduled", ["queued", "sent", "delivered", "read"], "read"),
]


def test_status_never_moves_backwards(engine, tmp_path):
    # Each sequence is its own message; round n carries the n-th late update of every message.
    ids = [f"s-{n}" for n in range(len(STATUS_SEQUENCES))]
    first = [row(message_id=i, status=seq[0]) for i, seq in zip(ids, STATUS_SEQUENCES, strict=True)]
    load(engine, tmp_path, first, "round-0.csv")
    rounds = max(len(later) for _, later, _ in STATUS_SEQUENCES)
    for number in range(rounds):
        updates = [
            row(message_id=i, status=later[number])
            for i, (_, later, _) in zip(ids, STATUS_SEQUENCES, strict=True)
            if number < len(later)
        ]
        load(engine, tmp_path, updates, f"round-{number + 1}.csv")
    with engine.connect() as conn:
        final = dict(conn.execute(select(messages.c.message_id, messages.c.status)).all())
    assert [final[i] for i in ids] == [expected for _, _, expected in STATUS_SEQUENCES]


def test_earliest_timestamps_are_kept(engine, tmp_path):
    load(engine, tmp_path, [row(status="queued", sent_at="")], "0.csv")
    assert stored(engine, "m-1")["sent_at"] is None
    times = [
        ("2026-11-20T10:00:30-03:00", "2026-11-20T10:01:00-03:00", "2026-11-20T10:09:00-03:00"),
        ("2026-11-20T13:00:10Z", "2026-11-20T13:02:00Z", "2026-11-20T13:05:00Z"),
        ("", "", ""),
        ("2026-11-20T10:00:20-03:00", "2026-11-20T10:03:00-03:00", "2026-11-20T10:08:00-03:00"),
    ]
    for number, (sent, delivered, read) in enumerate(times, start=1):
        update = row(status="read", sent_at=sent, delivered_at=delivered, read_at=read)
        if not read:
            update["status"] = "sent"
        load(engine, tmp_path, [update], f"{number}.csv")
    message = stored(engine, "m-1")
    assert (message["sent_at"], message["delivered_at"], message["read_at"]) == (
        utc("2026-11-20T13:00:10"),
        utc("2026-11-20T13:01:00"),
        utc("2026-11-20T13:05:00"),
    )


def test_updates_of_one_message_within_one_file_are_merged(engine, tmp_path):
    rows = [
        row(status="delivered", delivered_at="2026-11-20T10:00:09-03:00"),
        row(status="sent", sent_at="2026-11-20T10:00:01-03:00"),
        row(status="queued", sent_at=""),
    ]
    assert load(engine, tmp_path, rows).rows_loaded == 3
    message = stored(engine, "m-1")
    assert (message["status"], message["sent_at"], message["delivered_at"]) == (
        "delivered",
        utc("2026-11-20T13:00:01"),
        utc("2026-11-20T13:00:09"),
    )
    assert count_rows(engine)["messages"] == 1


def test_loading_the_same_file_twice_changes_nothing(engine, tmp_path):
    path = write_csv(tmp_path / "fixture.csv", REPORT_ROWS)
    updates = write_csv(
        tmp_path / "updates.csv",
        [
            {**REPORT_ROWS[2], "status": "delivered", "delivered_at": "2026-11-01T10:00:00Z"},
            {**REPORT_ROWS[6], "status": "cancelled"},
            {**REPORT_ROWS[0], "status": "sent", "sent_at": "2026-11-01T00:00:00Z"},
        ],
    )
    load_files(engine, [path, updates], TIMEZONE)
    before = snapshot(engine)
    assert len(before["messages"]) == len(REPORT_ROWS)
    assert len(before["contacts"]) == 5

    load_files(engine, [path], TIMEZONE)
    load_files(engine, [updates], TIMEZONE)
    load_files(engine, [updates, path], TIMEZONE)
    assert snapshot(engine) == before


def test_new_names_are_created_once(engine, tmp_path):
    rows = [
        row(message_id="a", subaccount="Marca Ñandú", user="josé", campaign="Año Nuevo 🎆"),
        row(message_id="b", subaccount="Marca Ñandú", user="", campaign=""),
        row(message_id="c", subaccount="Brand A", phone="5511987654321"),
    ]
    load(engine, tmp_path, rows)
    tables = snapshot(engine)
    assert sorted(name for _, name in tables["subaccounts"]) == ["Brand A", "Marca Ñandú"]
    assert sorted(r[1] for r in tables["users"]) == ["ana", "josé"]
    assert sorted(name for _, name in tables["campaigns"]) == ["Año Nuevo 🎆", "Black Friday"]
    # A new contact gets its tail and its country (from the calling code) once, and the bit of
    # its messages' day (2026-11-20 is day 20,777 since 1970: bit 20,777 % 62 = 7).
    assert [tuple(contact[1:]) for contact in tables["contacts"]] == [
        ("5511987654321", 654321, "BR", 1 << 7)
    ]
    assert stored(engine, "b")["user_id"] is None


# --------------------------------------------------------------------------- parquet


def parquet_table(rows: list[dict]) -> pa.Table:
    """Strings, zone-aware timestamps and whole-number columns with gaps, as tools write them."""

    def times(name: str, zone: str) -> pa.Array:
        values = [pd.Timestamp(r[name]) if r.get(name) else None for r in rows]
        return pa.array(
            [v.tz_convert(zone) if v is not None else None for v in values],
            pa.timestamp("us", tz=zone),
        )

    columns = {
        name: pa.array([r.get(name, "") for r in rows], pa.string())
        for name in LOADER_COLUMNS
        if name not in ("phone", "error_code", "created_at", "sent_at", "delivered_at", "read_at")
    }
    columns["phone"] = pa.array([int(r["phone"].lstrip("+")) for r in rows], pa.int64())
    columns["error_code"] = pa.array(
        [int(r["error_code"]) if r.get("error_code") else None for r in rows], pa.int64()
    )
    columns["created_at"] = times("created_at", "UTC")
    columns["sent_at"] = times("sent_at", TIMEZONE)
    columns["delivered_at"] = times("delivered_at", "America/Mexico_City")
    columns["read_at"] = times("read_at", "UTC")
    return pa.table(columns)


PARQUET_ROWS = [
    row(message_id="p-1", status="read", read_at="2026-11-20T10:30:00-03:00"),
    row(
        message_id="p-2",
        status="error",
        error_code="131026",
        error_description="Message undeliverable",
        created_at="2026-11-20T23:30:00-03:00",
        sent_at="",
    ),
    row(message_id="p-3", direction="MO", status="received", user="", campaign="", sent_at=""),
]


def test_parquet_input(engine, tmp_path):
    path = tmp_path / "messages.parquet"
    pq.write_table(parquet_table(PARQUET_ROWS), path)
    report = load_files(engine, [path], TIMEZONE)
    assert (report.rows_read, report.rows_loaded) == (3, 3)

    first, second = stored(engine, "p-1"), stored(engine, "p-2")
    assert (first["status"], first["error_code"], first["read_at"]) == (
        "read",
        None,
        utc("2026-11-20T13:30:00"),
    )
    assert first["sent_at"] == utc("2026-11-20T13:00:05")
    assert (second["error_code"], second["created_at"], second["created_day"]) == (
        "131026",
        utc("2026-11-21T02:30:00"),
        date(2026, 11, 20),
    )
    with engine.connect() as conn:
        assert conn.execute(select(contacts.c.phone)).scalars().all() == ["5511987654321"]

    # The same messages as CSV are the same messages.
    before = snapshot(engine)
    load(engine, tmp_path, PARQUET_ROWS)
    assert snapshot(engine) == before


def test_bad_parquet_rows_are_numbered_from_one(engine, tmp_path):
    rows = [row(message_id="p-1", channel="fax"), row(message_id="p-2"), row(message_id="p-3")]
    rows[2]["status"] = "lost"
    path = tmp_path / "messages.parquet"
    pq.write_table(parquet_table(rows), path)
    with pytest.raises(LoadError) as caught:
        load_files(engine, [path], TIMEZONE)
    assert caught.value.problems == [
        RowProblem("messages.parquet", 1, "channel", "'fax' is not one of whatsapp, sms"),
        RowProblem("messages.parquet", 3, "status", "'lost' " + MT_STATUS_REASON),
    ]
    report = load_files(engine, [path], TIMEZONE, skip_invalid=True)
    assert (report.rows_loaded, report.rows_rejected) == (1, 2)
    assert stored(engine, "p-2")["status"] == "sent"
    rejected = pd.read_csv(tmp_path / "messages.parquet.rejected.csv", dtype=str)
    assert rejected[["line", "message_id"]].values.tolist() == [["1", "p-1"], ["3", "p-3"]]


def test_chunked_load_counts_lines_across_chunks(engine, tmp_path):
    rows = [row(message_id=f"c-{n}") for n in range(7)]
    rows[5]["phone"] = "n/a"
    path = write_csv(tmp_path / "chunks.csv", rows)
    with pytest.raises(LoadError) as caught:
        load_files(engine, [path], TIMEZONE, chunk_rows=2)
    assert caught.value.problems == [RowProblem("chunks.csv", 7, "phone", "'n/a' " + PHONE_REASON)]
    report = load_files(engine, [path], TIMEZONE, chunk_rows=2, skip_invalid=True)
    assert (report.rows_loaded, report.rows_rejected) == (6, 1)
    assert count_rows(engine)["messages"] == 6


# --------------------------------------------------------------------------- command line


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "ACCOUNT_TIMEZONE": TIMEZONE}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "app.py", "load", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def stored_ids(tmp_path: Path) -> list[str]:
    engine = make_engine(f"duckdb:///{tmp_path / 'data' / 'reports.duckdb'}")
    try:
        with engine.connect() as conn:
            query = select(messages.c.message_id).order_by(messages.c.message_id)
            return conn.execute(query).scalars().all()
    finally:
        engine.dispose()


def test_cli_load_of_a_bad_file_fails_and_lists_the_problems(tmp_path):
    path = write_csv(
        tmp_path / "bad.csv",
        [row(), row(message_id="m-2", channel="fax"), row(message_id="m-3", phone="12")],
    )
    result = run_cli(tmp_path, str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "bad.csv:3: channel: 'fax' is not one of whatsapp, sms",
        f"bad.csv:4: phone: '12' {PHONE_REASON}",
        "2 problem(s) found; nothing was loaded.",
    ]
    assert "Traceback" not in result.stdout + result.stderr
    assert stored_ids(tmp_path) == []

    result = run_cli(tmp_path, "--skip-invalid", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Loaded 1 rows from 1 file(s); rejected 2.",
        f"Rejected rows and reasons: {tmp_path / 'bad.csv.rejected.csv'}",
    ]
    assert stored_ids(tmp_path) == ["m-1"]


def test_cli_load_of_a_missing_file(tmp_path):
    result = run_cli(tmp_path, str(tmp_path / "nowhere.csv"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{tmp_path / 'nowhere.csv'}:0: -: file not found",
        "1 problem(s) found; nothing was loaded.",
    ]


# --------------------------------------------------------------------------- parts


def test_a_file_of_many_days_is_merged_in_parts_of_whole_days_in_order(engine, tmp_path):
    days = [5, 1, 7, 3, 2, 6, 4, 0]  # a file in no order of days
    rows = [
        row(message_id=f"d-{day}", created_at=f"2026-11-{10 + day}T10:00:00-03:00",
            sent_at=f"2026-11-{10 + day}T10:00:05-03:00")
        for day in days
    ]  # fmt: skip
    # A message's later record, at the end of the file: in its message's part all the same.
    rows.append({**rows[3], "status": "delivered", "delivered_at": "2026-11-13T10:00:09-03:00"})
    report = load(engine, tmp_path, rows, chunk_rows=2)
    assert (report.rows_read, report.rows_loaded) == (9, 9)
    assert stored(engine, "d-3")["status"] == "delivered"
    if engine.dialect.name == "duckdb":
        with engine.connect() as conn:
            in_rows = (
                conn.execute(text("SELECT message_id FROM messages ORDER BY rowid")).scalars().all()
            )
        assert in_rows == [f"d-{day}" for day in range(8)]
    assert_rollup_matches(engine)


def test_a_file_of_stored_old_messages_binds_no_parameter_per_message(engine, tmp_path):
    # 3,000 messages of two months ago (outside the recent index's days), sent, then the same
    # file again with each delivered: every message is stored, its events compared with
    # those kept on its day.
    created = "2026-10-01T12:00:00-03:00"
    rows = [
        {"message_id": f"old-{n:04d}", "channel": "whatsapp", "direction": "MT",
         "subaccount": "Brand A", "content_type": "text", "phone": "+5511987654321",
         "status": "sent", "created_at": created}
        for n in range(3_000)
    ]  # fmt: skip
    load_files(engine, [write_csv(tmp_path / "sent.csv", rows)], TIMEZONE)
    delivered = [{**row, "status": "delivered", "delivered_at": "2026-10-01T12:00:05-03:00"}
                 for row in rows]  # fmt: skip
    bound: list[int] = []

    def seen(conn, cursor, statement, parameters, *_):
        bound.append(len(parameters or ()))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        load_files(engine, [write_csv(tmp_path / "delivered.csv", delivered)], TIMEZONE)
        load_files(engine, [write_csv(tmp_path / "again.csv", delivered)], TIMEZONE)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    # A statement names at most a chunk of ids (merge.ID_CHUNK), never the part's 3,000.
    assert max(bound) <= 1_000
    with engine.connect() as conn:
        by_status = dict(
            conn.execute(
                select(message_events.c.status, func.count()).group_by(message_events.c.status)
            ).all()
        )
        statuses = dict(
            conn.execute(select(messages.c.status, func.count()).group_by(messages.c.status)).all()
        )
    # Each message: its sent event, its delivered one once (the file loaded twice).
    assert by_status == {"sent": 3_000, "delivered": 3_000}
    assert statuses == {"delivered": 3_000}


def test_a_load_logs_its_memory_after_the_check_and_after_each_part(engine, tmp_path, caplog):
    """The server's log says where a load's memory is: the process's, and each engine's own."""
    rows = [{**GOOD, "message_id": f"m-{n}"} for n in range(5)]
    with caplog.at_level(logging.INFO, logger="data_access.loader"):
        report = load(engine, tmp_path, rows, chunk_rows=2)
    assert report.rows_loaded == 5
    lines = [r.getMessage() for r in caplog.records if r.name == "data_access.loader"]
    assert [line.split(";")[0].split(" in ")[0] for line in lines] == [
        "load: 5 rows of 1 file(s) read and checked",
        # Two messages a part: 2, 2 and 1.
        "load: part 1 of 3 of in.csv merged",
        "load: part 2 of 3 of in.csv merged",
        "load: part 3 of 3 of in.csv merged",
    ]
    # The check needs no store (a command checks its files in its own process); the merge
    # gives the store's own count where the store is DuckDB.
    checked = re.compile("; memory: process [0-9,]+ MiB, scratch store [0-9,]+ MiB$")
    store = ", store [0-9,]+ MiB" if engine.dialect.name == "duckdb" else ""
    merged = re.compile(f"; memory: process [0-9,]+ MiB{store}, scratch store [0-9,]+ MiB$")
    assert checked.search(lines[0]), lines
    assert all(merged.search(line) for line in lines[1:]), lines
