"""The daily roll-up always equals counting the messages, whatever wrote them, on both stores."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, text, update

from data_access import reports, rollup
from data_access.delivery_times import BUCKET_BOUNDS
from data_access.filters import AccessScope, ReportFilter, today_in
from data_access.loader import load_files
from data_access.rollup import KEY_COLUMNS, TIME_KEY_COLUMNS, counts_by_key
from data_access.store import create_schema, ensure_timezone, make_engine, read_meta
from data_access.tables import (
    SCHEMA_VERSION,
    campaigns,
    contacts,
    daily_rollup,
    delivery_time_rollup,
    messages,
    store_meta,
    subaccounts,
    users,
)
from data_access.writes import WriteScope, write
from ingest.merge import merge_rows
from tests.conftest import TIMEZONE, write_csv

m = messages.c
r = daily_rollup.c


def counted_from_messages(conn) -> list[tuple]:
    """What the roll-up must hold: the messages grouped by its key, counted plainly."""
    keys = [m[name] for name in KEY_COLUMNS]
    query = select(
        *keys,
        func.count(),
        func.count(m.sent_at),
        func.count(m.delivered_at),
        func.count(m.read_at),
    ).group_by(*keys)
    return sorted((tuple(row) for row in conn.execute(query)), key=repr)


def stored_rollup(conn) -> list[tuple]:
    """What the roll-up says: its rows summed by key (data_access/rollup.py)."""
    return sorted((tuple(row) for row in conn.execute(counts_by_key("daily_rollup"))), key=repr)


def bucket_in_python(seconds: float) -> int:
    """The bucket of a delay, found apart from the engine's CASE: the first bound not below it."""
    return bisect_left(BUCKET_BOUNDS, seconds)


def times_from_messages(conn) -> list[tuple]:
    """What the delivery times' histogram must hold, counted in Python from every message's
    times (a check independent of the SQL that keeps it)."""
    keys = [m[name] for name in TIME_KEY_COLUMNS]
    counts: Counter = Counter()
    for row in conn.execute(select(*keys, m.created_at, m.delivered_at, m.read_at)):
        key = tuple(row[: len(keys)])
        created, delivered, read = row[len(keys) :]
        if delivered is not None:
            counts[(*key, bucket_in_python((delivered - created).total_seconds()), 0)] += 1
        if read is not None:
            counts[(*key, bucket_in_python((read - created).total_seconds()), 1)] += 1
    merged: dict = {}
    for (*key, bucket, which), count in counts.items():
        pair = merged.setdefault((*key, bucket), [0, 0])
        pair[which] += count
    return sorted(((*key, d, r) for key, (d, r) in merged.items()), key=repr)


def stored_times(conn) -> list[tuple]:
    query = counts_by_key("delivery_time_rollup")
    return sorted((tuple(row) for row in conn.execute(query)), key=repr)


def assert_rollup_matches(engine) -> list[tuple]:
    """The roll-up and the delivery times' histogram both equal counting the messages."""
    with engine.connect() as conn:
        stored = stored_rollup(conn)
        assert stored == counted_from_messages(conn)
        assert stored_times(conn) == times_from_messages(conn)
    return stored


def readable(engine) -> list[tuple]:
    """What the roll-up says, with names instead of ids, for hand-written expectations."""
    kept = counts_by_key("daily_rollup").subquery("kept")
    r = kept.c
    query = (
        select(
            r.created_day,
            r.channel,
            r.direction,
            subaccounts.c.name,
            users.c.username,
            campaigns.c.name,
            r.status,
            r.error_code,
            r.message_count,
            r.sent_count,
            r.delivered_count,
            r.read_count,
        )
        .select_from(
            kept.join(subaccounts, subaccounts.c.id == r.subaccount_id)
            .outerjoin(users, users.c.id == r.user_id)
            .outerjoin(campaigns, campaigns.c.id == r.campaign_id)
        )
        .order_by(r.created_day, r.channel, r.direction, r.status, r.error_code.nulls_last())
    )
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def mt(message_id: str, created_at: str, status: str, **extra) -> dict:
    return {
        "message_id": message_id,
        "channel": "whatsapp",
        "direction": "MT",
        "subaccount": "Brand A",
        "user": "ana",
        "campaign": "Black Friday",
        "content_type": "text",
        "phone": "+5511987654321",
        "status": status,
        "created_at": created_at,
        **extra,
    }


