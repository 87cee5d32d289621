"""Tables of what the reports send out: read-API keys, alert rules and their notifications,
scheduled reports and their runs.

They live in a metadata of their own, created when missing by `ensure_tables` (the app and
every command call it after store.create_schema): none of them is read by the write path or
changes the messages' schema, and none holds data that a store cannot do without.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    Sequence,
    String,
    Table,
    Text,
)

outbound_metadata = MetaData()

# ---- the read API (readapi/): keys that read figures, never write ----

# Kept apart from api_keys (send keys): a read key names several subaccounts, a send key one,
# and neither kind is ever accepted where the other is asked for. Only the SHA-256 is kept.
read_keys = Table(
    "read_keys",
    outbound_metadata,
    Column("id", Integer, Sequence("read_keys_id_seq"), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("label", String(200)),
    # Requests per minute; NULL: the READ_API_PER_MINUTE setting.
    Column("per_minute", Integer),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
)

read_key_subaccounts = Table(
    "read_key_subaccounts",
    outbound_metadata,
    Column("key_id", Integer, primary_key=True),
    Column("subaccount_id", Integer, primary_key=True),
)

# ---- alerts (notify/alerts.py): rules evaluated every minute, and what they sent ----

alert_rules = Table(
    "alert_rules",
    outbound_metadata,
    Column("id", Integer, Sequence("alert_rules_id_seq"), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("owner_id", Integer),
    Column("owner", String(200), nullable=False),
    Column("channel", String(16), nullable=False),
    # The subaccounts the rule watches, comma-separated ids (within its owner's scope).
    Column("subaccounts", Text, nullable=False),
    Column("metric", String(32), nullable=False),
    Column("error_code", String(64)),
    Column("stuck_minutes", Integer),
    Column("comparison", String(2), nullable=False),
    Column("threshold", Float, nullable=False),
    Column("window_minutes", Integer, nullable=False),
    Column("min_volume", Integer, nullable=False),
    Column("notify_by", String(16), nullable=False),
    # E-mail addresses (comma-separated) or the webhook's URL.
    Column("target", Text, nullable=False),
    # The webhook's HMAC-SHA256 key (NULL for e-mail).
    Column("secret", String(128)),
    Column("active", Boolean, nullable=False),
    # "ok" or "failing"; changed by a guarded UPDATE, so two workers never both notify.
    Column("state", String(16), nullable=False),
    Column("state_since", DateTime),
    Column("last_value", Float),
    Column("last_volume", Integer),
    Column("last_checked_at", DateTime),
    Column("created_at", DateTime, nullable=False),
)

alert_notifications = Table(
    "alert_notifications",
    outbound_metadata,
    Column("id", Integer, Sequence("alert_notifications_id_seq"), primary_key=True),
    Column("rule_id", Integer, nullable=False),
    # AT is a keyword to DuckDB's parser: always quoted.
    Column("at", DateTime, nullable=False, quote=True),
    # "failing", "recovered" or "test".
    Column("kind", String(16), nullable=False),
    Column("value", Float),
    Column("volume", Integer),
    Column("delivered", Boolean, nullable=False),
    Column("problem", Text),
    Index("alert_notifications_rule", "rule_id"),
)

# ---- scheduled reports (notify/schedules.py) ----

report_schedules = Table(
    "report_schedules",
    outbound_metadata,
    Column("id", Integer, Sequence("report_schedules_id_seq"), primary_key=True),
    Column("owner_id", Integer, nullable=False),
    Column("owner", String(200), nullable=False),
    # The view's URL query string, as the screen writes it.
    Column("search", Text, nullable=False),
    Column("format", String(8), nullable=False),
    Column("frequency", String(16), nullable=False),
    Column("hour", Integer, nullable=False),
    # Monday 0 for weekly schedules; the day of the month (1-28) for monthly ones.
    Column("weekday", Integer),
    Column("month_day", Integer),
    Column("timezone", String(64), nullable=False),
    Column("language", String(8), nullable=False),
    Column("recipients", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime, nullable=False),
    # The last due time (naive UTC) a run was made for: runs come after it.
    Column("last_due_at", DateTime),
)

# One row per run: the primary key is what makes a due time run once, whoever gets there
# first (a restart, a second worker).
schedule_runs = Table(
    "schedule_runs",
    outbound_metadata,
    Column("schedule_id", Integer, primary_key=True),
    Column("due_at", DateTime, primary_key=True),
    Column("ran_at", DateTime, nullable=False),
    Column("job_id", String(64)),
    Column("mailed", Boolean, nullable=False),
    Column("problem", Text),
)


def ensure_tables(engine: Engine) -> None:
    """Create the tables above that the store lacks (a look at each when it has them all)."""
    with engine.begin() as conn:
        outbound_metadata.create_all(conn, checkfirst=True)
