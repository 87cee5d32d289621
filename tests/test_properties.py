"""Properties over random messages and filters: daily rows add up, and the scope is never left."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from data_access import message_keys, reports
from data_access.domain import CONTENT_TYPES, statuses_for
from data_access.filters import AccessScope, ReportFilter, today_in
from data_access.loader import load_files
from data_access.store import create_schema, make_engine
from data_access.tables import (
    campaigns,
    daily_rollup,
    delivery_time_rollup,
    messages,
    subaccounts,
    users,
)
from tests.conftest import TIMEZONE, write_csv

ZONE = ZoneInfo(TIMEZONE)
TODAY = today_in(TIMEZONE)
FIRST_DAY = TODAY - timedelta(days=16)  # the window ends today
WINDOW_DAYS = 17
NARROWING = ("direction", "subaccounts", "users", "campaigns", "content_types", "statuses", "phone")
# Local times around midnight, and 21:00 to 24:00, when the UTC day is already the next one.
EDGE_MINUTES = (0, 30, 21 * 60 - 1, 21 * 60, 23 * 60 + 30, 24 * 60 - 1)

SUBACCOUNTS = ("Sub A", "Sub B", "Sub C", "Sub D")
USERS = ("ana", "bruno", "carla")
CAMPAIGNS = ("Spring", "Summer")
# Two numbers share their last eight digits, so trailing-digit searches hit both.
PHONES = ("5511987654321", "5491187654321", "525512345678", "573001112233", "51987000111")
ERROR_CODES = {"whatsapp": ("131026", "131047", "368"), "sms": ("UNDELIV", "EXPIRED")}
# Offsets a file may write its times in; the loader must land each on the same local day.
OFFSETS = (UTC, timezone(timedelta(hours=-3)), timezone(timedelta(hours=5, minutes=30)))
PROPERTY_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One DuckDB store for the module; every example replaces its messages."""
    folder = tmp_path_factory.mktemp("properties")
    engine = make_engine(f"duckdb:///{folder / 'reports.duckdb'}")
    create_schema(engine, TIMEZONE)
    # Every name exists before the first example, so ids stay fixed across examples.
    seed = [
        message(f"seed-{n}", sub, "whatsapp", "MT", "sent", "text", user, campaign, PHONES[0], 0)
        for n, (sub, user, campaign) in enumerate(
            zip(SUBACCOUNTS, USERS + (None,), CAMPAIGNS + (None, None), strict=True)
        )
    ]
    load_files(engine, [write_csv(folder / "seed.csv", seed)], TIMEZONE)
    with engine.connect() as conn:
        ids = {
            **dict(conn.execute(select(subaccounts.c.name, subaccounts.c.id)).all()),
            **dict(conn.execute(select(users.c.username, users.c.id)).all()),
            **dict(conn.execute(select(campaigns.c.name, campaigns.c.id)).all()),
        }
    yield engine, ids, folder
    engine.dispose()


def message(
    message_id: str,
    sub: str,
    channel: str,
    direction: str,
    status: str,
    content_type: str,
    user: str | None,
    campaign: str | None,
    phone: str,
    minute: int,
    offset=UTC,
    sent: bool = False,
    delivered: bool = False,
    read: bool = False,
    error: str | None = None,
) -> dict:
    """One loader row created `minute` minutes after the first local midnight of the window."""
    created = datetime.combine(FIRST_DAY, time(0), ZONE) + timedelta(minutes=minute)

    def stamp(after_minutes: int) -> str:
        return (created + timedelta(minutes=after_minutes)).astimezone(offset).isoformat()

    return {
        "message_id": message_id,
        "channel": channel,
        "direction": direction,
        "subaccount": sub,
        "user": user or "",
        "campaign": campaign or "",
        "content_type": content_type,
        "phone": phone,
        "status": status,
        "created_at": stamp(0),
        "sent_at": stamp(1) if sent else "",
        "delivered_at": stamp(2) if delivered else "",
        "read_at": stamp(3) if read else "",
        "error_code": error or "",
        "error_description": f"reason {error}" if error else "",
    }


@st.composite
def messages_strategy(draw) -> list[dict]:
    rows = []
    for number in range(draw(st.integers(min_value=0, max_value=40))):
        channel = draw(st.sampled_from(("whatsapp", "sms")))
        direction = draw(st.sampled_from(("MT", "MT", "MO")))
        if direction == "MO":
            status, content_type, user = "received", "text", None
        else:
            status = draw(st.sampled_from([s for s in statuses_for(channel) if s != "received"]))
            content_type = draw(st.sampled_from(CONTENT_TYPES[channel][:3]))
            user = draw(st.none() | st.sampled_from(USERS))
        rows.append(
            message(
                f"r-{number}",
                draw(st.sampled_from(SUBACCOUNTS)),
                channel,
                direction,
                status,
                content_type,
                user,
                None if direction == "MO" else draw(st.none() | st.sampled_from(CAMPAIGNS)),
                draw(st.sampled_from(PHONES)),
                draw(st.integers(min_value=0, max_value=WINDOW_DAYS - 1)) * 24 * 60
                + draw(st.sampled_from(EDGE_MINUTES) | st.integers(0, 24 * 60 - 1)),
                offset=draw(st.sampled_from(OFFSETS)),
                # Read and delivered rows sometimes leave the earlier times out.
                sent=status in ("sent", "error", "delivered", "read") and draw(st.booleans()),
                delivered=status in ("delivered", "read") and draw(st.booleans()),
                read=status == "read",
                error=draw(st.sampled_from(ERROR_CODES[channel])) if status == "error" else None,
            )
        )
    return rows


