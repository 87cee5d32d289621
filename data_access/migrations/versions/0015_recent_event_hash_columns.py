"""The recent index keeps its first event hashes in columns of their own.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

On DuckDB each recent key (data_access/message_keys.py) kept the hashes of its message's events
as a list. DuckDB changes a list by deleting the row and inserting it again, index entry and
all, so every status merged rewrote its key's row: 1,000 keys took 65 ms among 2.7 million.
The first four hashes now have a column each, which DuckDB changes in place (20 ms); a message
with more events keeps the rest in a list. The index is built again from the messages and
their events. PostgreSQL finds events by key: nothing changes there.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from data_access import message_keys

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# The index as revision 0011 made it.
_BEFORE = (
    "CREATE TABLE recent_keys (key_hash UBIGINT NOT NULL, message_id VARCHAR NOT NULL, "
    "created_day DATE NOT NULL, subaccount_id INTEGER NOT NULL, channel VARCHAR NOT NULL, "
    "direction VARCHAR NOT NULL, message_row BIGINT, event_hashes UBIGINT[])",
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
                "subaccount_id, channel, direction, message_row, "
                f"{message_keys.kept_hashes('recent_keys_kept')} FROM recent_keys_kept"
            )
        )
        bind.execute(text("DROP TABLE recent_keys_kept"))
