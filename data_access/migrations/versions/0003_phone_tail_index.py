"""Schema 2, second step: the phone tails indexed (a phone search starts with a lookup).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("contacts_phone_tail", "contacts", ["phone_tail"], if_not_exists=True)


def downgrade() -> None:
    op.drop_index("contacts_phone_tail", table_name="contacts")
