"""Report queries on a hand-built fixture, with every expected number worked out by hand.

The fixture sits 9 to 13 days before today in America/Sao_Paulo (UTC-3 all year), so the
filter-options window, which counts back from the real today, covers it:

    d0 .. d4   the report range; d0 and d4 hold no in-scope message
    d1 23:30   wa-01 (written as d2 02:30Z) and sms-01 fall on d1, not on their UTC day d2
    d2 00:30   wa-02 and sms-02 (written as d2 03:30Z) fall on d2
    d3 23:30   wa-10 (written as d4 02:30Z) falls on d3

"Hidden Co" is outside the viewer's scope; its rows share a phone, a user and a campaign with
visible rows and bring a user, campaign, content type and error codes of their own.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from data_access import reports
from data_access.filters import AccessScope, ReportFilter, today_in
from data_access.tables import campaigns, subaccounts, users
from tests.conftest import TIMEZONE

TODAY = today_in(TIMEZONE)
D0, D1, D2, D3, D4 = (TODAY - timedelta(days=n) for n in (13, 12, 11, 10, 9))

P1 = "+5511987654321"  # Brazil; the phone with several messages, visible and hidden
P2 = "5491123456789"  # Argentina, written as bare digits
P3 = "+525512345678"  # Mexico
P4 = "+5511911112222"  # Brazil
P5 = "+5730012345678"  # Colombia, only in the hidden subaccount; ends like P3 (12345678)


def local(day: date, hhmm: str) -> str:
    return f"{day.isoformat()}T{hhmm}:00-03:00"


def utc(day: date, hhmm: str) -> str:
    return f"{day.isoformat()}T{hhmm}:00Z"


def mt(message_id, subaccount, user, campaign, content_type, phone, status, created, **more):
    return {
        "message_id": message_id,
        "channel": "sms" if message_id.startswith("sms") else "whatsapp",
        "direction": "MT",
        "subaccount": subaccount,
        "user": user,
        "campaign": campaign,
        "content_type": content_type,
        "phone": phone,
        "status": status,
        "created_at": created,
        **more,
    }


def mo(message_id, subaccount, phone, created):
    return {
        "message_id": message_id,
        "channel": "sms" if message_id.startswith("sms") else "whatsapp",
        "direction": "MO",
        "subaccount": subaccount,
        "content_type": "text",
        "phone": phone,
        "status": "received",
        "created_at": created,
        "content": "Hola, ¿mi pedido?",
    }


def undeliverable(code: str, description: str) -> dict:
    return {"error_code": code, "error_description": description}


A, B, HIDDEN = "Brand A", "Brand B", "Hidden Co"
BF, WELCOME, SECRET = "Black Friday", "Welcome", "Secret"

ROWS = [
    # WhatsApp, in scope
    mt(
        "wa-01", A, "ana", BF, "template", P1, "read", utc(D2, "02:30"),
        read_at=utc(D2, "03:00"), contact_name="Maria Souza", content="Olá! Oferta 🎉",
        correlation_id="bf-0001",
    ),
    mt(
        "wa-02", A, "ana", BF, "template", P2, "delivered", local(D2, "00:30"),
        sent_at=local(D2, "00:30"), delivered_at=local(D2, "00:31"),
    ),
    mt(
        "wa-03", A, "bruno", WELCOME, "image", P1, "error", local(D2, "10:00"),
        sent_at=local(D2, "10:00"), **undeliverable("131026", "Message undeliverable"),
    ),
    mt(
        "wa-04", B, "carla", "", "text", P3, "error", local(D2, "15:00"),
        **undeliverable("131047", "Re-engagement message"),
    ),
    mt(
        "wa-05", B, "carla", WELCOME, "template", P4, "error", local(D3, "09:00"),
        **undeliverable("131026", "Message undeliverable"),
    ),
    mt(
        "wa-06", A, "bruno", BF, "text", P2, "sent", local(D3, "12:00"),
        sent_at=local(D3, "12:00"),
    ),
    mt("wa-07", A, "ana", "", "template", P3, "scheduled", local(D3, "18:00")),
    mt("wa-08", B, "ana", BF, "template", P4, "cancelled", local(D3, "20:00")),
    mo("wa-09", A, P1, local(D2, "09:00")),
    mo("wa-10", B, P3, utc(D4, "02:30")),
    mt(
        "wa-11", B, "carla", WELCOME, "image", P1, "read", local(D1, "08:00"),
        sent_at=local(D1, "08:00"), delivered_at=local(D1, "08:01"), read_at=local(D1, "09:15"),
    ),
    # SMS, in scope
    mt(
        "sms-01", A, "ana", BF, "text", P1, "delivered", local(D1, "23:30"),
        sent_at=local(D1, "23:30"), delivered_at=local(D1, "23:32"),
    ),
    mt(
        "sms-02", A, "bruno", "", "text", P2, "error", utc(D2, "03:30"),
        sent_at=utc(D2, "03:30"), **undeliverable("UNDELIV", "Undeliverable"),
    ),
    mt(
        "sms-03", B, "carla", WELCOME, "text", P3, "error", local(D2, "13:00"),
        sent_at=local(D2, "13:00"), **undeliverable("EXPIRED", "Expired"),
    ),
    mt(
        "sms-04", B, "carla", WELCOME, "text", P4, "sent", local(D3, "10:00"),
        sent_at=local(D3, "10:00"),
    ),
    mo("sms-05", A, P1, local(D3, "11:00")),
    mt("sms-06", A, "ana", "", "text", P2, "queued", local(D3, "14:00")),
    mt(
        "sms-07", B, "ana", "", "text", P3, "error", local(D3, "09:00"),
        **undeliverable("UNDELIV", "Undeliverable"),
    ),
    # Outside the scope: must never be counted or returned
    mt(
        "hid-01", HIDDEN, "ana", BF, "template", P1, "error", local(D2, "11:00"),
        **undeliverable("368", "Temporarily blocked for policy violations"),
    ),
    mo("hid-02", HIDDEN, P1, local(D3, "10:00")),
    mt(
        "hid-03", HIDDEN, "dora", SECRET, "video", P5, "read", local(D1, "23:30"),
        read_at=local(D1, "23:40"),
    ),
    mt(
        "hid-04", HIDDEN, "dora", SECRET, "text", P1, "error", local(D2, "12:00"),
        **undeliverable("REJECTD", "Rejected"),
    ),
]  # fmt: skip

COUNTS = ["total", "sent", "delivered", "read", "errors", "received"]


@pytest.fixture
def store(engine, load_rows):
    """The fixture loaded, and the ids the loader gave each name."""
    report = load_rows(engine, ROWS)
    assert report.rows_loaded == len(ROWS)
    with engine.connect() as conn:
        ids = {
            **dict(conn.execute(select(subaccounts.c.name, subaccounts.c.id)).all()),
            **dict(conn.execute(select(users.c.username, users.c.id)).all()),
            **dict(conn.execute(select(campaigns.c.name, campaigns.c.id)).all()),
        }
    return engine, ids


def scope_of(ids: dict, *names: str) -> AccessScope:
    return AccessScope.of(ids[name] for name in names)


def flt(channel: str = "whatsapp", **kwargs) -> ReportFilter:
    return ReportFilter.build(channel, D0, D4, timezone=TIMEZONE, today=TODAY, **kwargs)


def counts(frame: pd.DataFrame) -> list[list]:
    return [
        [row["date"], *(None if pd.isna(row[c]) else int(row[c]) for c in COUNTS)]
        for _, row in frame.iterrows()
    ]


def percentages(frame: pd.DataFrame, column: str) -> list:
    return [None if pd.isna(v) else float(v) for v in frame[column]]


# --------------------------------------------------------------------------- daily and totals


def test_daily_series_whatsapp(store):
    engine, ids = store
    daily = reports.daily_series(engine, scope_of(ids, A, B), flt())
    assert list(daily.columns) == list(reports.DAILY_COLUMNS)
    # total, sent, delivered, read, errors, received
    assert counts(daily) == [
        [D0, 0, 0, 0, 0, 0, 0],
        [D1, 2, 2, 2, 2, 0, 0],  # wa-11 read, wa-01 read at 23:30 local
        [D2, 3, 2, 1, 0, 2, 1],  # wa-02 delivered, wa-03 error after sent, wa-04 error; wa-09 MO
        [D3, 4, 1, 0, 0, 1, 1],  # wa-05 error, wa-06 sent, wa-07 scheduled, wa-08 cancelled; wa-10
        [D4, 0, 0, 0, 0, 0, 0],
    ]
    assert percentages(daily, "delivered_pct") == pytest.approx([0.0, 100.0, 100 / 3, 0.0, 0.0])
    assert percentages(daily, "read_pct") == pytest.approx([0.0, 100.0, 0.0, 0.0, 0.0])
    assert percentages(daily, "error_pct") == pytest.approx([0.0, 0.0, 200 / 3, 25.0, 0.0])


def test_daily_series_sms_has_no_read_figures(store):
    engine, ids = store
    daily = reports.daily_series(engine, scope_of(ids, A, B), flt("sms"))
    assert counts(daily) == [
        [D0, 0, 0, 0, None, 0, 0],
        [D1, 1, 1, 1, None, 0, 0],  # sms-01 at 23:30 local
        [D2, 2, 2, 0, None, 2, 0],  # sms-02 (00:30 local) and sms-03, errors after sent
        [D3, 3, 1, 0, None, 1, 1],  # sms-04 sent, sms-06 queued, sms-07 error; sms-05 MO
        [D4, 0, 0, 0, None, 0, 0],
    ]
    assert percentages(daily, "read_pct") == [None] * 5
    assert percentages(daily, "delivered_pct") == pytest.approx([0.0, 100.0, 0.0, 0.0, 0.0])
    assert percentages(daily, "error_pct") == pytest.approx([0.0, 0.0, 100.0, 100 / 3, 0.0])


def test_range_totals(store):
    engine, ids = store
    scope = scope_of(ids, A, B)
    whatsapp = reports.range_totals(reports.daily_series(engine, scope, flt()), "whatsapp")
    assert whatsapp == {
        "total": 9,
        "sent": 5,
        "delivered": 3,
        "read": 2,
        "errors": 3,
        "received": 2,
        "delivered_pct": pytest.approx(100 / 3),
        "read_pct": pytest.approx(200 / 9),
        "error_pct": pytest.approx(100 / 3),
    }
    sms = reports.range_totals(reports.daily_series(engine, scope, flt("sms")), "sms")
    assert sms == {
        "total": 6,
        "sent": 4,
        "delivered": 1,
        "read": None,
        "errors": 3,
        "received": 1,
        "delivered_pct": pytest.approx(100 / 6),
        "read_pct": None,
        "error_pct": pytest.approx(50.0),
    }


def test_a_range_without_messages_is_zero_filled_without_division_by_zero(store):
    engine, ids = store
    empty = ReportFilter.build("whatsapp", D4, TODAY, timezone=TIMEZONE, today=TODAY)
    daily = reports.daily_series(engine, scope_of(ids, A, B), empty)
    assert list(daily["date"]) == [D4 + timedelta(days=n) for n in range(10)]
    assert daily[COUNTS].to_numpy().sum() == 0
    assert set(percentages(daily, "delivered_pct") + percentages(daily, "read_pct")) == {0.0}
    assert reports.range_totals(daily, "whatsapp") == {
        **dict.fromkeys(COUNTS, 0),
        "delivered_pct": 0.0,
        "read_pct": 0.0,
        "error_pct": 0.0,
    }


def test_empty_scope_sees_nothing(store):
    engine, ids = store
    nobody = AccessScope.of([])
    every = flt(subaccounts=[ids[A], ids[B], ids[HIDDEN]])
    assert reports.daily_series(engine, nobody, every)[COUNTS].to_numpy().sum() == 0
    assert reports.top_errors(engine, nobody, every).empty
    page = reports.detailed_page(engine, nobody, every)
    assert (page.total, len(page.rows)) == (0, 0)
    assert reports.filter_options(engine, nobody, "whatsapp", TIMEZONE) == {
        "subaccounts": [],
        "users": [],
        "campaigns": [],
        "content_types": [],
        "statuses": [],
        "countries": [],
    }


# --------------------------------------------------------------------------- top errors


def top(frame: pd.DataFrame) -> list[tuple]:
    return [
        (row.error_code, row.error_description, int(row.count), pytest.approx(row.share))
        for row in frame.itertuples()
    ]


def test_top_errors(store):
    engine, ids = store
    scope = scope_of(ids, A, B)
    whatsapp = reports.top_errors(engine, scope, flt())
    assert list(whatsapp.columns) == ["error_code", "error_description", "count", "share"]
    assert top(whatsapp) == [
        ("131026", "Message undeliverable", 2, 200 / 3),
        ("131047", "Re-engagement message", 1, 100 / 3),
    ]
    assert top(reports.top_errors(engine, scope, flt("sms"))) == [
        ("UNDELIV", "Undeliverable", 2, 200 / 3),
        ("EXPIRED", "Expired", 1, 100 / 3),
    ]
    # The share stays a share of all errors when the list is cut short.
    assert top(reports.top_errors(engine, scope, flt(), limit=1)) == [
        ("131026", "Message undeliverable", 2, 200 / 3)
    ]
    # Ties are ordered by code.
    assert top(reports.top_errors(engine, scope, flt(subaccounts=[ids[B]]))) == [
        ("131026", "Message undeliverable", 1, 50.0),
        ("131047", "Re-engagement message", 1, 50.0),
    ]
    assert reports.top_errors(engine, scope, flt(subaccounts=[ids[HIDDEN]])).empty
    assert reports.top_errors(engine, scope, flt(statuses=["read"])).empty


# --------------------------------------------------------------------------- detailed page


def page_ids(engine, scope, report_filter, **kwargs) -> tuple[list[str], int]:
    page = reports.detailed_page(engine, scope, report_filter, limit=500, **kwargs)
    return list(page.rows["message_id"]), page.total


SORTED = {
    # sort key: (ascending, descending); ties by message_id in the same direction, nulls last
    "created_at": (
        ["wa-11", "wa-01", "wa-02", "wa-09", "wa-03", "wa-04", "wa-05", "wa-06", "wa-07",
         "wa-08", "wa-10"],
        ["wa-10", "wa-08", "wa-07", "wa-06", "wa-05", "wa-04", "wa-03", "wa-09", "wa-02",
         "wa-01", "wa-11"],
    ),
    # By lifecycle: scheduled, sent, error, delivered, read, then cancelled and received.
    "status": (
        ["wa-07", "wa-06", "wa-03", "wa-04", "wa-05", "wa-02", "wa-01", "wa-11", "wa-08",
         "wa-09", "wa-10"],
        ["wa-10", "wa-09", "wa-08", "wa-11", "wa-01", "wa-02", "wa-05", "wa-04", "wa-03",
         "wa-06", "wa-07"],
    ),
    "direction": (
        ["wa-09", "wa-10", "wa-01", "wa-02", "wa-03", "wa-04", "wa-05", "wa-06", "wa-07",
         "wa-08", "wa-11"],
        ["wa-11", "wa-08", "wa-07", "wa-06", "wa-05", "wa-04", "wa-03", "wa-02", "wa-01",
         "wa-10", "wa-09"],
    ),
    "content_type": (
        ["wa-03", "wa-11", "wa-01", "wa-02", "wa-05", "wa-07", "wa-08", "wa-04", "wa-06",
         "wa-09", "wa-10"],
        ["wa-10", "wa-09", "wa-06", "wa-04", "wa-08", "wa-07", "wa-05", "wa-02", "wa-01",
         "wa-11", "wa-03"],
    ),
    # 525512345678 < 5491123456789 < 5511911112222 < 5511987654321 as text
    "phone": (
        ["wa-04", "wa-07", "wa-10", "wa-02", "wa-06", "wa-05", "wa-08", "wa-01", "wa-03",
         "wa-09", "wa-11"],
        ["wa-11", "wa-09", "wa-03", "wa-01", "wa-08", "wa-05", "wa-06", "wa-02", "wa-10",
         "wa-07", "wa-04"],
    ),
    "subaccount": (
        ["wa-01", "wa-02", "wa-03", "wa-06", "wa-07", "wa-09", "wa-04", "wa-05", "wa-08",
         "wa-10", "wa-11"],
        ["wa-11", "wa-10", "wa-08", "wa-05", "wa-04", "wa-09", "wa-07", "wa-06", "wa-03",
         "wa-02", "wa-01"],
    ),
    "user": (
        ["wa-01", "wa-02", "wa-07", "wa-08", "wa-03", "wa-06", "wa-04", "wa-05", "wa-11",
         "wa-09", "wa-10"],
        ["wa-11", "wa-05", "wa-04", "wa-06", "wa-03", "wa-08", "wa-07", "wa-02", "wa-01",
         "wa-10", "wa-09"],
    ),
    "campaign": (
        ["wa-01", "wa-02", "wa-06", "wa-08", "wa-03", "wa-05", "wa-11", "wa-04", "wa-07",
         "wa-09", "wa-10"],
        ["wa-11", "wa-05", "wa-03", "wa-08", "wa-06", "wa-02", "wa-01", "wa-10", "wa-09",
         "wa-07", "wa-04"],
    ),
    "error_code": (
        ["wa-03", "wa-05", "wa-04", "wa-01", "wa-02", "wa-06", "wa-07", "wa-08", "wa-09",
         "wa-10", "wa-11"],
        ["wa-04", "wa-05", "wa-03", "wa-11", "wa-10", "wa-09", "wa-08", "wa-07", "wa-06",
         "wa-02", "wa-01"],
    ),
}  # fmt: skip


WA_IDS_BY_TIME = SORTED["created_at"][0]


def by_time(message_ids: list[str]) -> list[str]:
    return sorted(message_ids, key=WA_IDS_BY_TIME.index)


def test_every_sort_order_is_covered():
    assert set(SORTED) == set(reports.SORT_COLUMNS)


def test_detailed_rows_in_each_sort_order(store):
    engine, ids = store
    scope = scope_of(ids, A, B)
    for sort, (ascending, descending) in SORTED.items():
        assert page_ids(engine, scope, flt(), sort=sort, descending=False) == (ascending, 11), sort
        assert page_ids(engine, scope, flt(), sort=sort, descending=True) == (descending, 11), sort


def test_detailed_offset_and_limit(store):
    engine, ids = store
    scope = scope_of(ids, A, B)
    page = reports.detailed_page(engine, scope, flt(), offset=3, limit=4)
    assert (list(page.rows["message_id"]), page.total, page.offset, page.limit) == (
        ["wa-06", "wa-05", "wa-04", "wa-03"],
        11,
        3,
        4,
    )
    page = reports.detailed_page(engine, scope, flt(), offset=8, limit=5)
    assert (list(page.rows["message_id"]), page.total) == (["wa-02", "wa-01", "wa-11"], 11)
    page = reports.detailed_page(engine, scope, flt(), offset=11, limit=5)
    assert (list(page.rows["message_id"]), page.total) == ([], 11)
    page = reports.detailed_page(engine, scope, flt(statuses=["error"]), offset=1, limit=1)
    assert (list(page.rows["message_id"]), page.total) == (["wa-04"], 3)


def at_sao_paulo(day: date, hhmm: str) -> pd.Timestamp:
    return pd.Timestamp(f"{day.isoformat()} {hhmm}", tz=TIMEZONE)


def test_detailed_row_contents_in_the_account_time_zone(store):
    engine, ids = store
    page = reports.detailed_page(
        engine, scope_of(ids, A, B), flt(), sort="created_at", descending=False, limit=3
    )
    assert list(page.rows.columns) == list(reports.DETAIL_COLUMNS)
    first = page.rows.iloc[1].to_dict()  # wa-01, stored as d2 02:30 UTC
    times = {name: first.pop(name) for name in reports.TIME_COLUMNS}
    assert first == {
        "message_id": "wa-01",
        "channel": "whatsapp",
        "direction": "MT",
        "subaccount": A,
        "user": "ana",
        "campaign": BF,
        "content_type": "template",
        "phone": "5511987654321",
        "contact_name": "Maria Souza",
        "content": "Olá! Oferta 🎉",
        "status": "read",
        "error_code": None,
        "error_description": None,
        "correlation_id": "bf-0001",
    }
    # Read implies delivered and sent: both take the read time when the row gives none.
    assert times == {
        "created_at": at_sao_paulo(D1, "23:30"),
        "sent_at": at_sao_paulo(D2, "00:00"),
        "delivered_at": at_sao_paulo(D2, "00:00"),
        "read_at": at_sao_paulo(D2, "00:00"),
    }
    for name in reports.TIME_COLUMNS:
        assert str(page.rows[name].dt.tz) == TIMEZONE
    wa_02 = page.rows.iloc[2]
    assert wa_02["message_id"] == "wa-02"
    assert wa_02["created_at"] == at_sao_paulo(D2, "00:30")
    assert pd.isna(wa_02["read_at"])
    mo_page = reports.detailed_page(engine, scope_of(ids, A, B), flt(direction="MO"))
    assert mo_page.rows[["message_id", "user", "campaign"]].values.tolist() == [
        ["wa-10", None, None],
        ["wa-09", None, None],
    ]
    assert mo_page.rows["created_at"].tolist() == [
        at_sao_paulo(D3, "23:30"),
        at_sao_paulo(D2, "09:00"),
    ]


# --------------------------------------------------------------------------- phone search


PHONE_SEARCHES = [
    (P1, ["wa-01", "wa-03", "wa-09", "wa-11"]),
    ("+55 (11) 98765-4321", ["wa-01", "wa-03", "wa-09", "wa-11"]),
    ("5511987654321", ["wa-01", "wa-03", "wa-09", "wa-11"]),
    ("98765-4321", ["wa-01", "wa-03", "wa-09", "wa-11"]),
    ("654321", ["wa-01", "wa-03", "wa-09", "wa-11"]),
    ("011 98765 4321", ["wa-01", "wa-03", "wa-09", "wa-11"]),
    ("+54 9 11 2345-6789", ["wa-02", "wa-06"]),
    # Argentina's mobile 9 left out, and its national form with trunk 0 and 15.
    ("+54 11 2345-6789", ["wa-02", "wa-06"]),
    ("011 15 2345-6789", ["wa-02", "wa-06"]),
    # Mexico's retired mobile 1 after the country code, and the national 044.
    ("+52 1 55 1234 5678", ["wa-04", "wa-07", "wa-10"]),
    ("044 55 1234 5678", ["wa-04", "wa-07", "wa-10"]),
    ("55 1234 5678", ["wa-04", "wa-07", "wa-10"]),
    # A leading zero is a digit of the number searched, not a prefix to drop: "01234567" no
    # longer finds the numbers ending in 1234567 (P3).
    ("01234567", []),
    # Ends both the visible P3 and the hidden P5: only P3's messages come back.
    ("12345678", ["wa-04", "wa-07", "wa-10"]),
    (P5, []),
    ("+1 212 555 0100", []),
    ("987654322", []),
]


def test_phone_search(store):
    engine, ids = store
    scope = scope_of(ids, A, B)
    for typed, expected in PHONE_SEARCHES:
        got = page_ids(engine, scope, flt(phone=typed), sort="created_at", descending=False)
        assert got == (by_time(expected), len(expected)), typed


def test_phone_search_on_sms_and_with_other_filters(store):
    engine, ids = store
    scope = scope_of(ids, A, B)
    assert page_ids(engine, scope, flt("sms", phone=P1), descending=False) == (
        ["sms-01", "sms-05"],
        2,
    )
    totals = reports.range_totals(reports.daily_series(engine, scope, flt(phone=P1)), "whatsapp")
    assert [totals[c] for c in COUNTS] == [3, 3, 2, 2, 1, 1]
    assert page_ids(engine, scope, flt(phone="98765-4321", direction="MO")) == (["wa-09"], 1)
    assert page_ids(engine, scope, flt(phone=P1, subaccounts=[ids[HIDDEN]])) == ([], 0)


# --------------------------------------------------------------------------- filters


def wa(*numbers: int) -> list[str]:
    return [f"wa-{n:02d}" for n in numbers]


FILTER_CASES = [
    # (filter by name, expected [total, sent, delivered, read, errors, received], rows)
    ({"direction": "MT"}, [9, 5, 3, 2, 3, 0], wa(1, 2, 3, 4, 5, 6, 7, 8, 11)),
    ({"direction": "MO"}, [0, 0, 0, 0, 0, 2], wa(9, 10)),
    ({"subaccounts": [A]}, [5, 4, 2, 1, 1, 1], wa(1, 2, 3, 6, 7, 9)),
    ({"subaccounts": [B]}, [4, 1, 1, 1, 2, 1], wa(4, 5, 8, 10, 11)),
    ({"subaccounts": [HIDDEN]}, [0, 0, 0, 0, 0, 0], []),
    ({"subaccounts": [A, HIDDEN]}, [5, 4, 2, 1, 1, 1], wa(1, 2, 3, 6, 7, 9)),
    ({"users": ["ana"]}, [4, 2, 2, 1, 0, 0], wa(1, 2, 7, 8)),
    ({"users": ["carla"]}, [3, 1, 1, 1, 2, 0], wa(4, 5, 11)),
    ({"users": ["ana", "bruno"]}, [6, 4, 2, 1, 1, 0], wa(1, 2, 3, 6, 7, 8)),
    ({"users": ["dora"]}, [0, 0, 0, 0, 0, 0], []),
    ({"campaigns": [BF]}, [4, 3, 2, 1, 0, 0], wa(1, 2, 6, 8)),
    ({"campaigns": [WELCOME]}, [3, 2, 1, 1, 2, 0], wa(3, 5, 11)),
    ({"campaigns": [SECRET]}, [0, 0, 0, 0, 0, 0], []),
    ({"content_types": ["template"]}, [5, 2, 2, 1, 1, 0], wa(1, 2, 5, 7, 8)),
    ({"content_types": ["image"]}, [2, 2, 1, 1, 1, 0], wa(3, 11)),
    ({"content_types": ["text"]}, [2, 1, 0, 0, 1, 2], wa(4, 6, 9, 10)),
    ({"content_types": ["video"]}, [0, 0, 0, 0, 0, 0], []),
    ({"statuses": ["error"]}, [3, 1, 0, 0, 3, 0], wa(3, 4, 5)),
    ({"statuses": ["read"]}, [2, 2, 2, 2, 0, 0], wa(1, 11)),
    ({"statuses": ["scheduled", "cancelled"]}, [2, 0, 0, 0, 0, 0], wa(7, 8)),
    ({"statuses": ["received"]}, [0, 0, 0, 0, 0, 2], wa(9, 10)),
    ({"statuses": ["queued"]}, [0, 0, 0, 0, 0, 0], []),
    (
        {"subaccounts": [A], "statuses": ["error"], "content_types": ["image"]},
        [1, 1, 0, 0, 1, 0],
        wa(3),
    ),
]  # fmt: skip


def _with_ids(ids: dict, request: dict) -> dict:
    named = ("subaccounts", "users", "campaigns")
    return {
        key: [ids[v] for v in value] if key in named else value for key, value in request.items()
    }


def test_each_filter(store):
    engine, ids = store
    scope = scope_of(ids, A, B)
    for request, expected_counts, expected_rows in FILTER_CASES:
        report_filter = flt(**_with_ids(ids, request))
        totals = reports.range_totals(
            reports.daily_series(engine, scope, report_filter), "whatsapp"
        )
        assert [totals[c] for c in COUNTS] == expected_counts, request
        got = page_ids(engine, scope, report_filter, sort="created_at", descending=False)
        assert got == (by_time(expected_rows), len(expected_rows)), request


def test_filters_on_sms(store):
    engine, ids = store
    scope = scope_of(ids, A, B)
    cases = [
        ({"direction": "MO"}, [0, 0, 0, None, 0, 1], ["sms-05"]),
        ({"statuses": ["error"]}, [3, 2, 0, None, 3, 0], ["sms-02", "sms-03", "sms-07"]),
        ({"users": ["ana"]}, [3, 1, 1, None, 1, 0], ["sms-01", "sms-06", "sms-07"]),
        ({"subaccounts": [HIDDEN]}, [0, 0, 0, None, 0, 0], []),
    ]
    for request, expected_counts, expected_rows in cases:
        report_filter = flt("sms", **_with_ids(ids, request))
        totals = reports.range_totals(reports.daily_series(engine, scope, report_filter), "sms")
        assert [totals[c] for c in COUNTS] == expected_counts, request
        rows, total = page_ids(engine, scope, report_filter)
        assert (sorted(rows), total) == (expected_rows, len(expected_rows)), request


# --------------------------------------------------------------------------- filter options


def test_filter_options(store):
    engine, ids = store
    scope = scope_of(ids, A, B)

    def named(*names):
        return [(ids[name], name) for name in names]

    assert reports.filter_options(engine, scope, "whatsapp", TIMEZONE) == {
        "subaccounts": named(A, B),
        "users": named("ana", "bruno", "carla"),
        "campaigns": named(BF, WELCOME),
        "content_types": ["image", "template", "text"],
        "statuses": ["scheduled", "sent", "delivered", "read", "error", "cancelled", "received"],
        "countries": ["AR", "BR", "MX"],
    }
    assert reports.filter_options(engine, scope, "sms", TIMEZONE) == {
        "subaccounts": named(A, B),
        "users": named("ana", "bruno", "carla"),
        "campaigns": named(BF, WELCOME),
        "content_types": ["text"],
        "statuses": ["queued", "sent", "delivered", "error", "received"],
        "countries": ["AR", "BR", "MX"],
    }
    assert reports.filter_options(engine, scope_of(ids, A), "whatsapp", TIMEZONE) == {
        "subaccounts": named(A),
        "users": named("ana", "bruno"),
        "campaigns": named(BF, WELCOME),
        "content_types": ["image", "template", "text"],
        "statuses": ["scheduled", "sent", "delivered", "read", "error", "received"],
        "countries": ["AR", "BR", "MX"],
    }


# --------------------------------------------------------------------------- search by id


def test_search_by_message_id_over_the_whole_window(store):
    engine, ids = store
    scope = scope_of(ids, A, B)

    def by_id(message_id, channel="whatsapp", **kwargs):
        # The range asked for is today only: an id is looked for over the whole window.
        report_filter = ReportFilter.build(
            channel, TODAY, TODAY, message_id=message_id, timezone=TIMEZONE, today=TODAY, **kwargs
        )
        return page_ids(engine, scope, report_filter)

    assert by_id("wa-03") == (["wa-03"], 1)
    assert by_id("  sms-02 ", "sms") == (["sms-02"], 1)
    # Another channel, a filter that leaves it out, another scope, no such id: nothing.
    assert by_id("sms-02") == ([], 0)
    assert by_id("wa-03", statuses=["read"]) == ([], 0)
    assert page_ids(engine, scope_of(ids, HIDDEN), flt(message_id="wa-03")) == ([], 0)
    assert by_id("wa-99") == ([], 0)


def test_search_by_correlation_id(store):
    engine, ids = store
    scope = scope_of(ids, A, B)
    report_filter = ReportFilter.build(
        "whatsapp", TODAY, TODAY, correlation_id="bf-0001", timezone=TIMEZONE, today=TODAY
    )
    assert (report_filter.start, report_filter.end) == (TODAY - timedelta(days=89), TODAY)
    assert page_ids(engine, scope, report_filter) == (["wa-01"], 1)
    assert page_ids(engine, scope, flt(correlation_id="bf-9999")) == ([], 0)


# --------------------------------------------------------------------------- campaigns

CAMPAIGN_FIGURES = [
    "campaign", "total", "sent", "delivered", "read", "errors",
    "delivered_pct", "read_pct", "error_pct", "top_error_code", "top_error_count",
]  # fmt: skip


def campaign_rows(frame: pd.DataFrame) -> list[list]:
    return [
        [
            None if value is None or (isinstance(value, float) and pd.isna(value)) else value
            for value in (row[c] for c in CAMPAIGN_FIGURES)
        ]
        for _, row in frame.iterrows()
    ]


def test_campaign_table_whatsapp(store):
    engine, ids = store
    frame = reports.campaign_table(engine, scope_of(ids, A, B), flt())
    assert list(frame.columns) == list(reports.CAMPAIGN_COLUMNS)
    assert list(frame["campaign_id"][:2]) == [ids[BF], ids[WELCOME]]
    # Black Friday: wa-01 read (so sent and delivered too), wa-02 delivered, wa-06 sent, wa-08
    # cancelled;
    # Welcome: wa-03 and wa-05 undeliverable, wa-11 read; none: wa-04 error, wa-07 scheduled.
    # Hidden Co's Black Friday error (368) never counts.
    assert campaign_rows(frame) == [
        [BF, 4, 3, 2, 1, 0, 50.0, 25.0, 0.0, None, 0],
        [WELCOME, 3, 2, 1, 1, 2, pytest.approx(100 / 3), pytest.approx(100 / 3),
         pytest.approx(200 / 3), "131026", 2],
        [None, 2, 0, 0, 0, 1, 0.0, 0.0, 50.0, "131047", 1],
    ]  # fmt: skip
    assert frame["top_error_description"][1] == "Message undeliverable"


def test_campaign_table_sms_has_no_read_share(store):
    engine, ids = store
    frame = reports.campaign_table(engine, scope_of(ids, A, B), flt("sms"))
    assert campaign_rows(frame) == [
        [None, 3, 1, 0, 0, 2, 0.0, None, pytest.approx(200 / 3), "UNDELIV", 2],
        [WELCOME, 2, 2, 0, 0, 1, 0.0, None, 50.0, "EXPIRED", 1],
        [BF, 1, 1, 1, 0, 0, 100.0, None, 0.0, None, 0],
    ]


def test_campaign_table_keeps_the_scope_and_filters(store):
    engine, ids = store
    only_a = reports.campaign_table(engine, scope_of(ids, A), flt())
    assert campaign_rows(only_a) == [
        [BF, 3, 3, 2, 1, 0, pytest.approx(200 / 3), pytest.approx(100 / 3), 0.0, None, 0],
        [WELCOME, 1, 1, 0, 0, 1, 0.0, 0.0, 100.0, "131026", 1],
        [None, 1, 0, 0, 0, 0, 0.0, 0.0, 0.0, None, 0],
    ]
    # A campaign or subaccount outside the scope, asked for by name, counts nothing.
    forged = reports.campaign_table(engine, scope_of(ids, A, B), flt(campaigns=(ids[SECRET],)))
    assert forged.empty
    hidden = reports.campaign_table(engine, scope_of(ids, A), flt(subaccounts=(ids[HIDDEN],)))
    assert hidden.empty
    assert reports.campaign_table(engine, AccessScope.of([]), flt()).empty
    # One day, one status: the day's delivered messages of each campaign.
    delivered = reports.campaign_table(
        engine,
        scope_of(ids, A, B),
        ReportFilter.build(
            "whatsapp", D2, D2, statuses=("delivered",), timezone=TIMEZONE, today=TODAY
        ),
    )
    assert campaign_rows(delivered) == [[BF, 1, 1, 1, 0, 0, 100.0, 0.0, 0.0, None, 0]]
