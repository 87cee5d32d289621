"""The read API's message pages on a ClickHouse store, (a) a two-shard cluster of
clickhouse-server 18.16 on loopback and (b) the embedded modern engine (chdb): the keyset pages
of tests/test_read_api.py's messages (five at each of three instants, so pages cut between
equal times) come back newest first, each message once, within the key's subaccounts."""

from __future__ import annotations

import math

from tests import test_clickhouse_ingest as hooks
from tests.test_read_api import YESTERDAY, get, read_key, rows

# The stores of tests/test_clickhouse_ingest.py: the cluster and chdb, the app on each.
clickhouse_cluster, settings = hooks.clickhouse_cluster, hooks.settings
engine, client = hooks.engine, hooks.client

# Newest first, ties by the larger id first: Brand B's eight at 13:00-13:07, then Brand A's
# fifteen, five at each of 12:02, 12:01 and 12:00.
NEWEST_FIRST = [f"b-{n:02d}" for n in range(7, -1, -1)] + [f"a-{n:02d}" for n in range(14, -1, -1)]


def _pages(client, key: str, limit: int) -> tuple[list[str], int]:
    seen: list[str] = []
    cursor, pages = None, 0
    while True:
        path = f"/api/v1/reports/messages?start={YESTERDAY}&limit={limit}"
        answer = get(client, key, path + (f"&cursor={cursor}" if cursor else ""))
        assert answer.status_code == 200, answer.json
        pages += 1
        seen += [row["message_id"] for row in answer.json["messages"]]
        cursor = answer.json["next_cursor"]
        if cursor is None:
            return seen, pages


def test_message_pages_from_clickhouse_give_every_message_once(client, engine, tmp_path):
    hooks.load(engine, tmp_path, rows())
    both = read_key(engine, "Brand A", "Brand B")
    for limit in (4, 5, 100):
        seen, pages = _pages(client, both, limit)
        assert seen == NEWEST_FIRST
        assert pages == math.ceil(23 / limit)
    # A key of Brand A reads Brand A's messages only.
    only_a = read_key(engine, "Brand A")
    assert _pages(client, only_a, 4) == (NEWEST_FIRST[8:], 4)
    other = get(client, only_a, "/api/v1/reports/messages?message_id=b-01").json
    assert (other["messages"], other["next_cursor"]) == ([], None)
    [a03] = get(client, only_a, "/api/v1/reports/messages?message_id=a-03").json["messages"]
    assert (a03["subaccount"], a03["phone"], a03["status"], a03["error_code"]) == (
        "Brand A",
        "5511987650003",
        "delivered",
        None,
    )
    # 12:00 in São Paulo is 15:00 UTC.
    assert a03["created_at"] == f"{YESTERDAY.isoformat()}T15:00:00Z"
    assert a03["delivered_at"] == a03["created_at"]
    assert a03["read_at"] is None
