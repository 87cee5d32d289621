"""The record rules in the engine: one rule set for files (read by DuckDB) and small batches
(the API and webhooks, as frames), the values they accept and the staged rows they give."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from data_access.loader import LoadError, load_files
from data_access.validation import LOADER_COLUMNS, RowProblem, validate_chunk
from tests.conftest import TIMEZONE, write_csv
from tests.test_loader import BAD_ROWS, GOOD, OFFSET_REASON


def frame_of(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        [[row.get(name, "") for name in LOADER_COLUMNS] for row in rows],
        columns=list(LOADER_COLUMNS),
    )


def test_a_file_and_a_batch_get_the_same_problems(engine, tmp_path):
    """Every bad row of the loader's table, read from a file by the engine and given as a
    batch, breaks the same rules with the same words, on the same lines."""
    rows = [GOOD | {"message_id": f"m-{n}"} | change for n, (change, _) in enumerate(BAD_ROWS)]
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(LoadError) as caught:
        load_files(engine, [path], TIMEZONE)
    _, batch_problems = validate_chunk(frame_of(rows), 2, "bad.csv", TIMEZONE)
    assert caught.value.problems == batch_problems
    expected = [
        RowProblem("bad.csv", line, column, reason)
        for line, (_, problems) in enumerate(BAD_ROWS, start=2)
        for column, reason in problems
    ]
    assert batch_problems == expected


@pytest.mark.parametrize(
    ("written", "utc"),
    [
        ("2026-11-20T14:03:00-03:00", datetime(2026, 11, 20, 17, 3)),
        ("2026-11-20T14:03:00Z", datetime(2026, 11, 20, 14, 3)),
        ("2026-11-20T14:03:00z", datetime(2026, 11, 20, 14, 3)),
        ("2026-11-20 14:03:00+0300", datetime(2026, 11, 20, 11, 3)),
        ("2026-11-20T14:03:00.123456Z", datetime(2026, 11, 20, 14, 3, 0, 123456)),
        # ISO 8601's basic format.
        ("20261120T140300Z", datetime(2026, 11, 20, 14, 3)),
        # Blanks around a value are not part of it.
        ("\t2026-11-20T14:03:00Z \u00a0", datetime(2026, 11, 20, 14, 3)),
    ],
)
def test_times_that_are_read(written, utc):
    staged, problems = validate_chunk(frame_of([GOOD | {"created_at": written}]), 2, "f", TIMEZONE)
    assert problems == []
    assert staged["created_at"].tolist() == [pd.Timestamp(utc)]


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("infinity", "'infinity' is not an ISO 8601 date and time"),
        ("epoch", "'epoch' is not an ISO 8601 date and time"),
        ("2026-11-31T10:00:00Z", "'2026-11-31T10:00:00Z' is not an ISO 8601 date and time"),
        ("2026-11-20T14:03:00", "'2026-11-20T14:03:00' " + OFFSET_REASON),
        ("2026-11-20T14:03:00+03", "'2026-11-20T14:03:00+03' " + OFFSET_REASON),
        ("2026-11-20", "'2026-11-20' " + OFFSET_REASON),
    ],
)
def test_times_that_are_refused(written, reason):
    staged, problems = validate_chunk(frame_of([GOOD | {"created_at": written}]), 2, "f", TIMEZONE)
    assert problems == [RowProblem("f", 2, "created_at", reason)]
    assert staged.empty


def test_staged_rows_are_normalised():
    rows = [
        GOOD
        | {
            "message_id": " m-1 ",
            "phone": "+55 (11) 98765-4321",
            "user": "  ",
            "status": "read",
            "sent_at": "",
            "read_at": "2026-11-21T01:30:00-03:00",
            "created_at": "2026-11-20T23:30:00-03:00",
        }
    ]
    staged, problems = validate_chunk(frame_of(rows), 7, "f", TIMEZONE)
    assert problems == []
    row = staged.iloc[0]
    assert (row["line"], row["message_id"], row["phone"], row["user"]) == (
        7,
        "m-1",
        "5511987654321",
        None,
    )
    # Read implies delivered and sent at the read time; the day is the account's.
    assert (
        row["read_at"]
        == row["delivered_at"]
        == row["sent_at"]
        == pd.Timestamp("2026-11-21T04:30:00")
    )
    assert (row["created_day"], row["status_rank"]) == (date(2026, 11, 20), 7)
