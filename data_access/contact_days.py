"""The days a contact's messages fall on, kept on the contact, so a phone search reads only those.

The embedded store keeps no index over the messages: a phone search compared the contact of
every message in its range (at 100M messages, every one of them). The messages are stored in
day order, so a query that names its days reads only those days' row groups.

Each contact keeps `active_days`, a number whose bit (day number modulo DAY_BITS) is set for
every local day one of its messages was created on. Days DAY_BITS apart share a bit, and a
message removed (retention) leaves its bit set, so the days a contact's bits name are all of
its days and perhaps a few more: a search reads a little more than it needs and misses
nothing. A contact whose bits are not known (NULL) is searched on every day of the range.

Whatever stores messages sets their contacts' bits in the same transaction: the merge for new
messages, the time zone change (which moves messages between days) for all of them.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import BigInteger, Connection, Date, Integer, cast, func, literal, select, update
from sqlalchemy.sql.expression import ColumnElement

from data_access.tables import contacts, messages

# Bits of a BIGINT used (the 64th is its sign).
DAY_BITS = 62
EPOCH = date(1970, 1, 1)


def day_bit(day: ColumnElement) -> ColumnElement:
    """The bit of a day column, as SQL (the same in DuckDB and PostgreSQL)."""
    # (PostgreSQL shifts a BIGINT by an INTEGER only.)
    shift = cast((day - literal(EPOCH, Date)) % DAY_BITS, Integer)
    return cast(literal(1), BigInteger).op("<<")(shift)


def days_in(mask: int, start: date, end: date) -> list[date]:
    """The days from start to end (inclusive) whose bit `mask` has."""
    days = []
    day = start
    while day <= end:
        if mask >> ((day - EPOCH).days % DAY_BITS) & 1:
            days.append(day)
        day += timedelta(days=1)
    return days


def mark(conn: Connection, rows, where) -> None:
    """Set the bits of the days of `rows` (a table of new messages: contact_id, created_day)
    matching `where` on their contacts."""
    r = rows.c
    bits = (
        select(r.contact_id, func.bit_or(day_bit(r.created_day)).label("bits"))
        .where(where, r.contact_id.is_not(None))
        .group_by(r.contact_id)
        .subquery("new_days")
    )
    days = contacts.c.active_days
    conn.execute(
        update(contacts)
        .where(contacts.c.id == bits.c.contact_id, days.op("&")(bits.c.bits) != bits.c.bits)
        .values(active_days=days.op("|")(bits.c.bits))
    )


def recount(conn: Connection) -> None:
    """Every contact's bits again from its stored messages."""
    m = messages.c
    conn.execute(update(contacts).values(active_days=0))
    bits = (
        select(m.contact_id, func.bit_or(day_bit(m.created_day)).label("bits"))
        .group_by(m.contact_id)
        .subquery("all_days")
    )
    conn.execute(
        update(contacts).where(contacts.c.id == bits.c.contact_id).values(active_days=bits.c.bits)
    )
