"""Delivery times kept with the roll-up: delivery_time_rollup, counted from the messages.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

The buckets and the count are written out here as this revision has them, not taken from
data_access, whose buckets may move on with later revisions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_metadata = sa.MetaData()
delivery_time_rollup = sa.Table(
    "delivery_time_rollup",
    _metadata,
    sa.Column("created_day", sa.Date, nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("direction", sa.String(2), nullable=False),
    sa.Column("subaccount_id", sa.Integer, nullable=False),
    sa.Column("user_id", sa.Integer),
    sa.Column("campaign_id", sa.Integer),
    sa.Column("content_type", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("bucket", sa.SmallInteger, nullable=False),
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
)
BUCKET_BOUNDS = (
    1, 2, 3, 5, 7, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 450, 600, 900, 1200, 1800, 2700,
    3600, 5400, 7200, 10800, 21600, 43200, 86400, 172800, 604800,
)  # fmt: skip
messages = sa.table(
    "messages",
    *(sa.column(name) for name in KEY_COLUMNS),
    sa.column("created_at", sa.DateTime),
    sa.column("delivered_at", sa.DateTime),
    sa.column("read_at", sa.DateTime),
)


def _counted():
    c = messages.c
    keys = [c[name] for name in KEY_COLUMNS]

    def branch(at, delivered: int, read: int):
        return sa.select(
            *keys,
            sa.extract("epoch", at - c.created_at).label("seconds"),
            sa.literal(delivered).label("delivered"),
            sa.literal(read).label("read"),
        ).where(at.is_not(None))

    # The delay a column of its own, so it is worked out once per message, not per bound.
    both = sa.union_all(branch(c.delivered_at, 1, 0), branch(c.read_at, 0, 1)).subquery()
    b = both.c
    bucket = sa.case(
        *((b.seconds <= bound, index) for index, bound in enumerate(BUCKET_BOUNDS)),
        else_=len(BUCKET_BOUNDS),
    )
    bucketed = sa.select(
        *(b[name] for name in KEY_COLUMNS), bucket.label("bucket"), b.delivered, b.read
    ).subquery()
    t = bucketed.c
    return sa.select(
        *(t[name] for name in KEY_COLUMNS), t.bucket, sa.func.sum(t.delivered), sa.func.sum(t.read)
    ).group_by(*(t[name] for name in KEY_COLUMNS), t.bucket)


def upgrade() -> None:
    bind = op.get_bind()
    delivery_time_rollup.create(bind, checkfirst=True)
    if bind.dialect.name == "postgresql":
        op.create_index(
            "delivery_time_rollup_day_channel",
            "delivery_time_rollup",
            ["created_day", "channel", "subaccount_id"],
            if_not_exists=True,
        )
    target = [*KEY_COLUMNS, "bucket", "delivered_count", "read_count"]
    op.execute(delivery_time_rollup.delete())  # a hand upgrade cut short may have left rows
    op.execute(delivery_time_rollup.insert().from_select(target, _counted()))


def downgrade() -> None:
    delivery_time_rollup.drop(op.get_bind())