FIXTURE = [
    mt("a", "2026-11-20T10:00:00-03:00", "delivered",
       sent_at="2026-11-20T10:00:05-03:00", delivered_at="2026-11-20T10:00:09-03:00"),
    mt("b", "2026-11-20T11:00:00-03:00", "read", sent_at="2026-11-20T11:00:05-03:00",
       delivered_at="2026-11-20T11:00:09-03:00", read_at="2026-11-20T11:30:00-03:00"),
    # 02:30 UTC on the 21st, still the 20th in Sao Paulo.
    mt("c", "2026-11-20T23:30:00-03:00", "error",
       error_code="131047", error_description="Re-engagement message"),
    {
        "message_id": "d", "channel": "whatsapp", "direction": "MO", "subaccount": "Brand A",
        "content_type": "text", "phone": "+5511987654321", "status": "received",
        "created_at": "2026-11-21T01:00:00-03:00",
    },
    {
        "message_id": "e", "channel": "sms", "direction": "MT", "subaccount": "Brand B",
        "user": "bruno", "content_type": "text", "phone": "+5491187654321",
        "status": "delivered", "created_at": "2026-11-20T12:00:00Z",
        "sent_at": "2026-11-20T12:00:02Z", "delivered_at": "2026-11-20T12:00:07Z",
    },
]  # fmt: skip

NOV_20, NOV_21 = date(2026, 11, 20), date(2026, 11, 21)


def test_a_load_counts_each_day_and_field(engine, load_rows):
    load_rows(engine, FIXTURE)
    assert readable(engine) == [
        (NOV_20, "sms", "MT", "Brand B", "bruno", None, "delivered", None, 1, 1, 1, 0),
        (NOV_20, "whatsapp", "MT", "Brand A", "ana", "Black Friday", "delivered", None, 1, 1, 1, 0),
        (NOV_20, "whatsapp", "MT", "Brand A", "ana", "Black Friday", "error", "131047", 1, 0, 0, 0),
        (NOV_20, "whatsapp", "MT", "Brand A", "ana", "Black Friday", "read", None, 1, 1, 1, 1),
        (NOV_21, "whatsapp", "MO", "Brand A", None, None, "received", None, 1, 0, 0, 0),
    ]
    assert_rollup_matches(engine)


def test_a_code_keeps_a_row_per_description_and_a_leaving_message_takes_its_own(engine, load_rows):
    failed = [
        mt("y", "2026-11-20T12:00:00-03:00", "error", error_code="131047",
           error_description="Alpha"),
        mt("z", "2026-11-20T13:00:00-03:00", "error", error_code="131047",
           error_description="Beta"),
    ]  # fmt: skip
    load_rows(engine, failed)
    described = (
        select(r.error_description, r.message_count)
        .where(r.error_code == "131047")
        .order_by(r.error_description)
    )
    with engine.connect() as conn:
        assert conn.execute(described).all() == [("Alpha", 1), ("Beta", 1)]
    assert _top_errors(engine) == [("131047", "Alpha", 2)]
    # y delivered after all: its description's row goes, the code shows the other one.
    load_rows(
        engine, [{**failed[0], "status": "delivered", "error_code": "", "error_description": ""}]
    )
    with engine.connect() as conn:
        assert conn.execute(described).all() == [("Beta", 1)]
    assert _top_errors(engine) == [("131047", "Beta", 1)]
    assert_rollup_matches(engine)


