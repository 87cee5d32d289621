"""Alembic's environment: the revisions run on the connection data_access.migrations hands over,
or, from the alembic command line, on the store DATABASE_URL names."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import data_access.migrations  # noqa: F401  (registers the DuckDB implementation)


def run(connection: Connection) -> None:
    # One transaction per revision: DuckDB cannot index rows changed in the same transaction
    # (0002 fills the phone tails, 0003 indexes them), and a start cut short keeps the
    # revisions it finished.
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("The revisions read the store as they run: no --sql mode.")

given = context.config.attributes.get("connection")
if given is not None:
    run(given)
else:
    from config import load_settings
    from data_access.store import make_engine

    engine = make_engine(load_settings().database_url)
    try:
        with engine.connect() as connection:
            run(connection)
    finally:
        engine.dispose()
