"""Country, operator and template: contacts.country, the three on messages and the roll-up, and
the operator of a status waiting for its message; the delivery times' histogram keyed by them too.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05

The stored contacts get their country from their number (the phonenumbers library, as
data_access/countries.py reads it when a contact is written; written out here so the revision
does not move with that module), their messages take it, and the roll-up is counted again with
the new keys, and so is the delivery times' histogram (revision 0009's buckets, written out
here). Operator and template stay empty for the messages stored before: no file had them.
"""

from __future__ import annotations

import pandas as pd
import phonenumbers
import sqlalchemy as sa
from alembic import op
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

from data_access.sql import raw_connection

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# (table, column, length): every one a VARCHAR.
COLUMNS = (
    ("contacts", "country", 2),
    ("messages", "country", 2),
    ("messages", "operator", 100),
    ("messages", "template", 512),
    ("daily_rollup", "country", 2),
    ("daily_rollup", "operator", 100),
    ("daily_rollup", "template", 512),
    ("delivery_time_rollup", "country", 2),
    ("delivery_time_rollup", "operator", 100),
    ("delivery_time_rollup", "template", 512),
    ("pending_statuses", "operator", 100),
)
UNKNOWN = "ZZ"
# Contacts read and written at a time.
BATCH = 100_000


def country_of(digits: str) -> str:
    if not digits.isdigit() or digits.startswith("0"):
        return UNKNOWN
    for length in range(1, 4):
        regions = COUNTRY_CODE_TO_REGION_CODE.get(int(digits[:length]))
        if regions is None:
            continue
        if len(regions) == 1:
            return UNKNOWN if regions[0] == "001" else regions[0]
        try:
            parsed = phonenumbers.parse("+" + digits)
        except phonenumbers.NumberParseException:
            return UNKNOWN
        return phonenumbers.region_code_for_number(parsed) or UNKNOWN
    return UNKNOWN


contacts = sa.table("contacts", sa.column("id"), sa.column("phone"), sa.column("country"))
messages = sa.table("messages", sa.column("contact_id"), sa.column("country"))
found = sa.Table(
    "contact_countries",
    sa.MetaData(),
    sa.Column("id", sa.BigInteger),
    sa.Column("country", sa.String(2)),
    prefixes=["TEMPORARY"],
)

ROLLUP_KEYS = (
    "created_day",
    "channel",
    "direction",
    "subaccount_id",
    "user_id",
    "campaign_id",
    "content_type",
    "status",
    "error_code",
    "country",
    "operator",
    "template",
)
ROLLUP_TARGET = [
    *ROLLUP_KEYS,
    "error_description",
    "message_count",
    "sent_count",
    "delivered_count",
    "read_count",
]
rollup = sa.table("daily_rollup", *(sa.column(name) for name in ROLLUP_TARGET))
counted = sa.table(
    "messages",
    *(sa.column(name) for name in ROLLUP_KEYS),
    sa.column("error_description"),
    sa.column("sent_at"),
    sa.column("delivered_at"),
    sa.column("read_at"),
)


def _stage(bind, frame: pd.DataFrame) -> None:
    if bind.dialect.name == "duckdb":
        raw = raw_connection(bind)
        raw.register("contact_countries_view", frame)
        try:
            raw.execute(
                "INSERT INTO contact_countries SELECT id, country FROM contact_countries_view"
            )
        finally:
            raw.unregister("contact_countries_view")
    else:
        bind.execute(found.insert(), frame.to_dict("records"))


def upgrade() -> None:
    bind = op.get_bind()
    for table_name, column_name, length in COLUMNS:
        op.add_column(table_name, sa.Column(column_name, sa.String(length)), if_not_exists=True)
    found.create(bind)
    last = None
    while True:
        query = sa.select(contacts.c.id, contacts.c.phone).order_by(contacts.c.id).limit(BATCH)
        if last is not None:
            query = query.where(contacts.c.id > last)
        rows = bind.execute(query).all()
        if not rows:
            break
        last = rows[-1][0]
        _stage(
            bind,
            pd.DataFrame({"id": [r[0] for r in rows], "country": [country_of(r[1]) for r in rows]}),
        )
    op.execute(contacts.update().where(contacts.c.id == found.c.id).values(country=found.c.country))
    found.drop(bind)
    op.execute(
        messages.update()
        .where(messages.c.contact_id == contacts.c.id)
        .values(country=contacts.c.country)
    )
    _recount(ROLLUP_KEYS)
    _recount_times(TIME_KEYS)


TIME_KEYS = tuple(k for k in ROLLUP_KEYS if k != "error_code")
OLD_TIME_KEYS = tuple(k for k in TIME_KEYS if k not in ("country", "operator", "template"))
BUCKET_BOUNDS = (
    1, 2, 3, 5, 7, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 450, 600, 900, 1200, 1800, 2700,
    3600, 5400, 7200, 10800, 21600, 43200, 86400, 172800, 604800,
)  # fmt: skip
timed = sa.table(
    "messages",
    *(sa.column(name) for name in TIME_KEYS),
    sa.column("created_at", sa.DateTime),
    sa.column("delivered_at", sa.DateTime),
    sa.column("read_at", sa.DateTime),
)


def _recount_times(keys: tuple[str, ...]) -> None:
    """The delivery times' histogram counted again over `keys` (as revision 0009 counts it)."""
    c = timed.c

    def branch(at, delivered: int, read: int):
        return sa.select(
            *(c[name] for name in keys),
            sa.extract("epoch", at - c.created_at).label("seconds"),
            sa.literal(delivered).label("delivered"),
            sa.literal(read).label("read"),
        ).where(at.is_not(None))

    both = sa.union_all(branch(c.delivered_at, 1, 0), branch(c.read_at, 0, 1)).subquery()
    b = both.c
    bucket = sa.case(
        *((b.seconds <= bound, index) for index, bound in enumerate(BUCKET_BOUNDS)),
        else_=len(BUCKET_BOUNDS),
    )
    bucketed = sa.select(
        *(b[name] for name in keys), bucket.label("bucket"), b.delivered, b.read
    ).subquery()
    t = bucketed.c
    recount = sa.select(
        *(t[name] for name in keys), t.bucket, sa.func.sum(t.delivered), sa.func.sum(t.read)
    ).group_by(*(t[name] for name in keys), t.bucket)
    target = [*keys, "bucket", "delivered_count", "read_count"]
    histogram = sa.table("delivery_time_rollup", *(sa.column(name) for name in target))
    op.execute(histogram.delete())
    op.execute(histogram.insert().from_select(target, recount))


def _recount(keys: tuple[str, ...]) -> None:
    columns = [counted.c[name] for name in keys]
    recount = sa.select(
        *columns,
        sa.func.min(counted.c.error_description),
        sa.func.count(),
        sa.func.count(counted.c.sent_at),
        sa.func.count(counted.c.delivered_at),
        sa.func.count(counted.c.read_at),
    ).group_by(*columns)
    target = [*keys, *ROLLUP_TARGET[len(ROLLUP_KEYS) :]]
    op.execute(rollup.delete())
    op.execute(rollup.insert().from_select(target, recount))


def downgrade() -> None:
    # Counted again over the keys that stay, while the messages still have every column.
    _recount(tuple(k for k in ROLLUP_KEYS if k not in ("country", "operator", "template")))
    _recount_times(OLD_TIME_KEYS)
    for table_name, column_name, _length in reversed(COLUMNS):
        op.drop_column(table_name, column_name)
