"""Which relational engine has its messages in ClickHouse: `bind(engine, messages)` once where
the engine is made, and `messages_of(engine or connection)` wherever a message read or write
chooses its store (data_access.reports, exports.source, the API, the loader command).

A module of its own, importing nothing of the store, so data_access.reports can ask it without
an import cycle."""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine

_bound: WeakKeyDictionary[Engine, Any] = WeakKeyDictionary()


def bind(engine: Engine, messages: Any) -> None:
    """Send the message reads and writes made through `engine` to `messages` (a
    data_access.clickhouse.messages.ClickHouseMessages); the engine keeps the rest."""
    _bound[engine] = messages


def bind_url(engine: Engine, url: str | None) -> Engine:
    """Bind the engine to the ClickHouse store at `url` (settings.clickhouse_url; None: the
    engine keeps its messages itself). Returns the engine."""
    if url is not None:
        from data_access.clickhouse.messages import ClickHouseMessages

        bind(engine, ClickHouseMessages(url, engine))
    return engine


def messages_of(bind_: Engine | Connection | Any) -> Any | None:
    """The ClickHouse messages bound to the engine (or the connection's engine), else None."""
    engine = bind_.engine if isinstance(bind_, Connection) else bind_
    if not isinstance(engine, Engine):
        return None
    return _bound.get(engine)


def unbind(engine: Engine) -> None:
    messages = _bound.pop(engine, None)
    if messages is not None:
        messages.close()
