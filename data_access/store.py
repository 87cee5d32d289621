"""One engine per process, the schema created idempotently, and the store's bookkeeping."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb_engine
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
    inspect,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects import registry
from sqlalchemy.schema import CreateIndex

from config import DUCKDB_MEMORY_LIMIT_DEFAULT, SettingsError, parse_memory_limit
from data_access import contact_days, message_keys, migrations, rollup
from data_access.tables import (
    POSTGRES_CONSTRAINTS,
    POSTGRES_CONTACT_INDEXES,
    POSTGRES_DELIVERY_TIME_INDEXES,
    POSTGRES_EVENT_INDEXES,
    POSTGRES_INDEXES,
    POSTGRES_ROLLUP_INDEXES,
    SCHEMA_VERSION,
    contacts,
    daily_rollup,
    delivery_time_rollup,
    message_events,
    messages,
    metadata,
    store_meta,
    subaccounts,
)
from data_access.writes import Transaction, write

# The PostgreSQL indexes hang off a private copy of the table: an Index built on `messages`
# itself would join the shared metadata, and the next create_all (on any store, DuckDB
# included) would try to create it again.
_private = MetaData()
_indexed_messages = messages.to_metadata(_private)
_indexed_rollup = daily_rollup.to_metadata(_private)
_indexed_delivery_times = delivery_time_rollup.to_metadata(_private)
_indexed_events = message_events.to_metadata(_private)
_indexed_contacts = contacts.to_metadata(_private)
_POSTGRES_INDEX_OBJECTS = tuple(
    Index(name, *(table.c[c] for c in columns))
    for table, indexes in (
        (_indexed_messages, POSTGRES_INDEXES),
        (_indexed_rollup, POSTGRES_ROLLUP_INDEXES),
        (_indexed_delivery_times, POSTGRES_DELIVERY_TIME_INDEXES),
        (_indexed_events, POSTGRES_EVENT_INDEXES),
        (_indexed_contacts, POSTGRES_CONTACT_INDEXES),
    )
    for name, columns in indexes.items()
)

# pg_advisory_lock's key for creating or upgrading the schema (any number; this one spells
# "reports" in ASCII).
_SCHEMA_LOCK_KEY = 0x7265706F727473


class CachedDuckDBDialect(duckdb_engine.Dialect):
    """duckdb-engine's dialect with SQLAlchemy's cache of compiled statements on. Its own
    dialect leaves the cache off (it does not claim it), so every statement was compiled again
    at each run: about a tenth of a merge's time. Ours are Core constructs and text()."""

    supports_statement_cache = True


# In place of duckdb-engine's own: every duckdb:// URL of this process gets it, and URLs stay as
# they were (commands and the served app are handed the same URL).
registry.register("duckdb", __name__, "CachedDuckDBDialect")


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
        _memory_limits[engine] = parse_memory_limit(duckdb_memory_limit, minimum=0)
        threads = int(duckdb_threads) if duckdb_threads else None

        # memory_limit and threads belong to the instance; a SET (unlike a config given to
        # connect) also works when another engine of this process already opened the same file.
        # A new connection takes the limit the engine runs at now (set_memory_limit), not the
        # setting: the pool opens connections at any time, and one that set the setting again
        # would undo a load's share of the memory.
        @event.listens_for(engine, "connect")
        def _instance_settings(dbapi_connection, _record):
            dbapi_connection.execute(f"SET memory_limit = '{_memory_limits[engine]}'")
            if threads:
                dbapi_connection.execute(f"SET threads = {threads}")

        try:
            with engine.connect() as conn:
                shown = conn.execute(text("SELECT current_setting('memory_limit')")).scalar_one()
            _memory_settings[engine] = str(shown)
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


# The memory limit each DuckDB engine runs at now: its setting, or what a load gave it.
_memory_limits: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
# Each DuckDB engine's setting, as DuckDB shows it ("953.6 MiB").
_memory_settings: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def memory_limit_setting(engine: Engine) -> str | None:
    """The memory limit a DuckDB engine was made with, as DuckDB shows it, whatever a load
    running now gave it; None for other engines."""
    return _memory_settings.get(engine)