@st.composite
def request_strategy(draw, outside_scope: bool = False) -> dict:
    channel = draw(st.sampled_from(("whatsapp", "sms")))
    if draw(st.booleans()):
        first, last = 0, WINDOW_DAYS - 1
    else:
        first = draw(st.integers(min_value=0, max_value=WINDOW_DAYS - 1))
        last = draw(st.integers(min_value=first, max_value=WINDOW_DAYS - 1))
    # At most two narrowing choices, so that most examples still match some messages.
    active = draw(st.sets(st.sampled_from(NARROWING), max_size=2))
    scope = draw(st.sets(st.sampled_from(SUBACCOUNTS), min_size=1, max_size=3))
    request = {
        "scope": scope,
        "channel": channel,
        "start": FIRST_DAY + timedelta(days=first),
        "end": FIRST_DAY + timedelta(days=last),
        "direction": None,
        "subaccounts": set(),
        "users": set(),
        "campaigns": set(),
        "content_types": set(),
        "statuses": set(),
        "phone": None,
    }
    choices = {
        "direction": st.sampled_from(("MT", "MO")),
        "subaccounts": st.sets(st.sampled_from(SUBACCOUNTS), min_size=1, max_size=3),
        "users": st.sets(st.sampled_from(USERS), min_size=1, max_size=1),
        "campaigns": st.sets(st.sampled_from(CAMPAIGNS), min_size=1, max_size=1),
        "content_types": st.sets(
            st.sampled_from(CONTENT_TYPES[channel][:3]), min_size=1, max_size=1
        ),
        "statuses": st.sets(st.sampled_from(statuses_for(channel)), min_size=1, max_size=2),
    }
    for name in sorted(active):
        if name == "phone":
            number = draw(st.sampled_from(PHONES))
            # Typed digits never start with 0 (a leading 0 is a dialling prefix, dropped).
            lengths = [n for n in range(6, len(number) + 1) if number[-n] != "0"]
            request["phone"] = number[-draw(st.sampled_from(lengths)) :]
        else:
            request[name] = draw(choices[name])
    if outside_scope:
        # Always name at least one subaccount the viewer may not see (a scope has at most 3).
        hidden = sorted(set(SUBACCOUNTS) - scope)
        request["subaccounts"] |= draw(st.sets(st.sampled_from(hidden), min_size=1))
    return request


def load_only(store, rows: list[dict]) -> None:
    engine, _, folder = store
    with engine.begin() as conn:
        # Removing messages is not a product operation: the roll-up and the keys go with them
        # by hand.
        conn.execute(delete(messages))
        conn.execute(delete(daily_rollup))
        conn.execute(delete(delivery_time_rollup))
        if message_keys.in_use(conn):
            message_keys.forget_all(conn)
    if rows:
        load_files(engine, [write_csv(folder / "example.csv", rows)], TIMEZONE)


def local_day(row: dict) -> date:
    return datetime.fromisoformat(row["created_at"]).astimezone(ZONE).date()


def matches(row: dict, request: dict) -> bool:
    """The report's rules, written plainly over the generated rows."""

    def chosen(values, value) -> bool:
        return not values or value in values

    return (
        row["subaccount"] in request["scope"]
        and row["channel"] == request["channel"]
        and request["start"] <= local_day(row) <= request["end"]
        and chosen({request["direction"]} - {None}, row["direction"])
        and chosen(request["subaccounts"], row["subaccount"])
        and chosen(request["users"], row["user"])
        and chosen(request["campaigns"], row["campaign"])
        and chosen(request["content_types"], row["content_type"])
        and chosen(request["statuses"], row["status"])
        and (request["phone"] is None or row["phone"].endswith(request["phone"]))
    )


def plain_counts(rows: list[dict]) -> Counter:
    counts: Counter = Counter()
    for row in rows:
        if row["direction"] == "MO":
            counts["received"] += 1
            continue
        counts["total"] += 1
        counts["sent"] += bool(row["sent_at"] or row["delivered_at"] or row["read_at"])
        counts["delivered"] += bool(row["delivered_at"] or row["read_at"])
        counts["read"] += bool(row["read_at"])
        counts["errors"] += row["status"] == "error"
    return counts


