"""Schema 2, first step: contacts keep the last six digits of their number.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05

Schema 2 takes three revisions, each its own transaction: DuckDB cannot build an index over
rows changed in the same transaction. Stores whose upgrade by hand (before these revisions)
was cut short may already hold the column, hence "if not exists".
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

contacts = sa.table("contacts", sa.column("phone"), sa.column("phone_tail"))


def upgrade() -> None:
    op.add_column("contacts", sa.Column("phone_tail", sa.String(6)), if_not_exists=True)
    op.execute(contacts.update().values(phone_tail=sa.func.right(contacts.c.phone, 6)))


def downgrade() -> None:
    op.drop_column("contacts", "phone_tail")
