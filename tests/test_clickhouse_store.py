"""The ClickHouse store on (a) a real two-shard cluster of Debian's clickhouse-server 18.16 on
loopback (servertools.clickhouse) and (b) the modern engine embedded (chdb): the merge by
aggregate states, the engine's roll-up, and every report answered as the DuckDB store answers
the same rows (tests/test_reports.py's hand-built fixture, whose figures are worked out there)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

import pandas as pd
import pytest

from data_access import reports
from data_access.clickhouse import reports as ch_reports
from data_access.clickhouse.client import ClickHouseUrlError, literal, parse_url
from data_access.clickhouse.retention import purge_days_before
from data_access.clickhouse.store import ClickHouseStore, ingest
from data_access.filters import AccessScope, ReportFilter
from data_access.loader import LOADER_COLUMNS, validate_chunk
from data_access.tables import campaigns, subaccounts, users
from data_access.writes import WriteScope
from servertools.clickhouse import ClickHouseCluster
from tests.conftest import TIMEZONE
from tests.test_reports import (
    BF,
    D0,
    D1,
    D2,
    D3,
    D4,
    HIDDEN,
    ROWS,
    TODAY,
    A,
    B,
    counts,
)

_databases = itertools.count(1)


@pytest.fixture(scope="module")
def clickhouse_cluster():
    cluster = ClickHouseCluster(nodes=2)
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["cluster-18.16", "chdb"])
def new_store(request, tmp_path_factory):
    """new_store() opens a ClickHouse store on an empty database of the engine under test."""
    opened: list[ClickHouseStore] = []
    if request.param == "chdb":
        folder = tmp_path_factory.mktemp("chdb")

    def make() -> ClickHouseStore:
        database = f"reports_{next(_databases)}"
        if request.param == "chdb":
            url = f"chdb:///{folder}?database={database}"
        else:
            url = request.getfixturevalue("clickhouse_cluster").url(database)
        store = ClickHouseStore(url)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def staged(rows: list[dict]) -> pd.DataFrame:
    """Rows as the loader validates them (every writer hands the merge such a frame)."""
    raw = pd.DataFrame([{c: str(row.get(c, "")) for c in LOADER_COLUMNS} for row in rows])
    frame, problems = validate_chunk(raw, 2, "rows.csv", TIMEZONE)
    assert problems == []
    return frame


@pytest.fixture
def loaded(new_store):
    store = new_store()
    result = ingest(store, staged(ROWS), WriteScope.account("test"))
    assert (result.records, result.refused) == (len(ROWS), [])
    return store


def ch_scope(store, *names) -> AccessScope:
    return AccessScope.of(ch_reports.name_ids(store, list(names)).values())


def build(channel="whatsapp", **kwargs) -> ReportFilter:
    return ReportFilter.build(channel, D0, D4, timezone=TIMEZONE, today=TODAY, **kwargs)


# --------------------------------------------------------------------------- the store itself


def test_urls_name_a_server_cluster_or_an_embedded_folder():
    server = parse_url("clickhouse://10.0.0.5:9001/big?cluster=eu")
    assert (server.kind, server.host, server.port, server.database, server.cluster) == (
        "clickhouse",
        "10.0.0.5",
        9001,
        "big",
        "eu",
    )
    embedded = parse_url("chdb:///srv/reports-ch")
    assert (embedded.kind, embedded.path, embedded.database, embedded.cluster) == (
        "chdb",
        "/srv/reports-ch",
        "reports",
        None,
    )
    with pytest.raises(ClickHouseUrlError, match="not a plain name"):
        parse_url("clickhouse://h/db;drop?cluster=x")


def test_literals_quote_what_a_value_could_break():
    assert literal("it's \\ \n") == "'it\\'s \\\\ \\n'"
    assert literal(("a",)) == "('a')"
    assert literal(["a", None]) == "['a', NULL]"


def test_schema_is_created_again_without_harm_and_rows_spread_over_the_shards(loaded):
    ClickHouseStore(loaded.url).close()  # the second open finds every table made
    messages = loaded.query("SELECT uniqExact(message_id) FROM " + loaded.table("messages"))
    assert messages == [(len(ROWS),)]
    if loaded.cluster:
        per_node = [
            node.query(f"SELECT uniqExact(message_id) FROM {node.database}.messages_local")[0][0]
            for node in loaded.client.node_clients()
        ]
        assert len(per_node) == 2 and all(n > 0 for n in per_node)
        assert sum(per_node) == len(ROWS)
        assert loaded.client.flavor.version == 18
    else:
        assert loaded.client.flavor.version >= 25


# --------------------------------------------------------------------------- exact figures


def test_daily_series_whatsapp_exact(loaded):
    daily = ch_reports.daily_series(loaded, ch_scope(loaded, A, B), build())
    assert list(daily.columns) == list(reports.DAILY_COLUMNS)
    assert counts(daily) == [
        [D0, 0, 0, 0, 0, 0, 0],
        [D1, 2, 2, 2, 2, 0, 0],
        [D2, 3, 2, 1, 0, 2, 1],
        [D3, 4, 1, 0, 0, 1, 1],
        [D4, 0, 0, 0, 0, 0, 0],
    ]


def test_daily_series_sms_exact(loaded):
    daily = ch_reports.daily_series(loaded, ch_scope(loaded, A, B), build("sms"))
    assert counts(daily) == [
        [D0, 0, 0, 0, None, 0, 0],
        [D1, 1, 1, 1, None, 0, 0],
        [D2, 2, 2, 0, None, 2, 0],
        [D3, 3, 1, 0, None, 1, 1],
        [D4, 0, 0, 0, None, 0, 0],
    ]


def test_top_errors_exact(loaded):
    top = ch_reports.top_errors(loaded, ch_scope(loaded, A, B), build("sms"))
    assert top[["error_code", "error_description", "count"]].values.tolist() == [
        ["UNDELIV", "Undeliverable", 2],
        ["EXPIRED", "Expired", 1],
    ]


def test_phone_search_by_trailing_digits_exact(loaded):
    page = ch_reports.detailed_page(
        loaded, ch_scope(loaded, A, B, HIDDEN), build(phone="11987654321")
    )
    assert page.total == 7
    assert page.rows["message_id"].tolist() == [
        "hid-02",
        "hid-04",
        "hid-01",
        "wa-03",
        "wa-09",
        "wa-01",
        "wa-11",
    ]


def test_the_roll_up_equals_the_counts_of_the_messages(loaded):
    scope = ch_scope(loaded, A, B, HIDDEN)
    for channel in ("whatsapp", "sms"):
        rolled = ch_reports.daily_series(loaded, scope, build(channel))
        # Naming every status sends the same question to the messages instead of the roll-up.
        every = ["scheduled", "queued", "sent", "delivered", "error", "cancelled", "received"]
        if channel == "whatsapp":
            every.append("read")
        counted = ch_reports.daily_series(loaded, scope, build(channel, statuses=every))
        pd.testing.assert_frame_equal(rolled, counted)


# --------------------------------------------------------------------------- same as DuckDB


def _duckdb_ids(engine) -> dict[str, int]:
    from sqlalchemy import select

    with engine.connect() as conn:
        return {
            **dict(conn.execute(select(subaccounts.c.name, subaccounts.c.id)).all()),
            **dict(conn.execute(select(users.c.username, users.c.id)).all()),
            **dict(conn.execute(select(campaigns.c.name, campaigns.c.id)).all()),
        }


# Each: channel and filter fields, with names where the filter takes ids.
FILTERS = [
    ("whatsapp", {}),
    ("sms", {}),
    ("whatsapp", {"direction": "MT"}),
    ("whatsapp", {"statuses": ["error", "read"]}),
    ("sms", {"statuses": ["sent", "queued"]}),
    ("whatsapp", {"users": ["ana"]}),
    ("whatsapp", {"campaigns": [BF]}),
    ("whatsapp", {"subaccounts": [B]}),
    ("whatsapp", {"content_types": ["template", "image"]}),
    ("whatsapp", {"phone": "+55 (11) 98765-4321"}),
    ("sms", {"phone": "12345678"}),
    ("whatsapp", {"message_id": "wa-03"}),
    ("whatsapp", {"correlation_id": "bf-0001"}),
]


def _with_ids(fields: dict, ids: dict[str, int]) -> dict:
    return {
        key: [ids[v] for v in value] if key in ("users", "campaigns", "subaccounts") else value
        for key, value in fields.items()
    }


def _plain(frame: pd.DataFrame) -> list[list]:
    return frame.astype(object).where(frame.notna(), None).values.tolist()


def test_every_report_answers_as_the_duckdb_store(loaded, duckdb_engine, load_rows):
    assert load_rows(duckdb_engine, ROWS).rows_loaded == len(ROWS)
    duck_ids = _duckdb_ids(duckdb_engine)
    names = [A, B, HIDDEN, "ana", "bruno", "carla", "dora", BF, "Welcome", "Secret"]
    ch_ids = ch_reports.name_ids(loaded, names)
    visible = (A, B)
    duck_scope = AccessScope.of(duck_ids[n] for n in visible)
    ch_scope_ = AccessScope.of(ch_ids[n] for n in visible)
    for channel, fields in FILTERS:
        duck_flt = build(channel, **_with_ids(fields, duck_ids))
        ch_flt = build(channel, **_with_ids(fields, ch_ids))
        where = f"{channel} {fields}"
        pd.testing.assert_frame_equal(
            ch_reports.daily_series(loaded, ch_scope_, ch_flt),
            reports.daily_series(duckdb_engine, duck_scope, duck_flt),
            obj=where,
        )
        assert _plain(ch_reports.top_errors(loaded, ch_scope_, ch_flt)) == _plain(
            reports.top_errors(duckdb_engine, duck_scope, duck_flt)
        ), where
        # Every order on the first filter; the others in the default order.
        sorts = list(ch_reports._SORTS) if not fields and channel == "whatsapp" else ["created_at"]
        for sort in sorts:
            for descending in (True, False):
                ours = ch_reports.detailed_page(
                    loaded, ch_scope_, ch_flt, sort=sort, descending=descending, limit=4
                )
                theirs = reports.detailed_page(
                    duckdb_engine, duck_scope, duck_flt, sort=sort, descending=descending, limit=4
                )
                assert ours.total == theirs.total, where
                assert _plain(ours.rows) == _plain(theirs.rows), (where, sort, descending)
        second = ch_reports.detailed_rows(loaded, ch_scope_, ch_flt, offset=4, limit=4)
        assert _plain(second) == _plain(
            reports.detailed_rows(duckdb_engine, duck_scope, duck_flt, offset=4, limit=4)
        ), where


# --------------------------------------------------------------------------- the merge


def _message(store, message_id: str) -> dict:
    flt = build(message_id=message_id)
    rows = ch_reports.detailed_rows(store, ch_scope(store, A), flt)
    assert len(rows) == 1
    row = rows.astype(object).where(rows.notna(), None).iloc[0].to_dict()
    for name in ("created_at", "sent_at", "delivered_at", "read_at"):
        if row[name] is not None:
            row[name] = row[name].strftime("%H:%M")
    return row


RECORDS = [
    {"status": "sent", "sent_at": f"{D2}T10:05:00-03:00"},
    {"status": "error", "error_code": "131026", "error_description": "Message undeliverable"},
    {"status": "delivered", "delivered_at": f"{D2}T10:09:00-03:00", "contact_name": "Ana"},
    {"status": "sent", "sent_at": f"{D2}T10:01:00-03:00", "contact_name": "Other"},
    {"status": "cancelled"},
    {"status": "queued", "correlation_id": "c-9"},
]


def _record(fields: dict) -> dict:
    base = {
        "message_id": "wa-m",
        "channel": "whatsapp",
        "direction": "MT",
        "subaccount": A,
        "content_type": "text",
        "phone": "+5511955554444",
        "created_at": f"{D2}T10:00:00-03:00",
    }
    return {**base, **fields}


@pytest.mark.parametrize("order", ["as written", "reversed"])
def test_statuses_only_move_forward_in_any_arrival_order(new_store, order):
    store = new_store()
    records = RECORDS if order == "as written" else RECORDS[::-1]
    for fields in records:  # one write each: every record arrives on its own
        ingest(store, staged([_record(fields)]), WriteScope.account("test"))
    message = _message(store, "wa-m")
    assert message["status"] == "delivered"
    # The error describes the current status: a delivered message shows none.
    assert (message["error_code"], message["error_description"]) == (None, None)
    assert (message["sent_at"], message["delivered_at"], message["read_at"]) == (
        "10:01",
        "10:09",
        None,
    )
    assert message["correlation_id"] == "c-9"
    # An empty field is filled by the first record that has it, never overwritten.
    assert message["contact_name"] == ("Ana" if order == "as written" else "Other")
    daily = counts(ch_reports.daily_series(store, ch_scope(store, A), build()))
    assert daily[2] == [D2, 1, 1, 1, 0, 0, 0]


def test_the_error_stays_while_no_later_status_came(new_store):
    store = new_store()
    for fields in RECORDS[:2] + RECORDS[4:]:
        ingest(store, staged([_record(fields)]), WriteScope.account("test"))
    message = _message(store, "wa-m")
    assert (message["status"], message["error_code"]) == ("error", "131026")
    assert counts(ch_reports.daily_series(store, ch_scope(store, A), build()))[2] == [
        D2,
        1,
        1,
        0,
        0,
        1,
        0,
    ]


def test_loading_the_same_records_twice_changes_no_figure(loaded):
    scope = ch_scope(loaded, A, B)
    before = ch_reports.daily_series(loaded, scope, build())
    page = ch_reports.detailed_page(loaded, scope, build(), limit=50)
    version = loaded.data_version()
    ingest(loaded, staged(ROWS), WriteScope.account("test"))
    pd.testing.assert_frame_equal(ch_reports.daily_series(loaded, scope, build()), before)
    again = ch_reports.detailed_page(loaded, scope, build(), limit=50)
    assert (again.total, _plain(again.rows)) == (page.total, _plain(page.rows))
    # Without a read before the write the store cannot tell that nothing changed.
    assert loaded.data_version() == version + 1


def test_a_writer_outside_its_subaccount_stores_nothing(new_store):
    store = new_store()
    result = ingest(
        store,
        staged(
            [_record({"status": "sent"}), _record({"status": "sent", "message_id": "b-1"})]
        ).assign(subaccount=[A, B]),
        WriteScope.subaccount("API key 3f9a", A),
    )
    assert result.records == 0
    assert [(r.row, r.field, r.reason) for r in result.refused] == [
        (1, "subaccount", "API key 3f9a may not write subaccount 'Brand B'")
    ]
    assert store.query("SELECT count() FROM " + store.table("messages")) == [(0,)]
    assert store.data_version() == 0


# --------------------------------------------------------------------------- retention


def test_retention_deletes_old_days_and_keeps_their_daily_figures(loaded):
    # Two messages in an older month, so a whole month partition goes too.
    old_day = D0 - timedelta(days=40)
    old = [
        _record(
            {
                "message_id": f"old-{n}",
                "status": "sent",
                "sent_at": "",
                "created_at": f"{old_day}T09:0{n}:00-03:00",
            }
        )  # fmt: skip
        for n in (1, 2)
    ]
    ingest(loaded, staged(old), WriteScope.account("test"))
    scope = ch_scope(loaded, A, B, HIDDEN)
    every_day = ReportFilter.build("whatsapp", old_day, D4, timezone=TIMEZONE, today=TODAY)
    figures = {
        channel: ch_reports.daily_series(loaded, scope, replace(every_day, channel=channel))
        for channel in ("whatsapp", "sms")
    }
    messages = "SELECT uniqExact(message_id) FROM " + loaded.table("messages")
    [(before_cut,)] = loaded.query(messages + " WHERE created_day < %(d)s", {"d": D3})
    [(kept,)] = loaded.query(messages + " WHERE created_day >= %(d)s", {"d": D3})
    version = loaded.data_version()

    # D0, D1 and D2 go (rows of the current month, deleted) and the older month (dropped).
    # By hand: 12 of ROWS before D3 (wa-01 falls on D1 in the account's zone), and the 2 old.
    assert purge_days_before(loaded, D3) == before_cut == 12 + 2
    assert loaded.query(messages + " WHERE created_day < %(d)s", {"d": D3}) == [(0,)]
    assert loaded.query(messages + " WHERE created_day >= %(d)s", {"d": D3}) == [(kept,)]
    phones = "SELECT count() FROM " + loaded.table("phones") + " WHERE created_day < %(d)s"
    assert loaded.query(phones, {"d": D3}) == [(0,)]
    old_month = old_day.year * 100 + old_day.month
    for node in loaded.nodes():
        parts = node.query(
            "SELECT DISTINCT partition FROM system.parts WHERE database = %(db)s "
            "AND table = 'messages_local' AND active",
            {"db": node.database},
        )
        assert str(old_month) not in {str(p).strip("'") for (p,) in parts}
    for channel, frame in figures.items():
        pd.testing.assert_frame_equal(
            ch_reports.daily_series(loaded, scope, replace(every_day, channel=channel)), frame
        )
    assert counts(figures["whatsapp"])[0][1:] == [2, 0, 0, 0, 0, 0]
    assert loaded.data_version() == version + 1
    # Nothing older is left: a second run finds nothing and changes nothing.
    assert purge_days_before(loaded, D3) == 0
    assert loaded.data_version() == version + 1
