"""A small hand-built message set for the export tests, dated relative to today.

Its texts carry the formula-injection cases and the characters CSV must quote; three values
the loader would trim (a leading tab, space or carriage return) are written straight into the store.
The figures the tests expect are worked out by hand next to the rows.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from data_access.filters import AccessScope, today_in
from data_access.tables import messages, subaccounts
from tests.conftest import TIMEZONE


def day(offset: int) -> date:
    return today_in(TIMEZONE) - timedelta(days=offset)


def at(offset: int, hh: int, mm: int = 0) -> str:
    return datetime.combine(day(offset), time(hh, mm), tzinfo=ZoneInfo(TIMEZONE)).isoformat()


def local(offset: int, hh: int, mm: int = 0) -> str:
    """A time as a CSV export in TIMEZONE writes it."""
    return f"{day(offset).isoformat()} {hh:02d}:{mm:02d}:00"


QUOTED = 'line one\nline two, "quoted"'
WA = {"channel": "whatsapp", "direction": "MT", "content_type": "text"}


def rows() -> list[dict]:
    """The rows, dated from today as it is when they are loaded: built at import, they kept
    the day the test run began, and a test after midnight asked for days they were not on."""
    # fmt: off
    return [
        # Two days ago: 3 WhatsApp MT of Brand A / Brand B.
        {**WA, "message_id": "e1", "subaccount": "Brand A", "user": "ana",
         "campaign": 'Promo, "Fall"', "content_type": "template", "phone": "+5511987654321",
         "contact_name": "Ana", "content": "=1+1", "status": "delivered",
         "created_at": at(2, 10), "sent_at": at(2, 10, 1), "delivered_at": at(2, 10, 2),
         "correlation_id": "=cmd|' /C calc'!A0"},
        {**WA, "message_id": "e2", "subaccount": "Brand A", "user": "ana",
         "phone": "+5511987654321", "content": "+5511987654321", "status": "read",
         "created_at": at(2, 10, 5), "sent_at": at(2, 10, 6), "delivered_at": at(2, 10, 7),
         "read_at": at(2, 11)},
        {**WA, "message_id": "e3", "subaccount": "Brand B", "user": "bruno",
         "phone": "+5521912345678", "content": "-10", "status": "error", "error_code": "131026",
         "error_description": "@SUM(A1)", "created_at": at(2, 11)},
        # Yesterday: 3 WhatsApp MT, 1 MO; the last MT is at 23:30 local, 02:30 UTC the next day.
        {**WA, "message_id": "e4", "subaccount": "Brand B", "content_type": "image",
         "phone": "+5521912345678", "contact_name": '""=1', "content": QUOTED, "status": "sent",
         "created_at": at(1, 9), "sent_at": at(1, 9, 1)},
        {**WA, "message_id": "e5", "subaccount": "Brand A", "direction": "MO",
         "phone": "+5511987654321", "content": "-1+1", "status": "received",
         "created_at": at(1, 9, 30)},
        {**WA, "message_id": "e6", "subaccount": "Brand A", "user": "ana",
         "phone": "+5531955554444", "content": "@SUM(A1)", "status": "error",
         "error_code": "131047",
         "error_description": "Re-engagement message", "created_at": at(1, 12),
         "sent_at": at(1, 12, 1)},
        {**WA, "message_id": "e7", "subaccount": "Brand B", "user": "bruno",
         "phone": "+5531955554444", "content": "+1+1", "status": "queued",
         "created_at": at(1, 23, 30)},
        # One SMS of Brand A yesterday.
        {"channel": "sms", "direction": "MT", "content_type": "text", "message_id": "s1",
         "subaccount": "Brand A", "phone": "+5511987654321", "content": "Codigo 1234",
         "status": "delivered", "created_at": at(1, 8), "sent_at": at(1, 8, 1),
         "delivered_at": at(1, 8, 2)},
    ]
    # fmt: on


# WhatsApp, both days, newest first (the detailed view's default order).
NEWEST_FIRST = ["e7", "e6", "e5", "e4", "e3", "e2", "e1"]

# The WhatsApp consolidated figures per day (MT only except `received`), worked out by hand:
# day 2: total 3 (e1, e2, e3), sent 2 (e1, e2), delivered 2, read 1 (e2), errors 1 (e3).
# day 1: total 3 (e4, e6, e7), sent 2 (e4, e6), delivered 0, read 0, errors 1 (e6); MO 1 (e5).
DAILY = {
    2: {"total": 3, "sent": 2, "delivered": 2, "read": 1, "errors": 1, "received": 0},
    1: {"total": 3, "sent": 2, "delivered": 0, "read": 0, "errors": 1, "received": 1},
}
TOTALS = {"total": 6, "sent": 4, "delivered": 2, "read": 1, "errors": 2, "received": 1}


def load(engine, load_rows) -> None:
    """Load the rows, then store the three values the loader's trimming would change."""
    load_rows(engine, rows())
    with engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.message_id == "e5").values(content="\t=1"))
        conn.execute(
            update(messages).where(messages.c.message_id == "e7").values(contact_name=" =1")
        )
        conn.execute(
            update(messages).where(messages.c.message_id == "e3").values(correlation_id="\r=1")
        )


def subaccount_ids(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {row.name: row.id for row in conn.execute(select(subaccounts))}


def scope_of(engine, *names: str) -> AccessScope:
    ids = subaccount_ids(engine)
    return AccessScope.of(ids[n] for n in (names or ids))
