"""What each person chose for their screen: user_preferences (the detailed table's columns).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05

A table apart from users: DuckDB cannot alter a table that other tables' keys point to.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_metadata = sa.MetaData()
user_preferences = sa.Table(
    "user_preferences",
    _metadata,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("table_columns", sa.String(400)),
)


def upgrade() -> None:
    # checkfirst: a store made before the revisions by a program that had the table has it.
    user_preferences.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    user_preferences.drop(op.get_bind())
