"""Demo data: the rules of the domain hold on every generated message, and a seed fixes the data."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import func, select

import app
from data_access import reports
from data_access.domain import RANK_STATUS
from data_access.filters import AccessScope, ReportFilter
from data_access.tables import campaigns, contacts, messages, subaccounts, user_subaccounts, users
from demo import generator as demo_data
from demo.generator import DemoError, build_demo, generate
from tests.conftest import TIMEZONE

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=ZoneInfo(TIMEZONE))
DAYS = 30
COUNT = 3_000
PHONE_PATTERNS = {
    "BR": r"55\d{2}9\d{8}",
    "MX": r"52\d{10}",
    "AR": r"549\d{10}",
    "CO": r"573\d{9}",
    "CL": r"569\d{8}",
    "PE": r"519\d{8}",
}
WHATSAPP_CODES = {code: text for code, text, _w, _s in demo_data.WHATSAPP_ERRORS}
SMS_CODES = {code: text for code, text, _w, _s in demo_data.SMS_ERRORS}


def _stored(engine) -> pd.DataFrame:
    m = messages.c
    query = (
        select(
            m.message_id,
            m.channel,
            m.direction,
            m.status,
            m.user_id,
            m.campaign_id,
            m.content_type,
            m.content,
            m.error_code,
            m.error_description,
            m.created_at,
            m.created_day,
            m.sent_at,
            m.delivered_at,
            m.read_at,
            contacts.c.phone,
            subaccounts.c.name.label("subaccount"),
            users.c.username.label("user"),
        )
        .select_from(
            messages.join(contacts, contacts.c.id == m.contact_id)
            .join(subaccounts, subaccounts.c.id == m.subaccount_id)
            .outerjoin(users, users.c.id == m.user_id)
        )
        .order_by(m.message_id)
    )
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).all(), columns=list(query.selected_columns.keys()))


@pytest.fixture
def demo_store(engine):
    assert build_demo(engine, COUNT, days=DAYS, seed=5, timezone=TIMEZONE, now=NOW) == COUNT
    return engine


def test_demo_store_follows_the_domain_rules(demo_store):
    rows = _stored(demo_store)
    assert len(rows) == COUNT
    assert rows.message_id.is_unique

    sms = rows[rows.channel == "sms"]
    whatsapp = rows[rows.channel == "whatsapp"]
    assert len(whatsapp) > len(sms) > 0
    assert not (sms.status == "read").any()
    assert sms.read_at.isna().all()
    assert set(sms.content_type) == {"text"}
    assert (whatsapp.status == "read").any()

    mo = rows[rows.direction == "MO"]
    assert len(mo) > 0
    assert (mo.status == "received").all()
    assert mo.user_id.isna().all() and mo.campaign_id.isna().all()
    assert mo[["sent_at", "delivered_at", "read_at", "error_code"]].isna().all().all()

    mt = rows[rows.direction == "MT"]
    assert not (mt.status == "received").any()
    # read implies delivered implies sent, and each happens after the one before
    assert (mt.read_at.isna() | mt.delivered_at.notna()).all()
    assert (mt.delivered_at.isna() | mt.sent_at.notna()).all()
    assert (mt.sent_at.isna() | (mt.sent_at >= mt.created_at)).all()
    assert (mt.delivered_at.isna() | (mt.delivered_at >= mt.sent_at)).all()
    assert (mt.read_at.isna() | (mt.read_at >= mt.delivered_at)).all()
    assert ((mt.status == "read") == mt.read_at.notna()).all()
    delivered = mt.status == "delivered"
    assert (mt[delivered].delivered_at.notna() & mt[delivered].read_at.isna()).all()
    stuck = mt[mt.status == "sent"]
    assert len(stuck[stuck.channel == "sms"]) > 0
    assert stuck.sent_at.notna().all() and stuck.delivered_at.isna().all()
    for status in ("scheduled", "cancelled"):
        held = mt[mt.status == status]
        assert len(held) > 0
        assert held[["sent_at", "delivered_at", "read_at"]].isna().all().all()

    errors = mt[mt.status == "error"]
    assert errors.delivered_at.isna().all()
    for channel, codes in (("whatsapp", WHATSAPP_CODES), ("sms", SMS_CODES)):
        on_channel = errors[errors.channel == channel]
        assert len(on_channel) > 0
        assert on_channel.error_code.isin(list(codes)).all()
        assert (on_channel.error_description == on_channel.error_code.map(codes)).all()
    assert rows[rows.status != "error"].error_code.isna().all()

    # Times: within the last DAYS local days, never after now, day buckets in local time.
    zone = ZoneInfo(TIMEZONE)
    first = datetime.combine(NOW.date() - timedelta(days=DAYS - 1), datetime.min.time(), zone)
    created = pd.to_datetime(rows.created_at).dt.tz_localize("UTC")
    assert created.min() >= pd.Timestamp(first)
    assert created.max() <= pd.Timestamp(NOW)
    for column in ("sent_at", "delivered_at", "read_at"):
        assert pd.to_datetime(rows[column]).dt.tz_localize("UTC").max() <= pd.Timestamp(NOW)
    local_days = created.dt.tz_convert(TIMEZONE).dt.date
    assert (local_days == rows.created_day).all()
    assert created.dt.tz_convert(TIMEZONE).dt.day_of_week.nunique() == 7

    pattern = re.compile("|".join(f"(?:{p})" for p in PHONE_PATTERNS.values()))
    assert rows.phone.map(lambda phone: bool(pattern.fullmatch(phone))).all()
    for country, country_pattern in PHONE_PATTERNS.items():
        assert rows.phone.str.fullmatch(country_pattern).any(), country
    per_phone = rows.groupby("phone").size()
    assert per_phone.max() >= 5  # regular customers write and get written to again

    text = " ".join(rows.content.dropna())
    assert "ã" in text and "ñ" in text and "🚚" in text


def test_demo_store_has_the_account_catalogue(demo_store):
    with demo_store.connect() as conn:
        sub_names = set(conn.execute(select(subaccounts.c.name)).scalars())
        usernames = set(conn.execute(select(users.c.username)).scalars())
        campaign_count = conn.execute(select(func.count()).select_from(campaigns)).scalar_one()
        memberships = set(
            conn.execute(
                select(users.c.username, subaccounts.c.name).select_from(
                    user_subaccounts.join(users, users.c.id == user_subaccounts.c.user_id).join(
                        subaccounts, subaccounts.c.id == user_subaccounts.c.subaccount_id
                    )
                )
            ).all()
        )
    assert sub_names == {s.name for s in demo_data.SUBACCOUNTS}
    assert len(sub_names) == 6
    assert usernames == {name for name, _sub in demo_data.USERS}
    assert len(usernames) == 15
    assert campaign_count == 30
    assert memberships == {(name, demo_data.SUBACCOUNTS[sub].name) for name, sub in demo_data.USERS}
    rows = _stored(demo_store)
    sender_home = {name: demo_data.SUBACCOUNTS[sub].name for name, sub in demo_data.USERS}
    sent_by_user = rows[rows.user.notna()]
    assert (sent_by_user.user.map(sender_home) == sent_by_user.subaccount).all()


def test_building_the_same_seed_twice_adds_nothing(demo_store):
    build_demo(demo_store, COUNT, days=DAYS, seed=5, timezone=TIMEZONE, now=NOW)
    with demo_store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar_one() == COUNT
        assert conn.execute(select(func.count()).select_from(user_subaccounts)).scalar_one() == 15


def _frame(seed: int, **kwargs) -> pd.DataFrame:
    options = {"days": DAYS, "seed": seed, "timezone": TIMEZONE, "now": NOW, **kwargs}
    return pd.concat(list(generate(2_000, **options)), ignore_index=True)


def test_same_seed_gives_the_same_messages():
    first, again, other = _frame(11), _frame(11), _frame(12)
    pd.testing.assert_frame_equal(first, again)
    assert not set(first.message_id) & set(other.message_id)
    assert not first.created_at.equals(other.created_at)


def test_chunks_come_in_creation_order():
    chunks = list(generate(2_500, days=DAYS, seed=3, timezone=TIMEZONE, now=NOW, chunk_rows=700))
    assert [len(c) for c in chunks] == [700, 700, 700, 400]
    frame = pd.concat(chunks, ignore_index=True)
    assert frame.created_at.is_monotonic_increasing
    assert frame.message_id.is_unique
    statuses = frame.status_rank.map(RANK_STATUS)
    assert set(statuses) <= set(RANK_STATUS.values())


def test_day_buckets_follow_a_zone_with_daylight_saving():
    # Santiago leaves daylight saving time on the first Sunday of April 2026.
    zone = "America/Santiago"
    now = datetime(2026, 4, 12, 9, 0, tzinfo=ZoneInfo(zone))
    frame = _frame(4, timezone=zone, now=now, days=14)
    local = frame.created_at.dt.tz_localize("UTC").dt.tz_convert(zone)
    assert (local.dt.date == frame.created_day).all()
    assert local.max() <= pd.Timestamp(now)
    assert local.min().date() == now.date() - timedelta(days=13)
    assert frame.created_day.nunique() == 14


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": 0}, "at least 1"),
        ({"days": 0}, "1 to 3650 days"),
        ({"seed": -1}, "from 0 up"),
    ],
)
def test_bad_requests_raise_a_typed_error(kwargs, message):
    options = {"count": 10, "days": 5, "seed": 0, "timezone": TIMEZONE, "now": NOW, **kwargs}
    count = options.pop("count")
    with pytest.raises(DemoError, match=message):
        next(generate(count, **options))


def test_demo_command_fills_an_empty_store_once(duckdb_settings, monkeypatch, capsys):
    monkeypatch.setenv("DATA_DIR", str(duckdb_settings.data_dir))
    monkeypatch.setenv("DATABASE_URL", duckdb_settings.database_url)
    monkeypatch.setenv("ACCOUNT_TIMEZONE", TIMEZONE)

    assert app.main(["demo", "--messages", "1500", "--days", "10", "--if-empty"]) == 0
    assert "the store now holds 1,500 messages" in capsys.readouterr().out
    assert app.main(["demo", "--messages", "1500", "--if-empty"]) == 0
    assert "already holds messages; no demo data added" in capsys.readouterr().out
    assert app.main(["demo", "--messages", "700", "--days", "10", "--seed", "9"]) == 0
    assert "the store now holds 2,200 messages" in capsys.readouterr().out

    assert app.main(["demo", "--messages", "10", "--days", "5000"]) == 2
    assert "The demo covers 1 to 3650 days, got 5000." in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        app.main(["demo", "--messages", "many"])
    assert exit_info.value.code == 2
    assert "'many' is not a whole number" in capsys.readouterr().err


def test_detailed_pages_equal_the_cut_of_the_full_ordered_select(demo_store):
    # The page query sorts and cuts before joining; on demo data (senders and campaigns
    # missing on some rows, many ties) it must give exactly what cutting the joined select
    # gives, for every sort key, both directions.
    scope = AccessScope.of(range(1, 7))
    flt = ReportFilter.build(
        "whatsapp", NOW.date() - timedelta(days=DAYS - 1), NOW.date(), today=NOW.date()
    )
    total = reports.detailed_count(demo_store, scope, flt)
    # Keys with few values are cut group by group (counts from the roll-up): offsets from the
    # start, inside, across group boundaries and past the last row.
    offsets = (0, 37, total // 3, total // 2 + 11, total - 10, total + 5)
    for sort in reports.SORT_COLUMNS:
        for descending in (False, True):
            for offset in offsets:
                rows = reports.detailed_rows(
                    demo_store, scope, flt, sort=sort, descending=descending, offset=offset,
                    limit=25,
                )  # fmt: skip
                cut = reports.detailed_select(scope, flt, sort, descending)
                with demo_store.connect() as conn:
                    expected = [r.message_id for r in conn.execute(cut.offset(offset).limit(25))]
                assert list(rows.message_id) == expected, (sort, descending, offset)
                assert len(expected) == max(0, min(25, total - offset))
