"""RETENTION_DAYS on a ClickHouse store: the messages of the days before the cutoff leave every
node, the engine's daily roll-up stays, so the consolidated figures of those days stay as they
were (as data_access/retention.py does for DuckDB and PostgreSQL).

`messages_local` is partitioned by month: a month wholly before the cutoff is dropped as a
partition (a file operation, no rewrite); the cutoff's own month, and the phone key (not
partitioned), lose their older days by `ALTER TABLE ... DELETE`, a mutation the engine applies
in the background: the purge waits until it is done. Both statements, and the system tables
read here (system.parts, system.mutations), are the same for ClickHouse 18.16 and the modern
engine. ON CLUSTER would need ZooKeeper, so each node is purged on its own local tables.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from data_access.clickhouse.client import Client, literal
from data_access.clickhouse.store import ClickHouseStore

MUTATION_WAIT_SECONDS = 300.0


def _month(day: date) -> int:
    """The partition of a day in tables partitioned by toYYYYMM(created_day)."""
    return day.year * 100 + day.month


def _wait_for_mutations(node: Client, table: str) -> None:
    deadline = time.monotonic() + MUTATION_WAIT_SECONDS
    while node.query(
        "SELECT count() FROM system.mutations WHERE database = %(db)s AND table = %(table)s "
        "AND is_done = 0",
        {"db": node.database, "table": table},
    )[0][0]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the deletion of old days from {table} is still running")
        time.sleep(0.1)


def _purge_node(node: Client, first_kept: date) -> None:
    db = node.database
    before = literal(first_kept)
    partitions = node.query(
        "SELECT DISTINCT partition FROM system.parts WHERE database = %(db)s "
        "AND table = 'messages_local' AND active",
        {"db": db},
    )
    for (partition,) in partitions:
        month = int(str(partition).strip("'"))
        if month < _month(first_kept):
            node.command(f"ALTER TABLE {db}.messages_local DROP PARTITION {month}")
    for table in ("messages_local", "phones_local"):
        left = node.query(
            f"SELECT count() FROM {db}.{table} WHERE created_day < {before}",
        )[0][0]
        if left:
            node.command(f"ALTER TABLE {db}.{table} DELETE WHERE created_day < {before}")
            _wait_for_mutations(node, table)


def purge_days_before(store: ClickHouseStore, first_kept: date) -> int:
    """Delete the messages of the days before `first_kept` from every node (the roll-up keeps
    their counts); returns how many messages went."""
    gone = sum(
        int(count)
        for (count,) in store.on_each_node(
            f"SELECT uniqExact(message_id) FROM {store.client.database}.messages_local "
            "WHERE created_day < %(first_kept)s",
            {"first_kept": first_kept},
        )
    )
    if not gone:
        return 0
    for node in store.nodes():
        _purge_node(node, first_kept)
    # The data version is the count of `writes` rows: one more, so report caches refresh.
    store.client.insert(
        store.table("writes"),
        ["written_at", "records", "arrival"],
        [(datetime.now(UTC).replace(tzinfo=None, microsecond=0), 0, time.time_ns())],
    )
    return gone
