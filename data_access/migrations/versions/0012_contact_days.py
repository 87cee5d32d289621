"""Each contact keeps the days of its messages as bits, so a phone search reads only those days.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

contacts.active_days has the bit (day number modulo 62) of every local day one of the
contact's messages was created on (data_access/contact_days.py); counted here from the stored
messages, written out so the revision does not move with that module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_COUNT = (
    "UPDATE contacts SET active_days = found.bits FROM ("
    "SELECT contact_id, bit_or(CAST(1 AS BIGINT) << "
    "CAST((created_day - DATE '1970-01-01') % 62 AS INTEGER)) AS bits "
    "FROM messages GROUP BY contact_id) AS found WHERE contacts.id = found.contact_id"
)


def upgrade() -> None:
    op.add_column("contacts", sa.Column("active_days", sa.BigInteger), if_not_exists=True)
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE contacts SET active_days = 0"))
    bind.execute(sa.text(_COUNT))


def downgrade() -> None:
    op.drop_column("contacts", "active_days")
