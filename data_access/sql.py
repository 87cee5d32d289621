"""What SQLAlchemy leaves open: the driver's own connection, a statement run by DuckDB's own
relation API, and an id sequence."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Function, Sequence, Table


def raw_connection(conn: Connection) -> Any:
    """The driver's connection under `conn`, for what SQLAlchemy does not wrap: DuckDB's
    register, sql and executemany, psycopg's COPY. Typed Any: those methods are each driver's
    own, outside the DB-API that SQLAlchemy describes."""
    raw = conn.connection.dbapi_connection
    assert raw is not None, "the connection was invalidated"
    return raw


def duckdb_relation(conn: Connection, statement) -> Any:
    """A statement run by DuckDB itself on this connection's transaction (its relation), for
    results taken as Arrow rather than a Python row each."""
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = [compiled.params[key] for key in compiled.positiontup or ()]
    return raw_connection(conn).sql(compiled.string, params=params)


def next_id(table: Table) -> Function[int]:
    """The next value of the table's `id` sequence, as an SQL expression."""
    sequence = table.c.id.default
    assert isinstance(sequence, Sequence), f"{table.name}.id has no sequence"
    return sequence.next_value()
