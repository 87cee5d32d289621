"""The ClickHouse store's tables, created idempotently on every node.

Writers insert into `ingest`, a Null table: it keeps nothing, but three materialized views fold
each inserted block into tables the engine merges in the background:

- `messages`: one row per message after merging (AggregatingMergeTree keyed by day and
  message id). The status is maxState of its rank, so it only moves forward in any arrival
  order; each time is minState (the earliest known); the error is argMaxState by the rank,
  so it describes the current status; the message's identity and the optional fields are
  argMinState by arrival, so the first record's identity stays and an empty field is filled
  by the first record that has it, never overwritten. No write reads first.
- `daily`: the roll-up per day, channel, direction, subaccount and content type, kept as
  uniqExact states of message ids (total, sent, delivered, read, and the messages whose
  status reached error or beyond, and delivered or beyond): a message counted twice is counted
  once, and as its status only moves forward, "errors" is the first set less the second.
- `phones`: message ids by reversed phone number, so a search by trailing digits is a
  prefix range of the table's key.

On a cluster each node holds `*_local` tables and the Distributed tables of the same names
without the suffix spread rows by cityHash64(message_id); on one node (chdb) the local
tables are read and written directly. "None" is '' for strings and 1970-01-01 for times in
the states (a Nullable state's type is spelt differently across versions); reads turn them
back into NULL. Every statement here is accepted by 18.16 and by the modern engine as it is.
"""

from __future__ import annotations

from data_access.clickhouse.client import Client

# Shards: cityHash64 of the message id, so every record of a message lands on one shard.
SHARDING_KEY = "cityHash64(message_id)"
NO_TIME = "toDateTime(0, 'UTC')"

INGEST_COLUMNS = (
    ("message_id", "String"),
    ("arrival", "UInt64"),
    ("channel", "String"),
    ("direction", "String"),
    ("subaccount", "String"),
    ("user", "String"),
    ("campaign", "String"),
    ("content_type", "String"),
    ("phone", "String"),
    ("contact_name", "String"),
    ("content", "String"),
    ("status_rank", "UInt8"),
    ("error_code", "String"),
    ("error_description", "String"),
    ("created_at", "DateTime('UTC')"),
    ("created_day", "Date"),
    ("sent_at", "DateTime('UTC')"),
    ("delivered_at", "DateTime('UTC')"),
    ("read_at", "DateTime('UTC')"),
    ("correlation_id", "String"),
)
IDENTITY = ("channel", "direction", "subaccount", "content_type", "phone")
FILLED = ("user", "campaign", "contact_name", "content", "correlation_id")
TIMES = ("sent_at", "delivered_at", "read_at")
ERRORS = ("error_code", "error_description")
ERROR_KEY_TYPE = "Tuple(UInt8, UInt8, UInt64)"
# The current status's error: the highest rank, then a record that has a code, then the
# earliest arrival (the largest complement).
ERROR_KEY = "(status_rank, error_code != '', toUInt64(18446744073709551615 - arrival))"
FILL_KEY_TYPE = "Tuple(UInt8, UInt64)"


def _messages_columns() -> list[tuple[str, str, str]]:
    """(column, state type, state expression over the ingest row `i`).

    The expressions name the ingest row's columns as NAME: ClickHouse would otherwise read
    a NAME as the state of the same name that the view's SELECT defines."""
    columns = [
        (c, "AggregateFunction(argMin, String, UInt64)", f"argMinState({c}, arrival)")
        for c in IDENTITY
    ]
    columns.append(
        (
            "created_at",
            "AggregateFunction(argMin, DateTime('UTC'), UInt64)",
            "argMinState(created_at, arrival)",
        )
    )
    columns += [
        (
            c,
            f"AggregateFunction(argMin, String, {FILL_KEY_TYPE})",
            f"argMinState({c}, ({c} = '', arrival))",
        )
        for c in FILLED
    ]
    columns.append(("status_rank", "AggregateFunction(max, UInt8)", "maxState(status_rank)"))
    columns += [
        (
            c,
            f"AggregateFunction(argMax, String, {ERROR_KEY_TYPE})",
            f"argMaxState({c}, {ERROR_KEY})",
        )
        for c in ERRORS
    ]
    columns += [
        (
            c,
            "AggregateFunction(minIf, DateTime('UTC'), UInt8)",
            f"minIfState({c}, {c} > {NO_TIME})",
        )
        for c in TIMES
    ]
    return columns


