"""The cost of one write through the write path on a big store: `python -m bench.merge --help`.

Opens (or builds) the benchmark store of N messages and times what the inbox worker does for a
batch of status events of stored messages: look the messages up by key, check each status
against its message, merge them by key, keep their events and count the touched roll-up
regions again. Each batch
runs in a transaction that is rolled back, so the store is the same for every run and batch.
Prints the median and spread per batch size, and the process's peak memory.

A running server's worker looks messages up thousands of times a second, so the part of the
recent index it reads is in memory; a fresh process reads it from the file on first use (at
100M messages the first lookups of 10 ids take 14 ms instead of 1). Before timing, the
benchmark looks up `--warm` other recent ids, 200 at a time (`--warm 0`: time a cold index).
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bench.arguments import positive
from bench.stores import DATA_DIR, ExistingStore, OpenStore, Plan, open_duckdb, open_existing
from data_access.merge import stored_identities
from data_access.tables import messages
from data_access.writes import Transaction, WriteScope
from ingest.events import StatusEvent
from ingest.merge import merge_statuses

SIZES = (10, 100, 1_000, 5_000)
# Ids a lookup names one by one at most (message_keys.NAMED_HASHES_MAX): the index's path.
WARM_BATCH = 200
TARGETS_MS = {10: 20, 1_000: 200}


def sample_ids(conn, count: int, seed: int, recent_days: int) -> list[str]:
    """Message ids of the last days (statuses arrive within hours of the send)."""
    m = messages.c
    newest = conn.execute(select(func.max(m.created_day))).scalar_one()
    ids = (
        conn.execute(
            select(m.message_id)
            .where(m.created_day >= newest - timedelta(days=recent_days), m.direction == "MT")
            .limit(count * 20)
        )
        .scalars()
        .all()
    )
    return random.Random(seed).sample(ids, min(count, len(ids)))


def one_batch(engine, ids: list[str], timezone: str) -> float:
    """Seconds to apply a status to each id, as the worker does; rolled back after."""
    now = datetime.now(UTC)
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            started = time.perf_counter()
            stored = stored_identities(conn, ids)
            events = [
                StatusEvent(message_id, message.channel, "delivered", now)
                for message_id, message in stored.items()
            ]
            merge_statuses(Transaction(conn), events, stored, WriteScope.account("bench"), "bench")
            return time.perf_counter() - started
        finally:
            transaction.rollback()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.merge",
        description="Time one merge of N status events through the write path (rolled back).",
    )
    parser.add_argument("--messages", type=positive, default=10_000_000, metavar="N")
    parser.add_argument("--repeat", type=positive, default=7, metavar="R")
    parser.add_argument("--days", type=positive, default=2, help="statuses of the last D days")
    parser.add_argument(
        "--warm",
        type=int,
        default=20_000,
        metavar="IDS",
        help="recent ids looked up before timing, as a running server has (0: a cold index)",
    )
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="an existing embedded store to time (e.g. one of python -m bench.build)",
    )
    args = parser.parse_args(argv)
    plan = Plan(messages=args.messages, days=90, timezone="America/Sao_Paulo")
    store: OpenStore | ExistingStore
    if args.store:
        store = open_existing(args.store, plan.timezone)
        args.messages = store.messages
    else:
        store = open_duckdb(plan, DATA_DIR, rebuild=False)
    try:
        with store.engine.connect() as conn:
            pool = sample_ids(conn, max(SIZES) * args.repeat + args.warm, 7, args.days)
            timed, warming = pool[: max(SIZES) * args.repeat], pool[max(SIZES) * args.repeat :]
            started = time.perf_counter()
            for first in range(0, len(warming), WARM_BATCH):
                stored_identities(conn, warming[first : first + WARM_BATCH])
            warmed = time.perf_counter() - started
        print(f"Store: {args.messages:,} messages; statuses of the last {args.days} days")
        print(f"Recent index warmed by looking up {len(warming):,} other ids ({warmed:.1f} s)")
        print("| statuses | median ms | min - max ms | target |")
        print("|---:|---:|---:|---|")
        for size in SIZES:
            times = []
            for run in range(args.repeat):
                ids = timed[run * size : (run + 1) * size]
                times.append(one_batch(store.engine, ids, plan.timezone) * 1000)
            target = TARGETS_MS.get(size)
            verdict = (
                ""
                if target is None
                else f"<= {target} ms: "
                + ("met" if statistics.median(times) <= target else "missed")
            )
            print(
                f"| {size:,} | {statistics.median(times):,.0f} | "
                f"{min(times):,.0f} - {max(times):,.0f} | {verdict} |",
                flush=True,
            )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"Peak memory of this process: {peak:,.0f} MB")
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
