"""A contact keeps the days of its messages (data_access/contact_days.py): a phone search reads
only those days and still finds every message, on both stores; a time zone change counts the
days again; a contact whose days are not known is searched on every day."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update

from data_access import contact_days, reports
from data_access.filters import AccessScope, ReportFilter
from data_access.store import ensure_timezone
from data_access.tables import contacts, subaccounts
from data_access.writes import WriteScope, write
from ingest.merge import merge_rows
from tests.conftest import TIMEZONE
from tests.test_rollup import mt

TODAY = date(2026, 12, 5)
START = date(2026, 9, 7)  # the 90 days up to TODAY
ANA = "+5511987654321"
BETO = "+5511912345678"
# Ana's messages: two on September 20, one late on November 5 (São Paulo), which is November 6
# in Tokyo. Beto's message falls on November 21, the day 62 days after September 20 whose bit
# Ana's September 20 shares.
ROWS = [
    mt("ana-1", "2026-09-20T10:00:00-03:00", "delivered", phone=ANA),
    mt("ana-2", "2026-09-20T11:00:00-03:00", "read", phone=ANA),
    mt("ana-3", "2026-11-05T23:30:00-03:00", "sent", phone=ANA),
    mt("beto-1", "2026-11-21T09:00:00-03:00", "delivered", phone=BETO),
]


def bit(day: date) -> int:
    return 1 << ((day - date(1970, 1, 1)).days % 62)


def load(engine) -> None:
    scope = WriteScope.account("test")
    merged, problems = write(engine, lambda tx: merge_rows(tx, ROWS, TIMEZONE, scope, "api"))
    assert (merged, problems) == (4, {})


def days_of(engine) -> dict[str, int | None]:
    with engine.connect() as conn:
        return dict(conn.execute(select(contacts.c.phone, contacts.c.active_days)).all())


def search(engine, typed: str, timezone: str = TIMEZONE) -> tuple[list[str], int, list[date]]:
    """(the page's message ids, oldest first; the count; the days the search reads)."""
    with engine.connect() as conn:
        scope = AccessScope.of(conn.execute(select(subaccounts.c.id)).scalars())
        flt = ReportFilter.build(
            "whatsapp", START, TODAY, timezone=timezone, today=TODAY, phone=typed
        )
        narrowed = reports.located(conn, flt)
        assert narrowed is not None and narrowed.phone is not None
        mask = narrowed.phone.day_mask
        days = [] if mask is None else contact_days.days_in(mask, START, TODAY)
    page = reports.detailed_page(engine, scope, flt, sort="created_at", descending=False)
    return list(page.rows["message_id"]), page.total, days


def test_a_contact_keeps_the_bits_of_the_days_of_its_messages(engine):
    load(engine)
    assert days_of(engine) == {
        "5511987654321": bit(date(2026, 9, 20)) | bit(date(2026, 11, 5)),
        "5511912345678": bit(date(2026, 11, 21)),
    }
    assert bit(date(2026, 9, 20)) == bit(date(2026, 11, 21))


def test_a_phone_search_reads_its_contact_s_days_only_and_finds_every_message(engine):
    load(engine)
    # November 21 shares September 20's bit: read too, and holds none of Ana's messages.
    assert search(engine, ANA) == (
        ["ana-1", "ana-2", "ana-3"],
        3,
        [date(2026, 9, 20), date(2026, 11, 5), date(2026, 11, 21)],
    )
    assert search(engine, BETO) == (["beto-1"], 1, [date(2026, 9, 20), date(2026, 11, 21)])


def test_a_new_day_of_a_contact_is_added_to_its_bits(engine):
    load(engine)
    later = [mt("ana-4", "2026-12-01T08:00:00-03:00", "sent", phone=ANA)]
    write(engine, lambda tx: merge_rows(tx, later, TIMEZONE, WriteScope.account("t"), "api"))
    ids, total, days = search(engine, ANA)
    assert (ids, total) == (["ana-1", "ana-2", "ana-3", "ana-4"], 4)
    assert date(2026, 12, 1) in days


def test_a_time_zone_change_counts_the_days_again(engine):
    load(engine)
    ensure_timezone(engine, "Asia/Tokyo")
    # ana-3 moved to November 6; September 20 stays (10:00 and 11:00 in São Paulo are 22:00
    # and 23:00 in Tokyo).
    assert days_of(engine)["5511987654321"] == bit(date(2026, 9, 20)) | bit(date(2026, 11, 6))
    assert search(engine, ANA, "Asia/Tokyo") == (
        ["ana-1", "ana-2", "ana-3"],
        3,
        [date(2026, 9, 20), date(2026, 11, 6), date(2026, 11, 21)],
    )


def test_a_contact_whose_days_are_not_known_is_searched_on_every_day(engine):
    load(engine)
    with engine.begin() as conn:
        conn.execute(update(contacts).values(active_days=None))
    assert search(engine, ANA) == (["ana-1", "ana-2", "ana-3"], 3, [])


def test_a_phone_search_s_pages_in_every_order_are_those_of_the_single_sort(engine):
    # The page of a phone search is cut in one pass with every column (reports._phone_page);
    # the reference is the one ordered SELECT exports read, its phone matched by a subquery.
    load(engine)
    more = [
        mt("ana-5", "2026-11-05T08:00:00-03:00", "error", phone=ANA, subaccount="Brand B",
           error_code="131026", error_description="Undeliverable"),
        mt("ana-6", "2026-11-05T08:00:00-03:00", "delivered", phone="+55 11 98765-4321"),
    ]  # fmt: skip
    write(engine, lambda tx: merge_rows(tx, more, TIMEZONE, WriteScope.account("t"), "api"))
    with engine.connect() as conn:
        scope = AccessScope.of(conn.execute(select(subaccounts.c.id)).scalars())
    flt = ReportFilter.build("whatsapp", START, TODAY, timezone=TIMEZONE, today=TODAY, phone=ANA)
    for sort in reports.SORT_COLUMNS:
        for descending in (False, True):
            with engine.connect() as conn:
                ordered = conn.execute(reports.detailed_select(scope, flt, sort, descending))
                expected = [row.message_id for row in ordered]
            assert sorted(expected) == ["ana-1", "ana-2", "ana-3", "ana-5", "ana-6"]
            for offset in (0, 2, 4):
                page = reports.detailed_rows(
                    engine, scope, flt, sort=sort, descending=descending, offset=offset, limit=2
                )
                assert list(page["message_id"]) == expected[offset : offset + 2], (sort, offset)


def test_a_phone_search_counts_every_page_in_the_same_pass(engine):
    """The page and its count come from one statement; a page past the last message still
    tells the count (asked alone then)."""
    load(engine)
    with engine.connect() as conn:
        scope = AccessScope.of(conn.execute(select(subaccounts.c.id)).scalars())
    flt = ReportFilter.build("whatsapp", START, TODAY, timezone=TIMEZONE, today=TODAY, phone=ANA)
    pages = [
        reports.detailed_page(engine, scope, flt, descending=False, offset=offset, limit=2)
        for offset in (0, 2, 4)
    ]
    assert [(list(p.rows["message_id"]), p.total) for p in pages] == [
        (["ana-1", "ana-2"], 3),
        (["ana-3"], 3),
        ([], 3),
    ]
    assert reports.detailed_count(engine, scope, flt) == 3