MESSAGE_STATES = _messages_columns()

# The roll-up's sets: name -> the condition a message id is counted under.
DAILY_SETS = {
    "sent": f"sent_at > {NO_TIME}",
    "delivered": f"delivered_at > {NO_TIME}",
    "read": f"read_at > {NO_TIME}",
    "error_or_beyond": "status_rank >= 5",
    "delivered_or_beyond": "status_rank >= 6",
}
DAILY_KEYS = ("created_day", "channel", "direction", "subaccount", "content_type")


def local(table: str, client: Client) -> str:
    """The name the store reads and writes `table` by: its Distributed table on a cluster, the
    table itself on one node."""
    return table if client.flavor.cluster else f"{table}_local"


def _statements(database: str, cluster: str | None) -> list[str]:
    db = database
    ingest = ", ".join(f"{c} {t}" for c, t in INGEST_COLUMNS)
    states = ", ".join(f"s_{c} {t}" for c, t, _ in MESSAGE_STATES)
    state_select = ", ".join(f"{e} AS s_{c}" for c, _, e in MESSAGE_STATES)
    daily_states = ", ".join(
        ["s_messages AggregateFunction(uniqExact, String)"]
        + [f"s_{n} AggregateFunction(uniqExactIf, String, UInt8)" for n in DAILY_SETS]
    )
    daily_select = ", ".join(
        ["uniqExactState(message_id) AS s_messages"]
        + [f"uniqExactIfState(message_id, {cond}) AS s_{n}" for n, cond in DAILY_SETS.items()]
    )
    keys = ", ".join(DAILY_KEYS)
    statements = [
        f"CREATE DATABASE IF NOT EXISTS {db}",
        f"CREATE TABLE IF NOT EXISTS {db}.ingest_local ({ingest}) ENGINE = Null",
        f"CREATE TABLE IF NOT EXISTS {db}.messages_local (created_day Date, message_id String, "
        f"{states}) ENGINE = AggregatingMergeTree() PARTITION BY toYYYYMM(created_day) "
        "ORDER BY (created_day, message_id)",
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.messages_fold TO {db}.messages_local "
        f"AS SELECT created_day, message_id, {state_select} "
        f"FROM {db}.ingest_local GROUP BY created_day, message_id",
        f"CREATE TABLE IF NOT EXISTS {db}.daily_local (created_day Date, channel String, "
        f"direction String, subaccount String, content_type String, {daily_states}) "
        f"ENGINE = AggregatingMergeTree() PARTITION BY toYYYYMM(created_day) ORDER BY ({keys})",
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.daily_fold TO {db}.daily_local "
        f"AS SELECT {keys}, {daily_select} FROM {db}.ingest_local GROUP BY {keys}",
        f"CREATE TABLE IF NOT EXISTS {db}.phones_local (phone_reversed String, created_day Date, "
        "message_id String) ENGINE = ReplacingMergeTree() "
        "ORDER BY (phone_reversed, created_day, message_id)",
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.phones_fold TO {db}.phones_local "
        f"AS SELECT reverse(phone) AS phone_reversed, created_day, message_id "
        f"FROM {db}.ingest_local",
        # One row per write that stored records: the data version report caches key on.
        f"CREATE TABLE IF NOT EXISTS {db}.writes_local (written_at DateTime('UTC'), "
        "records UInt64, arrival UInt64) ENGINE = MergeTree() ORDER BY arrival",
    ]
    if cluster:
        for table, key in (
            ("ingest", SHARDING_KEY),
            ("messages", SHARDING_KEY),
            ("daily", "rand()"),
            ("phones", SHARDING_KEY),
            ("writes", "rand()"),
        ):
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {db}.{table} AS {db}.{table}_local "
                f"ENGINE = Distributed({cluster}, {db}, {table}_local, {key})"
            )
    return statements


def create_schema(client: Client) -> None:
    """Create every table on every node of the store's cluster (or its one node); a table that
    exists is left as it is."""
    for node in client.node_clients():
        for statement in _statements(client.database, client.flavor.cluster):
            node.command(statement)