def _top_errors(engine) -> list[tuple]:
    """The consolidated view's error reasons over the fixture's days, in every subaccount."""
    with engine.connect() as conn:
        everywhere = AccessScope.of(conn.execute(select(subaccounts.c.id)).scalars())
    days = ReportFilter(channel="whatsapp", start=NOV_20, end=NOV_21, timezone=TIMEZONE)
    frame = reports.top_errors(engine, everywhere, days)
    return [tuple(row) for row in frame[["error_code", "error_description", "count"]].values]


def _days_in_stored_order(engine) -> list[date]:
    with engine.connect() as conn:
        return (
            conn.execute(text("SELECT created_day FROM daily_rollup ORDER BY rowid"))
            .scalars()
            .all()
        )


def test_writes_keep_the_rollup_in_day_order(duckdb_engine, tmp_path):
    engine = duckdb_engine
    # A file of many days in no order, merged a few messages at a time: its parts follow the
    # days, and each part's new rows go in by day.
    shuffled = [FIXTURE[3], FIXTURE[4], FIXTURE[0], FIXTURE[2], FIXTURE[1]]
    load_files(engine, [write_csv(tmp_path / "days.csv", shuffled)], TIMEZONE, chunk_rows=2)
    assert _days_in_stored_order(engine) == [NOV_20] * 4 + [NOV_21]
    # A count of every message (a new time zone) writes it again in day order.
    ensure_timezone(engine, "Asia/Kolkata")
    days = _days_in_stored_order(engine)
    assert days == sorted(days) and days[-1] == NOV_21
    assert_rollup_matches(engine)


def test_an_update_recounts_the_stored_day_not_the_one_in_the_file(engine, load_rows):
    load_rows(engine, FIXTURE)
    # The update names another day; the stored message keeps its own (merge rules), and so
    # must the roll-up: the 20th now has two read messages and no delivered one.
    load_rows(
        engine,
        [mt("a", "2026-11-22T09:00:00-03:00", "read", read_at="2026-11-20T12:00:00-03:00")],
    )
    assert readable(engine)[1:4] == [
        (NOV_20, "whatsapp", "MT", "Brand A", "ana", "Black Friday", "error", "131047", 1, 0, 0, 0),
        (NOV_20, "whatsapp", "MT", "Brand A", "ana", "Black Friday", "read", None, 2, 2, 2, 2),
        (NOV_21, "whatsapp", "MO", "Brand A", None, None, "received", None, 1, 0, 0, 0),
    ]
    assert_rollup_matches(engine)
    # A status that cannot move the message back (error after delivered) keeps it delivered,
    # and a delivered message has no current error: the code stays in its events only.
    load_rows(engine, [{**FIXTURE[4], "status": "error", "error_code": "UNDELIV"}])
    assert readable(engine)[0] == (
        NOV_20, "sms", "MT", "Brand B", "bruno", None, "delivered", None, 1, 1, 1, 0
    )  # fmt: skip
    assert_rollup_matches(engine)


def test_events_written_by_ingestion_are_counted(engine, load_rows):
    load_rows(engine, FIXTURE)
    row = {**FIXTURE[2], "status": "delivered", "error_code": "", "error_description": ""}
    row["delivered_at"] = "2026-11-21T00:10:00-03:00"
    scope = WriteScope.account("test")
    merged, problems = write(engine, lambda tx: merge_rows(tx, [row], TIMEZONE, scope, "whatsapp"))
    assert (merged, problems) == (1, {})
    statuses = [(day, status, code, n) for day, *_, status, code, n, _s, _d, _r in readable(engine)]
    assert statuses == [
        (NOV_20, "delivered", None, 1),  # e (sms)
        (NOV_20, "delivered", None, 2),  # a, and c: delivered now, its failure in its events
        (NOV_20, "read", None, 1),  # b
        (NOV_21, "received", None, 1),  # d
    ]
    assert_rollup_matches(engine)


