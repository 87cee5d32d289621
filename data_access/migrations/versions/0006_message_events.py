"""Every status a message received (message_events), and waiting statuses that expire.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05

A start of schema 3 (create_all) may already have made message_events: created only when
missing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from data_access.migrations import set_schema_version

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

events = sa.MetaData()
message_events = sa.Table(
    "message_events",
    events,
    sa.Column("message_id", sa.String(128), nullable=False),
    sa.Column("created_day", sa.Date, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("event_at", sa.DateTime),
    sa.Column("error_code", sa.String(32)),
    sa.Column("error_description", sa.Text),
    sa.Column("raw_status", sa.String(64)),
    sa.Column("recorded_at", sa.DateTime, nullable=False),
)


def upgrade() -> None:
    bind = op.get_bind()
    message_events.create(bind, checkfirst=True)
    if bind.dialect.name == "postgresql":
        op.create_index(
            "message_events_message",
            "message_events",
            ["message_id", "created_day"],
            if_not_exists=True,
        )
    op.add_column("pending_statuses", sa.Column("expired_at", sa.DateTime), if_not_exists=True)
    set_schema_version("4")


def downgrade() -> None:
    op.drop_column("pending_statuses", "expired_at")
    message_events.drop(op.get_bind())
    set_schema_version("3")
