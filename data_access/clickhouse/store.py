"""A ClickHouse store: its client, its schema made on open, and writes through the one write
path (data_access/writes.py) into the ingest table."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import pandas as pd
from sqlalchemy import Engine

from data_access.clickhouse import schema
from data_access.clickhouse.client import Client, connect, parse_url
from data_access.merge import Identity, Refusal, check_records
from data_access.writes import Transaction, WriteScope, write

DIALECT_NAMES = ("clickhouse", "chdb")


def is_clickhouse_url(url: str) -> bool:
    return url.split("://", 1)[0] in DIALECT_NAMES


@dataclass
class IngestResult:
    """What a write stored: `records` inserted (the store does not read before writing, so it
    cannot tell new messages from updates), and the records refused."""

    records: int = 0
    refused: list[Refusal] = field(default_factory=list)


class ClickHouseStore:
    """One process's store on ClickHouse. `begin()` makes it usable as the engine of
    writes.write: ClickHouse has no transactions, so the write's unit is one insert into the
    ingest table (on a cluster, sent to every shard before it returns)."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        """Connect; with `create` (the first connection of a process) make the schema."""
        parse_url(url)  # a bad URL fails before any connection
        self.url = url
        self.client: Client = connect(url)
        if create:
            schema.create_schema(self.client)
        self.client.use_database()
        self._nodes: list[Client] | None = None

    @property
    def cluster(self) -> str | None:
        return self.client.flavor.cluster

    def table(self, name: str) -> str:
        return schema.local(name, self.client)

    @contextmanager
    def begin(self) -> Iterator[Client]:
        yield self.client

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        return self.client.query(sql, params)

    def nodes(self) -> list[Client]:
        """A client of each node of the cluster (kept), or this store's own client alone."""
        if self._nodes is None:
            self._nodes = self.client.node_clients()
        return self._nodes

    def on_each_node(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        """The rows of `sql` run on every node at once (over the node's own `*_local`
        tables, named with their database), one list after another."""
        nodes = self.nodes()
        if len(nodes) == 1:
            return nodes[0].query(sql, params)
        with ThreadPoolExecutor(len(nodes)) as pool:
            answers = list(pool.map(lambda node: node.query(sql, params), nodes))
        return [row for rows in answers for row in rows]

    def data_version(self) -> int:
        """How many writes stored records: report caches key on it."""
        return int(self.query(f"SELECT count() FROM {self.table('writes')}")[0][0])

    def close(self) -> None:
        for node in self._nodes or []:
            if node is not self.client:
                node.close()
        self.client.close()


_NO_TIME = datetime(1970, 1, 1)


def _time(value) -> datetime:
    if value is None or value is pd.NaT or pd.isna(value):
        return _NO_TIME
    return pd.Timestamp(value).to_pydatetime().replace(tzinfo=None)


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _ingest_rows(frame: pd.DataFrame, first_arrival: int) -> list[tuple]:
    rows = []
    for offset, record in enumerate(frame.itertuples(index=False)):
        rows.append(
            (
                str(record.message_id),
                first_arrival + offset,
                str(record.channel),
                str(record.direction),
                str(record.subaccount),
                _text(record.user),
                _text(record.campaign),
                str(record.content_type),
                str(record.phone),
                _text(record.contact_name),
                _text(record.content),
                int(str(record.status_rank)),
                _text(record.error_code),
                _text(record.error_description),
                _time(record.created_at),
                record.created_day,
                _time(record.sent_at),
                _time(record.delivered_at),
                _time(record.read_at),
                _text(record.correlation_id),
            )
        )
    return rows


def ingest(
    store: ClickHouseStore,
    frame: pd.DataFrame,
    scope: WriteScope,
    *,
    all_or_nothing: bool = True,
    stored: dict[str, Identity] | None = None,
) -> IngestResult:
    """Store validated records (data_access.loader.validate_chunk's frame) within the writer's
    scope, through writes.write.

    Records outside the scope, and a record naming another identity than an earlier record of
    the same message in the same batch (or than `stored`, the identities a caller looked up),
    are refused as by data_access.merge. Nothing is read here: without `stored`, a record
    disagreeing with a message stored by an earlier write is not refused; the first record's
    identity stays (the states keep it).
    """
    if frame.empty:
        return IngestResult()
    frame = frame.reset_index(drop=True)
    refused = check_records(frame, stored or {}, scope)
    if refused and all_or_nothing:
        return IngestResult(refused=refused)
    if refused:
        frame = frame.drop(index=[r.row for r in refused]).reset_index(drop=True)
    if frame.empty:
        return IngestResult(refused=refused)

    def work(tx: Transaction) -> int:
        client = cast(Client, tx.conn)
        # Arrival order: the states keep the first record's identity and fill empty fields
        # by the earliest record that has them.
        arrival = time.time_ns()
        columns = [name for name, _ in schema.INGEST_COLUMNS]
        client.insert(store.table("ingest"), columns, _ingest_rows(frame, arrival))
        client.insert(
            store.table("writes"),
            ["written_at", "records", "arrival"],
            [(datetime.now(UTC).replace(tzinfo=None, microsecond=0), len(frame), arrival)],
        )
        # The data version is the count of `writes` rows: mark_changed would bump it in
        # store_meta, a table this store does not have.
        return len(frame)

    # writes.write runs the work under the process's write lock; it only needs `begin()`.
    records = write(cast(Engine, store), work)
    return IngestResult(records=records, refused=refused)