def as_stored(conn, table: str) -> list[tuple]:
    """A kept table's rows as stored, in counts_by_key's columns (a key may have several)."""
    kept = counts_by_key(table).selected_columns
    stored = {"daily_rollup": daily_rollup, "delivery_time_rollup": delivery_time_rollup}[table]
    query = select(*(stored.c[column.name] for column in kept))
    return sorted((tuple(row) for row in conn.execute(query)), key=repr)


# c's error delivered after all, then read (FIXTURE[2]).
C_DELIVERED = {
    **FIXTURE[2],
    "status": "delivered",
    "error_code": "",
    "error_description": "",
    "delivered_at": "2026-11-21T00:10:00-03:00",
}
C_READ = {**C_DELIVERED, "status": "read", "read_at": "2026-11-21T00:20:00-03:00"}


def c_delivered_then_read(engine, scope: WriteScope) -> None:
    """c's two changes, a small write each: each appends its differences."""
    for row in (C_DELIVERED, C_READ):
        write(engine, lambda tx, row=row: merge_rows(tx, [row], TIMEZONE, scope, "whatsapp"))


def test_writes_append_counts_and_folds_leave_one_row_a_key(engine, load_rows, monkeypatch):
    load_rows(engine, FIXTURE)
    with engine.connect() as conn:
        assert len(as_stored(conn, "daily_rollup")) == 5
    scope = WriteScope.account("test")
    c_delivered_then_read(engine, scope)
    status, count = KEY_COLUMNS.index("status"), len(KEY_COLUMNS)
    with engine.connect() as conn:
        stored = as_stored(conn, "daily_rollup")
    # The load's 5 rows, then two each write: the key a message left takes -1, its new one +1.
    assert len(stored) == 9
    assert sorted(row[count] for row in stored if row[status] == "error") == [-1, 1]
    assert sorted(row[count] for row in stored if row[status] == "delivered") == [-1, 1, 1, 1]
    expected = assert_rollup_matches(engine)
    assert len(expected) == 4
    # The error's rows sum to zero: no report shows it.
    assert _top_errors(engine) == []
    with engine.connect() as conn:
        everywhere = AccessScope.of(conn.execute(select(subaccounts.c.id)).scalars())
    options = reports.filter_options(engine, everywhere, "whatsapp", TIMEZONE)
    assert sorted(options["statuses"]) == ["delivered", "read", "received"]
    days = ReportFilter(channel="whatsapp", start=NOV_20, end=NOV_21, timezone=TIMEZONE)
    campaign = reports.breakdowns(engine, everywhere, days, ("campaigns",))["campaigns"]
    assert campaign[["total", "errors", "top_error_code"]].values.tolist() == [[3, 0, None]]
    # A load folds the days it and earlier writes appended to before it ends.
    load_rows(engine, [{**FIXTURE[0], "message_id": "f"}])
    with engine.connect() as conn:
        assert as_stored(conn, "daily_rollup") == stored_rollup(conn)
        assert as_stored(conn, "delivery_time_rollup") == stored_times(conn)
        assert len(stored_rollup(conn)) == 4
    # Past FOLD_AFTER_ROWS appended rows, the write that passes it folds the days appended to.
    monkeypatch.setattr(rollup, "FOLD_AFTER_ROWS", 2)
    write(engine, lambda tx: merge_rows(tx, [{**FIXTURE[0], "message_id": "g"}],
                                        TIMEZONE, scope, "whatsapp"))  # fmt: skip
    with engine.connect() as conn:
        # One row appended to a's delivered key: not folded yet.
        assert (len(as_stored(conn, "daily_rollup")), len(stored_rollup(conn))) == (5, 4)
    write(engine, lambda tx: merge_rows(tx, [{**C_READ, "message_id": "h"}],
                                        TIMEZONE, scope, "whatsapp"))  # fmt: skip
    with engine.connect() as conn:
        assert as_stored(conn, "daily_rollup") == stored_rollup(conn)
        assert as_stored(conn, "delivery_time_rollup") == stored_times(conn)
        assert len(stored_rollup(conn)) == 4
    assert_rollup_matches(engine)


