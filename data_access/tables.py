"""The store's tables, declared explicitly (SQLAlchemy Core) so DuckDB and PostgreSQL share them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Sequence,
    String,
    Table,
    Text,
)

SCHEMA_VERSION = "1"

metadata = MetaData()

store_meta = Table(
    "store_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

subaccounts = Table(
    "subaccounts",
    metadata,
    Column("id", Integer, Sequence("subaccounts_id_seq"), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
)

# Both the people who sign in and the senders named in loaded files; a sender has no password.
users = Table(
    "users",
    metadata,
    Column("id", Integer, Sequence("users_id_seq"), primary_key=True),
    Column("username", String(200), nullable=False, unique=True),
    Column("display_name", String(200)),
    Column("password_hash", Text),
    Column("role", String(16), nullable=False, server_default="user"),
    Column("language", String(8), nullable=False, server_default="es"),
    Column("timezone", String(64)),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("totp_secret", String(64)),
)

user_subaccounts = Table(
    "user_subaccounts",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("subaccount_id", Integer, ForeignKey("subaccounts.id"), primary_key=True),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Integer, Sequence("campaigns_id_seq"), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
)

# One row per phone number; phone search scans this small table, not the messages.
contacts = Table(
    "contacts",
    metadata,
    Column("id", BigInteger, Sequence("contacts_id_seq"), primary_key=True),
    Column("phone", String(16), nullable=False, unique=True),
)

# Timestamps are UTC without zone; created_day is the local day in the account time zone,
# kept at load time so day buckets need no per-row zone conversion.
messages = Table(
    "messages",
    metadata,
    Column("message_id", String(128), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("direction", String(2), nullable=False),
    Column("subaccount_id", Integer, nullable=False),
    Column("user_id", Integer),
    Column("campaign_id", Integer),
    Column("content_type", String(32), nullable=False),
    Column("contact_id", BigInteger, nullable=False),
    Column("contact_name", Text),
    Column("content", Text),
    Column("status", String(16), nullable=False),
    Column("error_code", String(32)),
    Column("error_description", Text),
    Column("created_at", DateTime, nullable=False),
    Column("created_day", Date, nullable=False),
    Column("sent_at", DateTime),
    Column("delivered_at", DateTime),
    Column("read_at", DateTime),
    Column("correlation_id", String(128)),
)

# DuckDB prunes by zone maps over insertion order (by created_at); PostgreSQL needs B-trees.
# Declared by name and bound only on PostgreSQL (see store.create_schema).
POSTGRES_INDEXES = {
    "messages_day_channel": ("created_day", "channel", "subaccount_id"),
    "messages_contact_created": ("contact_id", "created_at"),
    "messages_created": ("created_at",),
}
