"""The embedded store without an in-memory key index over every message.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

DuckDB keeps a primary key's ART index wholly in memory (about 60 bytes a message). On DuckDB
the messages are copied, in creation order, into a table without it, and the keys the write
path looks ids up by (data_access/message_keys.py) are built from them. PostgreSQL keeps its
primary key: nothing changes there.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from data_access import message_keys
from data_access.migrations import set_schema_version

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "duckdb":
        message_keys.copy_messages(bind, keyed=False)
        message_keys.create(bind)
        message_keys.rebuild(bind)
    set_schema_version("5")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "duckdb":
        bind.execute(text("DROP TABLE IF EXISTS recent_keys"))
        bind.execute(text("DROP TABLE IF EXISTS message_keys"))
        message_keys.copy_messages(bind, keyed=True)
    set_schema_version("4")
