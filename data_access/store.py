"""One engine per process, the schema created idempotently, and the store's bookkeeping."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    Connection,
    Date,
    Engine,
    Index,
    MetaData,
    cast,
    create_engine,
    event,
    func,
    literal,
    select,
    text,
    update,
)

from config import DUCKDB_MEMORY_LIMIT_DEFAULT, SettingsError, parse_memory_limit
from data_access import rollup
from data_access.tables import (
    POSTGRES_INDEXES,
    POSTGRES_ROLLUP_INDEXES,
    SCHEMA_VERSION,
    contacts,
    daily_rollup,
    messages,
    metadata,
    phone_tail,
    store_meta,
)
from data_access.writes import Transaction, write

# The PostgreSQL indexes hang off a private copy of the table: an Index built on `messages`
# itself would join the shared metadata, and the next create_all (on any store, DuckDB
# included) would try to create it again.
_private = MetaData()
_indexed_messages = messages.to_metadata(_private)
_indexed_rollup = daily_rollup.to_metadata(_private)
_POSTGRES_INDEX_OBJECTS = tuple(
    Index(name, *(table.c[c] for c in columns))
    for table, indexes in (
        (_indexed_messages, POSTGRES_INDEXES),
        (_indexed_rollup, POSTGRES_ROLLUP_INDEXES),
    )
    for name, columns in indexes.items()
)


class StoreLockedError(RuntimeError):
    """Another process holds the embedded store file open for writing."""


def make_engine(
    database_url: str,
    duckdb_memory_limit: str = DUCKDB_MEMORY_LIMIT_DEFAULT,
    duckdb_threads: int | None = None,
) -> Engine:
    """Build the process's engine for a DuckDB file or a PostgreSQL server.

    `duckdb_memory_limit` (the DUCKDB_MEMORY_LIMIT setting) bounds the embedded store's memory
    in this process: its cache of table blocks, which otherwise keeps every block read up to
    80 % of the machine's memory, and the sorts and joins of queries, which spill past it.
    `duckdb_threads` caps the threads DuckDB runs a query on (default: one per core).
    """
    if database_url.startswith("duckdb"):
        path = database_url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # A DuckDB file admits one writing process. Every pooled connection of this process
        # opens the same database instance, so threads share its cache.
        engine = create_engine(database_url, pool_size=8, max_overflow=8)
        # The setting's minimum is checked where it is read; a process that only exports
        # (exports/standalone.py) asks for less.
        limit = parse_memory_limit(duckdb_memory_limit, minimum=0)
        threads = int(duckdb_threads) if duckdb_threads else None

        # memory_limit and threads belong to the instance; a SET (unlike a config given to
        # connect) also works when another engine of this process already opened the same file.
        @event.listens_for(engine, "connect")
        def _instance_settings(dbapi_connection, _record):
            dbapi_connection.execute(f"SET memory_limit = '{limit}'")
            if threads:
                dbapi_connection.execute(f"SET threads = {threads}")

        try:
            with engine.connect():
                pass
        except Exception as exc:  # duckdb raises IOException for a held lock
            if "lock" in str(exc).lower():
                raise StoreLockedError(str(exc).splitlines()[0]) from None
            raise
        return engine
    engine = create_engine(database_url, pool_size=10, max_overflow=10, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def _utc_session(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")

    return engine


def create_schema(engine: Engine, account_timezone: str) -> None:
    """Create every table that is missing, upgrade an older store, and record the schema
    version and time zone."""
    metadata.create_all(engine)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for index in _POSTGRES_INDEX_OBJECTS:
                index.create(conn, checkfirst=True)
        _set_default(conn, "schema_version", SCHEMA_VERSION)
        _set_default(conn, "account_timezone", account_timezone)
        _set_default(conn, "data_version", "0")
    _upgrade(engine)
    _upgrade_to_3(engine)
    ensure_timezone(engine, account_timezone)


def _upgrade(engine: Engine) -> None:
    """Bring a version 1 store (no phone tails, no roll-up) to version 2.

    Three transactions, because DuckDB cannot build an index over rows changed in the same
    transaction; each step can run again, so a start cut short finishes on the next one.
    """
    with engine.connect() as conn:
        if read_meta(conn, "schema_version") != "1":
            return
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE contacts ADD COLUMN IF NOT EXISTS phone_tail VARCHAR(6)"))
        conn.execute(update(contacts).values(phone_tail=phone_tail(contacts.c.phone)))
    with engine.begin() as conn:
        conn.execute(
            text("CREATE INDEX IF NOT EXISTS contacts_phone_tail ON contacts (phone_tail)")
        )
    with engine.begin() as conn:
        rollup.rebuild(conn)
        conn.execute(
            update(store_meta).where(store_meta.c.key == "schema_version").values(value="2")
        )


# Columns added in schema version 3 (create_all makes them in a new store).
_VERSION_3_COLUMNS = (
    ("channel_numbers", "callback_token_hash VARCHAR(64)"),
    ("inbox", "scope VARCHAR(200)"),
    ("pending_statuses", "scope VARCHAR(200)"),
)


def _upgrade_to_3(engine: Engine) -> None:
    """Add the webhook writers' scope columns to a version 2 store."""
    with engine.connect() as conn:
        if read_meta(conn, "schema_version") != "2":
            return
    with engine.begin() as conn:
        for table, column in _VERSION_3_COLUMNS:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column}"))
        conn.execute(
            update(store_meta).where(store_meta.c.key == "schema_version").values(value="3")
        )


def _local_day(dialect: str, column, timezone: str):
    """The day of a stored naive-UTC timestamp in the given zone, as SQL."""
    zone = literal(timezone)
    if dialect == "postgresql":
        local = column.op("AT TIME ZONE")(literal("UTC")).op("AT TIME ZONE")(zone)
    else:
        # DuckDB's ICU timezone(): a naive timestamp is read as wall time in the zone named,
        # so it is first pinned to UTC, then shown as wall time in the account's zone.
        local = func.timezone(zone, func.timezone(literal("UTC"), column))
    return cast(local, Date)


def ensure_timezone(engine: Engine, timezone: str) -> None:
    """Recompute every message's local day when the account time zone setting has changed."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"ACCOUNT_TIMEZONE {timezone!r} is not an IANA time zone") from None
    with engine.connect() as conn:
        if read_meta(conn, "account_timezone") == timezone:
            return
    write(engine, lambda tx: _recount_days(tx, timezone))


def _recount_days(tx: Transaction, timezone: str) -> None:
    """Every message's local day and the roll-up again, in the new zone."""
    conn = tx.conn
    stored = read_meta(conn, "account_timezone")
    if stored == timezone:
        return
    conn.execute(
        update(messages).values(
            created_day=_local_day(conn.dialect.name, messages.c.created_at, timezone)
        )
    )
    rollup.rebuild(conn)
    if stored is None:
        conn.execute(store_meta.insert().values(key="account_timezone", value=timezone))
    else:
        conn.execute(
            update(store_meta).where(store_meta.c.key == "account_timezone").values(value=timezone)
        )
    tx.mark_changed()


def _set_default(conn: Connection, key: str, value: str) -> None:
    if conn.execute(select(store_meta.c.value).where(store_meta.c.key == key)).first() is None:
        conn.execute(store_meta.insert().values(key=key, value=value))


def read_meta(conn: Connection, key: str) -> str | None:
    return conn.execute(select(store_meta.c.value).where(store_meta.c.key == key)).scalar()


def data_version(conn: Connection) -> int:
    """A number that changes whenever messages change; report caches key on it."""
    return int(read_meta(conn, "data_version") or 0)
