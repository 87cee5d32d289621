"""How the ClickHouse store talks to its engine: a server cluster over the native protocol
(clickhouse-driver, which 18.16 speaks) or the embedded modern engine (chdb), behind one small
interface that takes SQL with %(name)s parameters rendered here as ClickHouse literals."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import pandas as pd

# Quoting of a string literal (ClickHouse's escape rules: backslash escapes).
_ESCAPES = {
    "\b": "\\b",
    "\f": "\\f",
    "\r": "\\r",
    "\n": "\\n",
    "\t": "\\t",
    "\0": "\\0",
    "\a": "\\a",
    "\v": "\\v",
    "\\": "\\\\",
    "'": "\\'",
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
EXTERNAL_GROUP_BY_BYTES = 500_000_000


class ClickHouseUrlError(ValueError):
    """A DATABASE_URL naming ClickHouse that the store cannot use."""


def literal(value: Any) -> str:
    """A Python value as a ClickHouse SQL literal (times are naive UTC)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | Decimal):
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise ValueError("times are passed to the store as naive UTC")
        return f"toDateTime('{value:%Y-%m-%d %H:%M:%S}', 'UTC')"
    if isinstance(value, date):
        return f"toDate('{value:%Y-%m-%d}')"
    if isinstance(value, str):
        return "'" + "".join(_ESCAPES.get(c, c) for c in value) + "'"
    if isinstance(value, list):  # an array
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, tuple | set | frozenset):  # the list IN takes (18.16 reads no "(x,)")
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return "(" + ", ".join(literal(item) for item in items) + ")"
    raise TypeError(f"no ClickHouse literal for {type(value).__name__}")


def render(sql: str, params: dict[str, Any] | None = None) -> str:
    """The SQL with each %(name)s replaced by its parameter as a literal."""
    if not params:
        return sql
    return sql % {name: literal(value) for name, value in params.items()}


def name(value: str) -> str:
    """A database or cluster name checked to be a plain identifier (it is spliced into DDL)."""
    if not _NAME.fullmatch(value):
        raise ClickHouseUrlError(f"{value!r} is not a plain name (letters, digits, _)")
    return value


@dataclass(frozen=True)
class Flavor:
    """Where the SQL of 18.16 and of the modern engine differ, and whether a cluster is there.

    `version` is the server's major version; `cluster` the cluster the store is sharded over
    (None: one node, local tables only).
    """

    version: int
    cluster: str | None


