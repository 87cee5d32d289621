"""The embedded store without in-memory key indexes over every message and contact.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

DuckDB keeps a key's ART index wholly in memory: about 60 bytes a message for the messages'
primary key, about 140 bytes a contact for the contacts' key, unique phone and phone-tail
index. On DuckDB the messages (in creation order) and the contacts (in id order) are copied
into tables without them, and the keys the write path looks ids up by
(data_access/message_keys.py) are built. PostgreSQL keeps its keys: nothing changes there.
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
        message_keys.copy_unkeyed(bind, keyed=False)
        message_keys.create(bind)
        message_keys.rebuild(bind)
    set_schema_version("5")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "duckdb":
        bind.execute(text("DROP TABLE IF EXISTS recent_keys"))
        bind.execute(text("DROP TABLE IF EXISTS message_keys"))
        message_keys.copy_unkeyed(bind, keyed=True)
    set_schema_version("4")
