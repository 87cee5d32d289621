"""The roll-up keyed by the error description too: a row per description of a code.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

Before, a roll-up row kept the smallest description of its messages, which a message leaving
the row (an error later delivered) could take away, and the row's description was then read
again from the day's messages. Now the description is one of the keys, so a message leaving a
row takes its description's count with it (data_access/rollup.py). The days that still have
messages are counted again from them; the rows of days whose messages retention removed keep
the description they had (the smallest), as the only row of their key. The rows go in by day,
so a write's update of a few days' rows skips the row groups of the others.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

KEYS = (
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
COUNTS = (
    "count(*)",
    "count(sent_at)",
    "count(delivered_at)",
    "count(read_at)",
)
COUNTED = ("message_count", "sent_count", "delivered_count", "read_count")
TARGET = (*KEYS, "error_description", *COUNTED)
STORED_DAYS = "SELECT DISTINCT created_day FROM messages"


def _recount(description: str, grouped: tuple[str, ...]) -> str:
    return (
        f"INSERT INTO daily_rollup ({', '.join(TARGET)}) "
        f"SELECT {', '.join(KEYS)}, {description}, {', '.join(COUNTS)} FROM messages "
        f"GROUP BY {', '.join(grouped)} ORDER BY created_day"
    )


def upgrade() -> None:
    bind = op.get_bind()
    bind.execute(sa.text(f"DELETE FROM daily_rollup WHERE created_day IN ({STORED_DAYS})"))
    bind.execute(sa.text(_recount("error_description", (*KEYS, "error_description"))))


def downgrade() -> None:
    bind = op.get_bind()
    bind.execute(sa.text(f"DELETE FROM daily_rollup WHERE created_day IN ({STORED_DAYS})"))
    bind.execute(sa.text(_recount("min(error_description)", KEYS)))