def set_memory_limit(engine: Engine, limit: str) -> None:
    """Run a DuckDB engine's instance at `limit` (a DuckDB size, e.g. '512MiB'), on the
    connections it has and on those its pool opens later."""
    _memory_limits[engine] = limit
    with engine.connect() as conn:
        conn.execute(text(f"SET memory_limit = '{limit}'"))


def create_schema(engine: Engine, account_timezone: str) -> None:
    """Create a new store at the newest schema or upgrade an older one in place, then record
    the time zone (recounting the days when it changed).

    The schema's history is data_access/migrations: a new store gets every table at once and
    is stamped with the newest revision; a store of an earlier schema runs the revisions it
    lacks. Start-up and every command call this, so a store at the newest revision costs
    only a look at its version.
    """
    with _schema_lock(engine):
        with engine.connect() as conn:
            revision = legacy_version = None
            new_store = not inspect(conn).has_table(store_meta.name)
            if not new_store:
                revision = migrations.current_revision(conn)
                if revision is None:
                    legacy_version = read_meta(conn, "schema_version")
        if new_store or (revision is None and legacy_version is None):
            # (store_meta without a version: a first start of the hand-written schema code
            # stopped after create_all.)
            _create_new(engine)
        elif revision is None:
            assert legacy_version is not None  # the branch above took the store without one
            _adopt(engine, legacy_version)
            migrations.upgrade(engine)
        elif revision != migrations.head():
            if not migrations.is_known(revision):
                raise migrations.StoreSchemaError(
                    f"The store is at schema revision {revision}, which this program does not "
                    "know: a newer version of it upgraded the store. Run that version."
                )
            migrations.upgrade(engine)
        with engine.begin() as conn:
            _set_default(conn, "account_timezone", account_timezone)
            _set_default(conn, "data_version", "0")
        ensure_timezone(engine, account_timezone)


def _create_new(engine: Engine) -> None:
    """Every table of data_access/tables.py, stamped as the newest revision, in one transaction."""
    with engine.begin() as conn:
        metadata.create_all(conn)  # checkfirst: a first start cut short may have made some
        if engine.dialect.name == "postgresql":
            _add_constraints(conn)
            for index in _POSTGRES_INDEX_OBJECTS:
                conn.execute(CreateIndex(index, if_not_exists=True))
        else:
            message_keys.create(conn)
        _set_default(conn, "schema_version", SCHEMA_VERSION)
        migrations.stamp(conn, migrations.head())


def _add_constraints(conn: Connection) -> None:
    """PostgreSQL's keys of the tables DuckDB keeps without (tables.POSTGRES_CONSTRAINTS)."""
    have = set(
        conn.execute(
            text(
                "SELECT conname FROM pg_constraint "
                "WHERE connamespace = current_schema()::regnamespace"
            )
        ).scalars()
    )
    for table, name, definition in POSTGRES_CONSTRAINTS:
        if name not in have:
            conn.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"))


def _adopt(engine: Engine, schema_version: str) -> None:
    """Stamp a store made before the revisions with the revision its schema version matches."""
    if schema_version not in migrations.LEGACY_REVISIONS:
        raise migrations.StoreSchemaError(
            f"The store has schema version {schema_version!r}, which this program does not "
            "know: a newer version of it made the store. Run that version."
        )
    with engine.begin() as conn:
        migrations.stamp(conn, migrations.LEGACY_REVISIONS[schema_version])


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[None]:
    """One process at a time creates or upgrades a PostgreSQL store: a web server and its export
    workers may start together. (A DuckDB file admits one writing process anyway.)"""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execute(select(func.pg_advisory_lock(_SCHEMA_LOCK_KEY)))
        conn.commit()
        try:
            yield
        finally:
            conn.execute(select(func.pg_advisory_unlock(_SCHEMA_LOCK_KEY)))
            conn.commit()


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
    contact_days.recount(conn)
    if message_keys.in_use(conn):
        message_keys.rebuild(conn)
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


def version_and_subaccounts(conn: Connection) -> tuple[int, list[int]]:
    """The data version and every subaccount's id, in one statement: a dashboard request needs
    both (its reports' cache key, and an admin's scope)."""
    version = select(store_meta.c.value).where(store_meta.c.key == "data_version")
    ids = select(func.array_agg(subaccounts.c.id))
    row = conn.execute(select(version.scalar_subquery(), ids.scalar_subquery())).one()
    return int(row[0] or 0), sorted(int(i) for i in row[1] or ())
