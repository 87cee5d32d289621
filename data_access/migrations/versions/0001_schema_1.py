"""Schema 1, the baseline: messages, contacts, accounts, sign-in, ingestion and exports.

Revision ID: 0001
Revises:
Create Date: 2026-12-05

The tables as schema version 1 left them, frozen here (data_access/tables.py moves on).
Stores of version 1 were made with fewer tables early on and got the rest from create_all at
a later start, so each table is created only when missing; a version 1 store runs this.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from data_access.migrations import set_schema_version

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

schema_1 = sa.MetaData()

sa.Table(
    "store_meta",
    schema_1,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
sa.Table(
    "subaccounts",
    schema_1,
    sa.Column("id", sa.Integer, sa.Sequence("subaccounts_id_seq"), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
)
sa.Table(
    "users",
    schema_1,
    sa.Column("id", sa.Integer, sa.Sequence("users_id_seq"), primary_key=True),
    sa.Column("username", sa.String(200), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200)),
    sa.Column("password_hash", sa.Text),
    sa.Column("role", sa.String(16), nullable=False, server_default="user"),
    sa.Column("language", sa.String(8), nullable=False, server_default="es"),
    sa.Column("timezone", sa.String(64)),
    sa.Column("active", sa.Boolean, nullable=False, server_default="true"),
    sa.Column("totp_secret", sa.String(64)),
)
sa.Table(
    "user_subaccounts",
    schema_1,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("subaccount_id", sa.Integer, sa.ForeignKey("subaccounts.id"), primary_key=True),
)
sa.Table(
    "login_failures",
    schema_1,
    sa.Column("id", sa.BigInteger, sa.Sequence("login_failures_id_seq"), primary_key=True),
    sa.Column("username", sa.String(200), nullable=False),
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("failed_at", sa.DateTime, nullable=False),
)
sa.Table(
    "user_sessions",
    schema_1,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)
sa.Table(
    "totp_steps",
    schema_1,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("last_step", sa.BigInteger, nullable=False),
)
sa.Table(
    "campaigns",
    schema_1,
    sa.Column("id", sa.Integer, sa.Sequence("campaigns_id_seq"), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
)
sa.Table(
    "contacts",
    schema_1,
    sa.Column("id", sa.BigInteger, sa.Sequence("contacts_id_seq"), primary_key=True),
    sa.Column("phone", sa.String(16), nullable=False, unique=True),
)
sa.Table(
    "messages",
    schema_1,
    sa.Column("message_id", sa.String(128), primary_key=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("direction", sa.String(2), nullable=False),
    sa.Column("subaccount_id", sa.Integer, nullable=False),
    sa.Column("user_id", sa.Integer),
    sa.Column("campaign_id", sa.Integer),
    sa.Column("content_type", sa.String(32), nullable=False),
    sa.Column("contact_id", sa.BigInteger, nullable=False),
    sa.Column("contact_name", sa.Text),
    sa.Column("content", sa.Text),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error_code", sa.String(32)),
    sa.Column("error_description", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("created_day", sa.Date, nullable=False),
    sa.Column("sent_at", sa.DateTime),
    sa.Column("delivered_at", sa.DateTime),
    sa.Column("read_at", sa.DateTime),
    sa.Column("correlation_id", sa.String(128)),
)
sa.Table(
    "api_keys",
    schema_1,
    sa.Column("id", sa.Integer, sa.Sequence("api_keys_id_seq"), primary_key=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("subaccount_id", sa.Integer, nullable=False),
    sa.Column("label", sa.String(200)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("revoked_at", sa.DateTime),
)
sa.Table(
    "channel_numbers",
    schema_1,
    sa.Column("channel", sa.String(16), primary_key=True),
    sa.Column("number_id", sa.String(64), primary_key=True),
    sa.Column("subaccount_id", sa.Integer, nullable=False),
    sa.Column("label", sa.String(200)),
)
sa.Table(
    "inbox",
    schema_1,
    sa.Column("id", sa.BigInteger, sa.Sequence("inbox_id_seq"), primary_key=True),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime, nullable=False),
    sa.Column("processed_at", sa.DateTime),
    sa.Column("problems", sa.Text),
)
sa.Table(
    "pending_statuses",
    schema_1,
    sa.Column("message_id", sa.String(128), primary_key=True),
    sa.Column("status", sa.String(16), primary_key=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("event_at", sa.DateTime),
    sa.Column("error_code", sa.String(32)),
    sa.Column("error_description", sa.Text),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Column("problem", sa.Text),
)
sa.Table(
    "sms_batch_reports",
    schema_1,
    sa.Column("batch_id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), primary_key=True),
    sa.Column("code", sa.String(16), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("client_reference", sa.String(128)),
    sa.Column("reported_at", sa.DateTime, nullable=False),
)
sa.Table(
    "export_jobs",
    schema_1,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("requested_at", sa.DateTime, nullable=False),
    sa.Column("user_id", sa.Integer),
    sa.Column("username", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("view", sa.String(16), nullable=False),
    sa.Column("format", sa.String(8), nullable=False),
    sa.Column("filters", sa.Text, nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("request_day", sa.Date, nullable=False),
    sa.Column("request_key", sa.String(64), nullable=False),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("rows_total", sa.BigInteger),
    sa.Column("rows_written", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("file_size", sa.BigInteger),
    sa.Column("error", sa.String(32)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("worker", sa.String(200)),
    sa.Column("started_at", sa.DateTime),
    sa.Column("heartbeat_at", sa.DateTime),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("expires_at", sa.DateTime),
)
sa.Table(
    "export_job_subaccounts",
    schema_1,
    sa.Column("job_id", sa.String(64), primary_key=True),
    sa.Column("subaccount_id", sa.Integer, primary_key=True),
)

# DuckDB prunes by zone maps over insertion order; PostgreSQL needs B-trees.
POSTGRES_INDEXES = {
    "messages_day_channel": ["created_day", "channel", "subaccount_id"],
    "messages_contact_created": ["contact_id", "created_at"],
    "messages_created": ["created_at"],
}


def upgrade() -> None:
    bind = op.get_bind()
    schema_1.create_all(bind, checkfirst=True)  # with their sequences; existing tables kept
    if bind.dialect.name == "postgresql":
        for name, columns in POSTGRES_INDEXES.items():
            op.create_index(name, "messages", columns, if_not_exists=True)
    set_schema_version("1")


def downgrade() -> None:
    schema_1.drop_all(op.get_bind())
