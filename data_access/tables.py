"""The store's tables, declared explicitly (SQLAlchemy Core) so DuckDB and PostgreSQL share them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Sequence,
    SmallInteger,
    String,
    Table,
    Text,
    and_,
    cast,
    func,
    literal,
)
from sqlalchemy.sql.expression import ColumnClause

# 2: contacts.phone_tail and daily_rollup. 3: the webhook writers' scopes (channel_numbers.
# callback_token_hash, inbox.scope, pending_statuses.scope). 4: message_events and
# pending_statuses.expired_at. store.create_schema upgrades (data_access/migrations).
SCHEMA_VERSION = "5"

# The last digits of a number kept beside it, as a number: the shortest search (six digits)
# always ends with them, so a phone search is an index lookup (PostgreSQL) or a scan of one
# integer column (DuckDB: 2 ms at 2.3M contacts, where the same digits as text took 23 ms)
# instead of a suffix scan of every number (revision 0014 made them numbers).
PHONE_TAIL_DIGITS = 6


def phone_tail(phone):
    """The stored tail of a phone number, as SQL over the number's expression."""
    return cast(func.right(phone, PHONE_TAIL_DIGITS), Integer)


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

# What a person chose for their screen beyond language and time zone, one row per account
# (a table apart: DuckDB cannot alter a table other tables' keys point to, like users).
user_preferences = Table(
    "user_preferences",
    metadata,
    Column("user_id", Integer, primary_key=True, autoincrement=False),
    # The detailed table's columns the person chose, comma-separated (NULL: the defaults).
    Column("table_columns", String(400)),
)

user_subaccounts = Table(
    "user_subaccounts",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("subaccount_id", Integer, ForeignKey("subaccounts.id"), primary_key=True),
)

# Failed sign-in attempts of the last minutes, by typed username and client address, so every
# server process sharing the store counts the same attempts. A success clears the username's.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", BigInteger, Sequence("login_failures_id_seq"), primary_key=True),
    Column("username", String(200), nullable=False),
    Column("address", String(64), nullable=False),
    Column("failed_at", DateTime, nullable=False),
)

# One row per signed-in browser. The session cookie carries a random token, the store only its
# SHA-256; signing out, a new password or a disabled account deletes rows, and those cookies
# stop working at once, even copies of them.
user_sessions = Table(
    "user_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
)

# The last TOTP time step each user signed in with: a code is accepted once (RFC 6238, 5.2).
# A table of its own so stores made before two-step verification get it from create_all.
totp_steps = Table(
    "totp_steps",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("last_step", BigInteger, nullable=False),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Integer, Sequence("campaigns_id_seq"), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
)

# One row per phone number; phone search looks here first, then reads the contact's messages.
# id and phone are unique: PostgreSQL keeps them so by its constraints (POSTGRES_CONSTRAINTS);
# DuckDB, whose indexes live in memory (one about 140 bytes a contact), by the write path, and
# it finds ids without an index: they grow with the table, so its row groups are in id order.
contacts = Table(
    "contacts",
    metadata,
    Column("id", BigInteger, Sequence("contacts_id_seq"), nullable=False),
    Column("phone", String(16), nullable=False),
    Column("phone_tail", Integer),
    # The number's country (ISO 3166, ZZ unknown), from its calling code when first written
    # (data_access/countries.py).
    Column("country", String(2)),
    # A bit for each day its messages were created on (data_access/contact_days.py).
    Column("active_days", BigInteger),
)

# Timestamps are UTC without zone; created_day is the local day in the account time zone,
# kept at load time so day buckets need no per-row zone conversion. message_id is unique: on
# PostgreSQL its primary key (MESSAGES_PRIMARY_KEY) keeps it so; on DuckDB, whose key index
# would live in memory, the write path does, through data_access/message_keys.py.
messages = Table(
    "messages",
    metadata,
    Column("message_id", String(128), nullable=False),
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
    # The contact's country, copied when the message is first written, so counting by country
    # needs no join to the contacts.
    Column("country", String(2)),
    # The mobile network that carried it, where the channel reports one (Sinch's delivery
    # reports) or the writer gives it.
    Column("operator", String(100)),
    # The WhatsApp template's name, where a template was sent and the writer names it.
    Column("template", String(512)),
)

# DuckDB's row number of a stored message (the embedded store only): a way to a row, not an
# identity (rows move when the table is compacted).
MESSAGE_ROW = ColumnClause("rowid", BigInteger(), _selectable=messages)