def test_a_big_delta_replaces_its_keys_rows_with_their_sums(duckdb_engine, load_rows, monkeypatch):
    """On DuckDB (PostgreSQL appends every delta: rollup.APPEND_ROWS_MAX)."""
    engine = duckdb_engine
    load_rows(engine, FIXTURE)
    scope = WriteScope.account("test")
    # c's keys get rows of +1 and -1.
    c_delivered_then_read(engine, scope)
    with engine.connect() as conn:
        before = as_stored(conn, "daily_rollup")
    # A delta past APPEND_ROWS_MAX (here any) is summed with its keys' rows instead.
    monkeypatch.setattr(rollup, "APPEND_ROWS_MAX", 0)
    i = {**C_DELIVERED, "message_id": "i"}
    write(engine, lambda tx: merge_rows(tx, [i], TIMEZONE, scope, "whatsapp"))
    count = len(KEY_COLUMNS)
    m = messages.c
    with engine.connect() as conn:
        after = as_stored(conn, "daily_rollup")
        key = tuple(
            conn.execute(select(*(m[k] for k in KEY_COLUMNS)).where(m.message_id == "i")).one()
        )
        with_key = conn.execute(
            select(func.count()).where(
                *(m[k].is_not_distinct_from(v) for k, v in zip(KEY_COLUMNS, key, strict=True))
            )
        ).scalar_one()
    mine = [row for row in after if row[:count] == key]
    # i's key (a's) had three rows: the load's, and c's +1 and -1 on its way through it. Now
    # one, counting its messages, a and i.
    assert len([row for row in before if row[:count] == key]) == 3
    assert len(mine) == 1 and mine[0][count] == with_key == 2
    # The other keys' rows are as they were: appended ones too, left to their fold.
    assert [row for row in after if row[:count] != key] == [
        row for row in before if row[:count] != key
    ]
    assert len(before) == 9
    assert_rollup_matches(engine)


def test_a_new_time_zone_moves_messages_between_days(engine, load_rows):
    load_rows(engine, FIXTURE)
    # In Kolkata (UTC+5:30) c (02:30 UTC on the 21st) is on the 21st with d.
    ensure_timezone(engine, "Asia/Kolkata")
    days = {(row[0], row[6]): row[8] for row in readable(engine)}
    assert days[(NOV_21, "error")] == 1
    assert days[(NOV_21, "received")] == 1
    assert (NOV_20, "error") not in days
    assert_rollup_matches(engine)


def test_a_version_1_store_is_upgraded_at_start(store_settings, load_rows):
    engine = make_engine(store_settings.database_url)
    try:
        create_schema(engine, TIMEZONE)
        load_rows(engine, FIXTURE)
        expected = assert_rollup_matches(engine)
        # What a store written before the roll-up and phone tails looks like once a start of
        # the hand-written upgrade (before the Alembic revisions) stopped after create_all: the
        # new column and table there, empty. tests/test_migrations.py has the other shapes.
        with engine.begin() as conn:
            conn.execute(delete(daily_rollup))
            conn.execute(update(contacts).values(phone_tail=None))
            # The tails were text then (revision 0014 made them numbers).
            conn.execute(text("ALTER TABLE contacts ALTER COLUMN phone_tail TYPE VARCHAR(6)"))
            conn.execute(
                update(store_meta).where(store_meta.c.key == "schema_version").values(value="1")
            )
            conn.execute(text("DROP TABLE alembic_version"))
        create_schema(engine, TIMEZONE)
        assert assert_rollup_matches(engine) == expected
        with engine.connect() as conn:
            assert read_meta(conn, "schema_version") == SCHEMA_VERSION == "5"
            tails = conn.execute(select(contacts.c.phone, contacts.c.phone_tail)).all()
        assert sorted(tails) == [("5491187654321", 654321), ("5511987654321", 654321)]
    finally:
        engine.dispose()


