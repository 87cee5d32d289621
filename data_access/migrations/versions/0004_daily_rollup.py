"""Schema 2, last step: the daily roll-up, counted from the messages.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

The count is written out here as schema 2 had it, not taken from data_access/rollup.py, whose
columns may move on with later revisions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from data_access.migrations import set_schema_version

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

schema_2 = sa.MetaData()
daily_rollup = sa.Table(
    "daily_rollup",
    schema_2,
    sa.Column("created_day", sa.Date, nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("direction", sa.String(2), nullable=False),
    sa.Column("subaccount_id", sa.Integer, nullable=False),
    sa.Column("user_id", sa.Integer),
    sa.Column("campaign_id", sa.Integer),
    sa.Column("content_type", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error_code", sa.String(32)),
    sa.Column("error_description", sa.Text),
    sa.Column("message_count", sa.BigInteger, nullable=False),
    sa.Column("sent_count", sa.BigInteger, nullable=False),
    sa.Column("delivered_count", sa.BigInteger, nullable=False),
    sa.Column("read_count", sa.BigInteger, nullable=False),
)

KEY_COLUMNS = (
    "created_day",
    "channel",
    "direction",
    "subaccount_id",
    "user_id",
    "campaign_id",
    "content_type",
    "status",
    "error_code",
)
messages = sa.table(
    "messages",
    *(sa.column(name) for name in KEY_COLUMNS),
    sa.column("error_description"),
    sa.column("sent_at"),
    sa.column("delivered_at"),
    sa.column("read_at"),
)


def upgrade() -> None:
    bind = op.get_bind()
    daily_rollup.create(bind, checkfirst=True)
    if bind.dialect.name == "postgresql":
        op.create_index(
            "daily_rollup_day_channel",
            "daily_rollup",
            ["created_day", "channel", "subaccount_id"],
            if_not_exists=True,
        )
    keys = [messages.c[name] for name in KEY_COLUMNS]
    counted = sa.select(
        *keys,
        sa.func.min(messages.c.error_description),
        sa.func.count(),
        sa.func.count(messages.c.sent_at),
        sa.func.count(messages.c.delivered_at),
        sa.func.count(messages.c.read_at),
    ).group_by(*keys)
    target = [
        *KEY_COLUMNS,
        "error_description",
        "message_count",
        "sent_count",
        "delivered_count",
        "read_count",
    ]
    op.execute(daily_rollup.delete())  # a hand upgrade cut short may have left rows
    op.execute(daily_rollup.insert().from_select(target, counted))
    set_schema_version("2")


def downgrade() -> None:
    daily_rollup.drop(op.get_bind())
    set_schema_version("1")