def at_rows(rows: list[int]):
    """The messages at these row numbers (sorted, not empty): named as a range and a list,
    since DuckDB seeks to the range's row groups while it takes a list alone only to skip
    row groups (at 10M, 17 ms for 50 rows spread over 90 days against 190 ms)."""
    # The range's ends are written into the statement, not bound: a list of rows is already as
    # many parameters as a statement takes.
    low, high = (literal(row, BigInteger, literal_execute=True) for row in (rows[0], rows[-1]))
    return and_(MESSAGE_ROW.between(low, high), MESSAGE_ROW.in_(rows))


# Every status a message received, from whichever writer, kept once (a replayed webhook or a
# reloaded file adds nothing): the message detail's timeline, including a failure that a later
# status superseded. created_day is the message's, so a batch's duplicate check reads only the
# days it touches. event_at is naive UTC (empty where the writer gave no time for it).
message_events = Table(
    "message_events",
    metadata,
    Column("message_id", String(128), nullable=False),
    Column("created_day", Date, nullable=False),
    Column("source", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("event_at", DateTime),
    Column("error_code", String(32)),
    Column("error_description", Text),
    Column("raw_status", String(64)),
    Column("recorded_at", DateTime, nullable=False),
)

# The messages counted per local day and every filterable field: a few hundred thousand rows for
# ten million messages, so the consolidated figures, totals, error reasons, filter choices and
# detailed counts read this instead of the messages. The loader's merge recomputes the rows of
# the (day, channel, subaccount) it touched in the same transaction (data_access/rollup.py), so
# it always equals counting the messages; nullable key columns, hence no primary key.
daily_rollup = Table(
    "daily_rollup",
    metadata,
    Column("created_day", Date, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("direction", String(2), nullable=False),
    Column("subaccount_id", Integer, nullable=False),
    Column("user_id", Integer),
    Column("campaign_id", Integer),
    Column("content_type", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("error_code", String(32)),
    Column("error_description", Text),  # a key too: a row per description (revision 0013)
    Column("message_count", BigInteger, nullable=False),
    Column("sent_count", BigInteger, nullable=False),
    Column("delivered_count", BigInteger, nullable=False),
    Column("read_count", BigInteger, nullable=False),
    # Keys too, added after the counts (revision 0010).
    Column("country", String(2)),
    Column("operator", String(100)),
    Column("template", String(512)),
)

# Delivery times kept with the roll-up: per local day, filterable field (the roll-up's keys but
# the error code, which no filter names) and bucket of seconds (data_access/delivery_times.py),
# how many messages took that long from creation to delivered and to read. Kept by the same
# calls as the roll-up, in the same transaction, so it always equals counting the messages.
delivery_time_rollup = Table(
    "delivery_time_rollup",
    metadata,
    Column("created_day", Date, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("direction", String(2), nullable=False),
    Column("subaccount_id", Integer, nullable=False),
    Column("user_id", Integer),
    Column("campaign_id", Integer),
    Column("content_type", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("country", String(2)),
    Column("operator", String(100)),
    Column("template", String(512)),
    Column("bucket", SmallInteger, nullable=False),
    Column("delivered_count", BigInteger, nullable=False),
    Column("read_count", BigInteger, nullable=False),
)

# PostgreSQL's keys of the tables that have none on DuckDB: (table, constraint, its DDL).
POSTGRES_CONSTRAINTS = (
    ("messages", "messages_pkey", "PRIMARY KEY (message_id)"),
    ("contacts", "contacts_pkey", "PRIMARY KEY (id)"),
    ("contacts", "contacts_phone_key", "UNIQUE (phone)"),
)

# DuckDB prunes by zone maps over insertion order (by created_at); PostgreSQL needs B-trees.
# Declared by name and bound only on PostgreSQL (see store.create_schema).
POSTGRES_INDEXES = {
    "messages_day_channel": ("created_day", "channel", "subaccount_id"),
    "messages_contact_created": ("contact_id", "created_at"),
    "messages_created": ("created_at",),
}
POSTGRES_CONTACT_INDEXES = {
    "contacts_phone_tail": ("phone_tail",),
}
POSTGRES_EVENT_INDEXES = {
    "message_events_message": ("message_id", "created_day"),
}
POSTGRES_ROLLUP_INDEXES = {
    "daily_rollup_day_channel": ("created_day", "channel", "subaccount_id"),
}
POSTGRES_DELIVERY_TIME_INDEXES = {
    "delivery_time_rollup_day_channel": ("created_day", "channel", "subaccount_id"),
}

# ---- live ingestion (ingest/): API keys, channel numbers, the webhook inbox ----

# Only the SHA-256 of a key is kept; `prefix` lets people tell keys apart in listings.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, Sequence("api_keys_id_seq"), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("subaccount_id", Integer, nullable=False),
    Column("label", String(200)),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
)

# Which business number receives for which subaccount: a WhatsApp phone_number_id, or the
# digits of an SMS number (or short code) that inbound messages are sent to.
channel_numbers = Table(
    "channel_numbers",
    metadata,
    Column("channel", String(16), primary_key=True),
    Column("number_id", String(64), primary_key=True),
    Column("subaccount_id", Integer, nullable=False),
    Column("label", String(200)),
    # SHA-256 of the number's own Sinch callback token: reports posted with it are written in
    # this number's subaccount only.
    Column("callback_token_hash", String(64)),
)

# Every accepted webhook body, written before it is acknowledged. state: new, done, failed.
inbox = Table(
    "inbox",
    metadata,
    Column("id", BigInteger, Sequence("inbox_id_seq"), primary_key=True),
    Column("source", String(16), nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("body", Text, nullable=False),
    Column("state", String(8), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("processed_at", DateTime),
    Column("problems", Text),
    # The subaccount the body's writer is limited to, when its route says (a number's own
    # Sinch callback); empty: the body's business numbers say.
    Column("scope", String(200)),
)

# Statuses whose message has no send record yet; applied when the send record arrives.
pending_statuses = Table(
    "pending_statuses",
    metadata,
    Column("message_id", String(128), primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("event_at", DateTime),
    Column("error_code", String(32)),
    Column("error_description", Text),
    Column("received_at", DateTime, nullable=False),
    Column("problem", Text),
    # The subaccount the status's writer was limited to; empty: the whole account.
    Column("scope", String(200)),
    # When it was marked expired: no send record came within PENDING_KEEP_DAYS. It stays
    # visible (and still applies should the record come after all).
    Column("expired_at", DateTime),
    # The operator the report named (Sinch), given to the message with the status.
    Column("operator", String(100)),
)

# Sinch per-batch delivery summaries: counts only, one row per batch, status and code.
sms_batch_reports = Table(
    "sms_batch_reports",
    metadata,
    Column("batch_id", String(64), primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("code", String(16), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("client_reference", String(128)),
    Column("reported_at", DateTime, nullable=False),
)

# ---- exports (exports/): background export jobs and the subaccounts each file may hold ----

# One row per requested file. Times are naive UTC. The id is unguessable and is also the file's
# name on disk; `error` holds a code the exports page words in the viewer's language.
export_jobs = Table(
    "export_jobs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("requested_at", DateTime, nullable=False),
    Column("user_id", Integer),
    Column("username", String(200), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("view", String(16), nullable=False),
    Column("format", String(8), nullable=False),
    Column("filters", Text, nullable=False),
    Column("language", String(8), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("request_day", Date, nullable=False),
    Column("request_key", String(64), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("rows_total", BigInteger),
    Column("rows_written", BigInteger, nullable=False, server_default="0"),
    Column("file_size", BigInteger),
    Column("error", String(32)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("worker", String(200)),
    Column("started_at", DateTime),
    Column("heartbeat_at", DateTime),
    Column("finished_at", DateTime),
    Column("expires_at", DateTime),
)

# The subaccounts a job's file can contain (its requester's scope narrowed by its filter): a
# user sees a job only when every one of them is theirs.
export_job_subaccounts = Table(
    "export_job_subaccounts",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("subaccount_id", Integer, primary_key=True),
)

# ---- audit trail (data_access/audit.py): who did what, when, from which address ----

# Append-only: nothing deletes rows but the retention purge (AUDIT_KEEP_DAYS). Times are naive
# UTC; `actor` is a username, "key:<prefix>" for an API key, or a writer's name; `address` is
# the client address when the action came over HTTP.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, Sequence("audit_log_id_seq"), primary_key=True),
    # AT is a keyword to DuckDB's parser: always quoted.
    Column("at", DateTime, nullable=False, quote=True),
    Column("actor", String(200), nullable=False),
    Column("action", String(32), nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
    Column("address", String(64)),
    Column("subaccount_id", Integer),
    Index("audit_log_at", "at"),
)
