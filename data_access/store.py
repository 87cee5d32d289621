"""One engine per process, the schema created idempotently, and the store's bookkeeping."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, Index, create_engine, event, select, update

from data_access.tables import POSTGRES_INDEXES, SCHEMA_VERSION, messages, metadata, store_meta


class StoreLockedError(RuntimeError):
    """Another process holds the embedded store file open for writing."""


def make_engine(database_url: str) -> Engine:
    """Build the process's engine for a DuckDB file or a PostgreSQL server."""
    if database_url.startswith("duckdb"):
        path = database_url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # A DuckDB file admits one writing process. Every pooled connection of this process
        # opens the same database instance, so threads share its cache.
        engine = create_engine(database_url, pool_size=8, max_overflow=8)
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
    """Create every table that is missing and record the schema version and time zone."""
    metadata.create_all(engine)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for name, columns in POSTGRES_INDEXES.items():
                Index(name, *(messages.c[c] for c in columns)).create(conn, checkfirst=True)
        _set_default(conn, "schema_version", SCHEMA_VERSION)
        _set_default(conn, "account_timezone", account_timezone)
        _set_default(conn, "data_version", "0")


def _set_default(conn: Connection, key: str, value: str) -> None:
    if conn.execute(select(store_meta.c.value).where(store_meta.c.key == key)).first() is None:
        conn.execute(store_meta.insert().values(key=key, value=value))


def read_meta(conn: Connection, key: str) -> str | None:
    return conn.execute(select(store_meta.c.value).where(store_meta.c.key == key)).scalar()


def data_version(conn: Connection) -> int:
    """A number that changes whenever messages change; report caches key on it."""
    return int(read_meta(conn, "data_version") or 0)


def bump_data_version(conn: Connection) -> None:
    version = data_version(conn) + 1
    conn.execute(
        update(store_meta).where(store_meta.c.key == "data_version").values(value=str(version))
    )