def report_filter(ids: dict, request: dict) -> tuple[AccessScope, ReportFilter]:
    scope = AccessScope.of(ids[name] for name in request["scope"])
    flt = ReportFilter.build(
        request["channel"],
        request["start"],
        request["end"],
        direction=request["direction"],
        subaccounts=[ids[name] for name in request["subaccounts"]],
        users=[ids[name] for name in request["users"]],
        campaigns=[ids[name] for name in request["campaigns"]],
        content_types=request["content_types"],
        statuses=request["statuses"],
        phone=request["phone"],
        timezone=TIMEZONE,
        today=TODAY,
    )
    return scope, flt


COUNTS = ("total", "sent", "delivered", "read", "errors", "received")


def whole_window(scope: set[str], channel: str) -> dict:
    """A request with no narrowing choice: every message of the channel in scope."""
    return {
        "scope": scope,
        "channel": channel,
        "start": FIRST_DAY,
        "end": TODAY,
        "direction": None,
        "subaccounts": set(),
        "users": set(),
        "campaigns": set(),
        "content_types": set(),
        "statuses": set(),
        "phone": None,
    }


def check_sums(engine, ids: dict, rows: list[dict], request: dict) -> None:
    scope, flt = report_filter(ids, request)
    sms = request["channel"] == "sms"
    matching = [row for row in rows if matches(row, request)]

    daily = reports.daily_series(engine, scope, flt)
    totals = reports.range_totals(daily, request["channel"])
    assert list(daily["date"]) == flt.days
    for _, day in daily.iterrows():
        expected = plain_counts([row for row in matching if local_day(row) == day["date"]])
        for name in COUNTS:
            if sms and name == "read":
                assert pd.isna(day[name])
            else:
                assert day[name] == expected[name], (day["date"], name)

    expected = plain_counts(matching)
    for name in COUNTS:
        if sms and name == "read":
            assert totals[name] is None
            continue
        assert totals[name] == int(daily[name].sum()) == expected[name], name
    total = expected["total"]
    assert totals["delivered_pct"] == pytest.approx(
        expected["delivered"] * 100 / total if total else 0.0
    )
    assert totals["error_pct"] == pytest.approx(expected["errors"] * 100 / total if total else 0.0)
    if sms:
        assert totals["read_pct"] is None
    else:
        assert totals["read_pct"] == pytest.approx(expected["read"] * 100 / total if total else 0.0)

    errors = reports.top_errors(engine, scope, flt)
    expected_errors = Counter(row["error_code"] for row in matching if row["status"] == "error")
    assert dict(zip(errors["error_code"], errors["count"], strict=True)) == expected_errors
    assert int(errors["count"].sum()) == totals["errors"]


@PROPERTY_SETTINGS
@given(rows=messages_strategy(), requests=st.lists(request_strategy(), min_size=4, max_size=4))
def test_daily_rows_sum_to_the_totals_and_match_a_plain_count(store, rows, requests):
    load_only(store, rows)
    engine, ids, _ = store
    # Loading is the slow part, so each store answers several requests.
    scope = requests[0]["scope"]
    for request in [whole_window(scope, "whatsapp"), whole_window(scope, "sms"), *requests]:
        check_sums(engine, ids, rows, request)


@PROPERTY_SETTINGS
@given(
    rows=messages_strategy(),
    requests=st.lists(request_strategy(outside_scope=True), min_size=3, max_size=3),
)
def test_no_filter_reaches_outside_the_scope(store, rows, requests):
    load_only(store, rows)
    engine, ids, _ = store
    for request in requests:
        check_scope(engine, ids, rows, request)


def check_scope(engine, ids: dict, rows: list[dict], request: dict) -> None:
    scope, flt = report_filter(ids, request)
    matching = {row["message_id"] for row in rows if matches(row, request)}
    in_scope = {row["message_id"] for row in rows if row["subaccount"] in request["scope"]}

    page = reports.detailed_page(engine, scope, flt, limit=500)
    returned = set(page.rows["message_id"])
    assert returned <= in_scope
    assert set(page.rows["subaccount"]) <= request["scope"]
    assert returned == matching
    assert page.total == len(matching)

    totals = reports.range_totals(reports.daily_series(engine, scope, flt), request["channel"])
    assert totals["total"] + totals["received"] == len(matching)

    errors = reports.top_errors(engine, scope, flt)
    assert int(errors["count"].sum()) == sum(
        1 for row in rows if row["message_id"] in matching and row["status"] == "error"
    )

    options = reports.filter_options(engine, scope, request["channel"], TIMEZONE)
    visible = [
        row
        for row in rows
        if row["subaccount"] in request["scope"] and row["channel"] == request["channel"]
    ]
    assert [name for _, name in options["subaccounts"]] == sorted(
        {r["subaccount"] for r in visible}
    )
    assert [name for _, name in options["users"]] == sorted({r["user"] for r in visible} - {""})
    assert options["content_types"] == sorted({r["content_type"] for r in visible})
