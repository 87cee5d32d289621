"""Country, operator and template: contacts.country, the three on messages and the roll-up, and
the operator of a status waiting for its message.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

The stored contacts get their country from their number (the phonenumbers library, as
data_access/countries.py reads it when a contact is written; written out here so the revision
does not move with that module), their messages take it, and the roll-up is counted again with
the new keys. Operator and template stay empty for the messages stored before: no file had them.
"""

from __future__ import annotations

import pandas as pd
import phonenumbers
import sqlalchemy as sa
from alembic import op
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

from data_access.sql import raw_connection

revision = "0009"
down_revision = "0008"
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
    for table_name, column_name, _length in reversed(COLUMNS):
        op.drop_column(table_name, column_name)
