"""The recent index gains each message's row and its kept events' hashes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

On DuckDB the recent index (data_access/message_keys.py) is built again with two more columns:
where each recent message's row is, so a status reads and updates that row instead of its whole
day, and the hashes of the message's kept events, so a replayed one is recognised without
reading the day's events. PostgreSQL finds both by key: nothing changes there.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from data_access import message_keys

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The index as revision 0007 made it.
_BEFORE = (
    "CREATE TABLE recent_keys (key_hash UBIGINT NOT NULL, message_id VARCHAR NOT NULL, "
    "created_day DATE NOT NULL, subaccount_id INTEGER NOT NULL, channel VARCHAR NOT NULL, "
    "direction VARCHAR NOT NULL)",
    "CREATE INDEX recent_keys_hash ON recent_keys (key_hash)",
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "duckdb":
        message_keys.rebuild_recent(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "duckdb":
        bind.execute(text("CREATE TEMP TABLE recent_keys_kept AS SELECT * FROM recent_keys"))
        bind.execute(text("DROP INDEX IF EXISTS recent_keys_hash"))
        bind.execute(text("DROP TABLE recent_keys"))
        for statement in _BEFORE:
            bind.execute(text(statement))
        bind.execute(
            text(
                "INSERT INTO recent_keys SELECT key_hash, message_id, created_day, "
                "subaccount_id, channel, direction FROM recent_keys_kept"
            )
        )
        bind.execute(text("DROP TABLE recent_keys_kept"))
        bind.execute(text("DELETE FROM store_meta WHERE key = 'next_message_row'"))