class Client(Protocol):
    flavor: Flavor
    database: str

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]: ...

    def command(self, sql: str) -> None: ...

    def use_database(self) -> None: ...

    def insert(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None: ...

    def node_clients(self) -> list[Client]: ...

    def close(self) -> None: ...


class NativeClient:
    """A ClickHouse server (any version since 18.16) over the native protocol.

    Inserts into Distributed tables are sent to the shards before the insert returns
    (insert_distributed_sync), so a read right after a write sees it. Used by one thread at a
    time (data_access.clickhouse.messages keeps a few).
    """

    def __init__(self, host: str, port: int, database: str, cluster: str | None) -> None:
        from clickhouse_driver import Client as DriverClient  # the driver is only needed here

        self.host, self.port, self.database = host, port, database
        self._driver = DriverClient(
            host,
            port=port,
            database="default",
            settings={
                "insert_distributed_sync": 1,
                # A GROUP BY over every message of a node's range (a page sorted by status
                # over 90 days) spills to disk past this instead of failing at the server's
                # memory limit per query.
                "max_bytes_before_external_group_by": EXTERNAL_GROUP_BY_BYTES,
            },
        )
        major = int(str(self._driver.execute("SELECT version()")[0][0]).split(".")[0])
        self.flavor = Flavor(major, cluster)

    def use_database(self) -> None:
        self._driver.execute(f"USE {self.database}")

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        return list(self._driver.execute(render(sql, params)))

    def command(self, sql: str) -> None:
        self._driver.execute(sql)

    def insert(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        if rows:
            self._driver.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES", rows)

    def node_clients(self) -> list[Client]:
        """A client of every node of the cluster (this one for its own node): DDL runs on each,
        since ON CLUSTER needs ZooKeeper."""
        if self.flavor.cluster is None:
            return [self]
        nodes = self._driver.execute(
            "SELECT host_address, port FROM system.clusters WHERE cluster = "
            + literal(self.flavor.cluster)
            + " ORDER BY shard_num, replica_num"
        )
        if not nodes:
            raise ClickHouseUrlError(
                f"the server knows no cluster {self.flavor.cluster!r} (remote_servers)"
            )
        clients: list[Client] = []
        for host, port in nodes:
            if (host, int(port)) == (self.host, self.port) or (
                host in ("127.0.0.1", "::1", "localhost")
                and self.host in ("127.0.0.1", "localhost")
                and int(port) == self.port
            ):
                clients.append(self)
            else:
                clients.append(NativeClient(host, int(port), self.database, self.flavor.cluster))
        return clients

    def close(self) -> None:
        self._driver.disconnect()


# chdb answers in JSONCompact; its types say how to read each column back.
def _reader(type_name: str):
    inner = type_name
    for wrapper in ("Nullable(", "LowCardinality("):
        while inner.startswith(wrapper):
            inner = inner[len(wrapper) : -1]
    if inner.startswith("DateTime"):
        return lambda v: None if v is None else datetime.fromisoformat(str(v)[:19])
    if inner == "Date" or inner == "Date32":
        return lambda v: None if v is None else date.fromisoformat(v)
    if re.fullmatch(r"U?Int\d+", inner):
        return lambda v: None if v is None else int(v)
    if inner.startswith("Float"):
        return lambda v: None if v is None else float(v)
    return lambda v: v


class ChdbClient:
    """The modern engine embedded in this process (chdb); one node, no cluster."""

    def __init__(self, path: str, database: str) -> None:
        from chdb import session  # embedded engine: only the chdb store loads it

        self.path, self.database = path, database
        self._session = session.Session(path)
        version = self.query("SELECT version()")[0][0]
        self.flavor = Flavor(int(str(version).split(".")[0]), None)

    def use_database(self) -> None:
        self._session.query(f"USE {self.database}")

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        result = self._session.query(render(sql, params), "JSONCompact")
        text = result.data() if hasattr(result, "data") else str(result)
        if not text.strip():
            return []
        answer = json.loads(text)
        readers = [_reader(column["type"]) for column in answer["meta"]]
        return [
            tuple(read(value) for read, value in zip(readers, row, strict=True))
            for row in answer["data"]
        ]

    def command(self, sql: str) -> None:
        self._session.query(sql)

    def insert(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        for start in range(0, len(rows), 5_000):
            values = ", ".join(literal(tuple(row)) for row in rows[start : start + 5_000])
            self._session.query(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}")

    def node_clients(self) -> list[Client]:
        return [self]

    def close(self) -> None:
        self._session.close()


@dataclass(frozen=True)
class ClickHouseUrl:
    """clickhouse://HOST:PORT/DATABASE?cluster=NAME (a server, native port), or
    chdb:///PATH?database=NAME (the embedded engine's files)."""

    kind: str
    database: str
    host: str = ""
    port: int = 9000
    cluster: str | None = None
    path: str = ""


def parse_url(url: str) -> ClickHouseUrl:
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if parts.scheme == "chdb":
        if not parts.path:
            raise ClickHouseUrlError("chdb:///PATH needs the path of the store's folder")
        return ClickHouseUrl("chdb", name(query.get("database", "reports")), path=parts.path)
    if parts.scheme != "clickhouse":
        raise ClickHouseUrlError(f"{parts.scheme}:// is not a ClickHouse store")
    database = name(parts.path.strip("/") or "reports")
    cluster = query.get("cluster")
    return ClickHouseUrl(
        "clickhouse",
        database,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 9000,
        cluster=name(cluster) if cluster else None,
    )


def connect(url: str) -> NativeClient | ChdbClient:
    parsed = parse_url(url)
    if parsed.kind == "chdb":
        return ChdbClient(parsed.path, parsed.database)
    return NativeClient(parsed.host, parsed.port, parsed.database, parsed.cluster)


@contextmanager
def connected(url: str) -> Iterator[NativeClient | ChdbClient]:
    client = connect(url)
    try:
        yield client
    finally:
        client.close()
