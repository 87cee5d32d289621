"""The store's schema history as Alembic revisions, which store.create_schema runs at start.

Every change to the tables in data_access/tables.py is a revision in `versions/`; README.md
beside this file says how to add one. The revisions run programmatically (env.py, on the
connection handed over here); alembic.ini serves only the alembic command line, for writing
revisions.
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command, op
from alembic.config import Config
from alembic.ddl.impl import DefaultImpl
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, column, delete, insert, table

MIGRATIONS_DIR = Path(__file__).resolve().parent

# store_meta's schema_version of a store made before these revisions -> the revision of its
# shape. A version 1 store (None) runs every revision from the baseline: its tables differ by
# when it was made (create_all added tables without a new version), and the baseline creates
# the ones it lacks.
LEGACY_REVISIONS: dict[str, str | None] = {"1": None, "2": "0004", "3": "0005"}


class DuckDBImpl(DefaultImpl):
    """Alembic's operations on duckdb-engine: the generic DDL, run inside transactions."""

    __dialect__ = "duckdb"
    transactional_ddl = True


class StoreSchemaError(RuntimeError):
    """The store's schema is not one this program knows (made by a newer version of it)."""


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    # Read once per process: the test suite creates hundreds of stores.
    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The newest revision: the shape of data_access/tables.py."""
    revision = _scripts().get_current_head()
    assert revision is not None
    return revision


def is_known(revision: str) -> bool:
    return revision in {script.revision for script in _scripts().walk_revisions()}


def current_revision(conn: Connection) -> str | None:
    """The revision the store is at; None for a store without Alembic's version table."""
    return MigrationContext.configure(conn).get_current_revision()


def stamp(conn: Connection, revision: str | None) -> None:
    """Record that the store is at `revision` (None: before the baseline), running nothing.

    In the caller's transaction.
    """
    MigrationContext.configure(conn).stamp(_scripts(), revision or "base")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the revisions the store lacks, each in a transaction of its own."""
    with engine.connect() as conn:
        command.upgrade(_config(conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Undo revisions down to `revision` ("base": every one), each in its own transaction."""
    with engine.connect() as conn:
        command.downgrade(_config(conn), revision)


# ---- for the revisions: store_meta as it is in every revision ----

_store_meta = table("store_meta", column("key"), column("value"))


def set_schema_version(version: str) -> None:
    """Record store_meta's schema_version, which other code reads, in the running revision."""
    bind = op.get_bind()
    bind.execute(delete(_store_meta).where(_store_meta.c.key == "schema_version"))
    bind.execute(insert(_store_meta).values(key="schema_version", value=version))