def test_counts_from_the_rollup_equal_counts_from_the_messages(engine, load_rows):
    # The detailed count reads the roll-up without a phone and the messages with one; both
    # numbers of the same messages must agree.
    today = today_in(TIMEZONE)
    stamp = f"{today - timedelta(days=1)}T12:00:00-03:00"
    rows = [
        mt(f"m{n}", stamp, ("sent", "delivered", "error")[n % 3], phone=f"+55119876543{n % 2}0")
        for n in range(9)
    ]
    load_rows(engine, rows)
    scope = AccessScope.of([1, 2])
    everyone = ReportFilter.build("whatsapp", timezone=TIMEZONE)
    by_phone = ReportFilter.build("whatsapp", phone="+5511987654300", timezone=TIMEZONE)
    errors = ReportFilter.build("whatsapp", statuses=["error"], timezone=TIMEZONE)
    with engine.connect() as conn:
        assert reports.detailed_count(conn, scope, everyone) == 9
        assert reports.detailed_count(conn, scope, by_phone) == 5  # m0, m2, m4, m6, m8
        assert reports.detailed_count(conn, scope, errors) == 3
        daily = reports.daily_series(conn, scope, by_phone)
    assert int(daily["total"].sum()) == 5
    assert int(daily["errors"].sum()) == 2  # m2 and m8


# ---- property: any sequence of loads keeps the roll-up exact (DuckDB, one store) ----

SUBACCOUNTS = ("Sub A", "Sub B")
IDS = [f"p{n}" for n in range(12)]


@pytest.fixture(scope="module")
def module_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rollup")
    engine = make_engine(f"duckdb:///{folder / 'reports.duckdb'}")
    create_schema(engine, TIMEZONE)
    yield engine, folder
    engine.dispose()


@st.composite
def loader_row(draw) -> dict:
    channel = draw(st.sampled_from(("whatsapp", "sms")))
    direction = draw(st.sampled_from(("MT", "MO")))
    if direction == "MO":
        status = "received"
    else:
        status = draw(st.sampled_from(("queued", "sent", "delivered", "error", "cancelled")))
    day = draw(st.integers(min_value=1, max_value=4))
    hour = draw(st.integers(min_value=0, max_value=23))
    row = {
        "message_id": draw(st.sampled_from(IDS)),
        "channel": channel,
        "direction": direction,
        "subaccount": draw(st.sampled_from(SUBACCOUNTS)),
        "user": draw(st.sampled_from(("", "ana", "bruno"))) if direction == "MT" else "",
        "campaign": draw(st.sampled_from(("", "Spring"))),
        "content_type": "text",
        "phone": draw(st.sampled_from(("+5511987654321", "+573001112233"))),
        "status": status,
        "created_at": f"2026-11-0{day}T{hour:02d}:30:00Z",
    }
    if status in ("sent", "delivered"):
        row["sent_at"] = f"2026-11-0{day}T{hour:02d}:31:00Z"
    if status == "delivered":
        row["delivered_at"] = f"2026-11-0{day}T{hour:02d}:32:00Z"
    if status == "error":
        code = draw(st.sampled_from(("131026", "368")))
        row.update(error_code=code, error_description=f"reason {code}")
    return row


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    loads=st.lists(
        st.tuples(st.lists(loader_row(), min_size=1, max_size=8), st.booleans()),
        min_size=1,
        max_size=4,
    )
)
def test_any_sequence_of_loads_keeps_the_rollup_exact(module_store, loads):
    """Each load's counts appended or, as a big delta's, summed with their keys' rows."""
    engine, folder = module_store
    with engine.begin() as conn:
        conn.execute(delete(messages))
        conn.execute(delete(daily_rollup))
        conn.execute(delete(delivery_time_rollup))
    for number, (rows, summed) in enumerate(loads):
        path = write_csv(folder / f"load-{number}.csv", rows)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(rollup, "APPEND_ROWS_MAX", 0 if summed else rollup.APPEND_ROWS_MAX)
            load_files(engine, [path], TIMEZONE, skip_invalid=True)
        assert_rollup_matches(engine)
