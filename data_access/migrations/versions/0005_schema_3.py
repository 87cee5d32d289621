"""Schema 3: the webhook writers' scopes, and the audit trail.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

audit_log came with a start of schema 2 (create_all) before schema 3 named it, and a hand
upgrade cut short may have left some columns: each is added only when missing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from data_access.migrations import set_schema_version

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# (table, column, length): every one a VARCHAR.
COLUMNS = (
    ("channel_numbers", "callback_token_hash", 64),
    ("inbox", "scope", 200),
    ("pending_statuses", "scope", 200),
)

schema_3 = sa.MetaData()
audit_log = sa.Table(
    "audit_log",
    schema_3,
    sa.Column("id", sa.BigInteger, sa.Sequence("audit_log_id_seq"), primary_key=True),
    # AT is a keyword to DuckDB's parser: always quoted.
    sa.Column("at", sa.DateTime, nullable=False, quote=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("detail", sa.Text, nullable=False, server_default=""),
    sa.Column("address", sa.String(64)),
    sa.Column("subaccount_id", sa.Integer),
    sa.Index("audit_log_at", "at"),
)


def upgrade() -> None:
    for table_name, column_name, length in COLUMNS:
        op.add_column(table_name, sa.Column(column_name, sa.String(length)), if_not_exists=True)
    audit_log.create(op.get_bind(), checkfirst=True)  # with its sequence and index
    set_schema_version("3")


def downgrade() -> None:
    audit_log.drop(op.get_bind())
    op.execute(sa.schema.DropSequence(sa.Sequence("audit_log_id_seq"), if_exists=True))
    for table_name, column_name, _length in reversed(COLUMNS):
        op.drop_column(table_name, column_name)
    set_schema_version("2")
