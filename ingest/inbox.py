"""The durable inbox: webhook bodies are stored first, then processed idempotently, with retries.

A body is acknowledged once its inbox row is committed. Processing reads due rows in order,
maps them and merges their events in one transaction together with marking the rows done, so a
crash before the commit leaves them new and the next start processes them once. A body with
parts that cannot be mapped is marked failed with its reasons (the readable parts are applied)
and stays until an admin replays it. A database error puts the row back with a growing delay;
after MAX_ATTEMPTS it is marked failed too. Nothing is deleted but processed rows past the
retention period.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from data_access.clickhouse.binding import messages_of
from data_access.filters import today_in
from data_access.retention import purge_messages
from data_access.sql import raw_connection
from data_access.store import data_version
from data_access.tables import inbox, pending_statuses
from data_access.writes import Transaction, WriteScope, ahead_of_bulk, write
from ingest import sinch, whatsapp
from ingest.events import Mapped
from ingest.merge import apply_mapped, apply_pending

log = logging.getLogger(__name__)

SOURCES = {"whatsapp": whatsapp.map_payload, "sinch": sinch.map_payload}
BATCH_ROWS = 500
SETTLE_SECONDS = 1.0
MAX_ATTEMPTS = 8
MAX_DELAY_SECONDS = 600
PENDING_CHECK_SECONDS = 5.0
RETENTION_CHECK_SECONDS = 3600.0


DUCKDB_INSERT = (
    "INSERT INTO inbox (id, source, received_at, body, state, attempts, next_attempt_at, scope) "
    "VALUES (nextval('inbox_id_seq'), ?, ?, ?, 'new', 0, ?, ?)"
)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Report:
    """What one processing run did."""

    processed: int = 0
    failed: int = 0
    retried: int = 0
    events: int = 0
    pending: int = 0

    def add(self, other: Report) -> None:
        self.processed += other.processed
        self.failed += other.failed
        self.retried += other.retried
        self.events += other.events
        self.pending += other.pending


@dataclass
class _Arrival:
    source: str
    body: str
    scope: str | None = None
    written: bool = False
    error: Exception | None = None


class InboxWriter:
    """Stores webhook bodies durably, many per commit (group commit).

    Each request queues its body and then takes the commit lock. The first to get it writes
    every queued body in one transaction; the others find theirs written when their turn
    comes. A commit costs a disk flush, so under load one flush serves many requests.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: list[_Arrival] = []
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()

    def accept(self, source: str, body: str, scope: str | None = None) -> None:
        """Return once the body is committed; raise if it could not be stored. `scope` is the
        subaccount its route limits it to (a number's own Sinch callback), if any."""
        arrival = _Arrival(source, body, scope)
        with self._queue_lock:
            self._queue.append(arrival)
        with self._commit_lock:
            if not arrival.written and arrival.error is None:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._write(batch)
        if arrival.error is not None:
            raise arrival.error

    def _write(self, batch: list[_Arrival]) -> None:
        now = utcnow()
        try:
            with self.engine.begin() as conn:
                if conn.dialect.name == "duckdb":
                    # Every webhook waits for this insert. duckdb-engine does not cache compiled
                    # statements, so the driver's own executemany saves a third of its cost.
                    raw_connection(conn).executemany(
                        DUCKDB_INSERT, [(a.source, now, a.body, now, a.scope) for a in batch]
                    )
                else:
                    conn.execute(
                        insert(inbox),
                        [
                            {
                                "source": a.source,
                                "received_at": now,
                                "body": a.body,
                                "state": "new",
                                "attempts": 0,
                                "next_attempt_at": now,
                                "scope": a.scope,
                            }
                            for a in batch
                        ],
                    )
        except Exception as error:  # every waiter answers with the error; nothing half-stored
            for arrival in batch:
                arrival.error = error
            return
        for arrival in batch:
            arrival.written = True


def map_body(source: str, body: str) -> Mapped:
    """Map one stored body; anything unreadable becomes a problem, never an exception."""
    try:
        return SOURCES[source](json.loads(body))
    except Exception as error:  # a body is kept and shown, whatever is wrong with it
        mapped = Mapped()
        mapped.problems.append(f"cannot be read: {type(error).__name__}: {error}")
        return mapped


def _due(conn: Connection, now: datetime, limit: int, ids: list[int] | None = None):
    query = select(inbox.c.id, inbox.c.source, inbox.c.body, inbox.c.attempts, inbox.c.scope).where(
        inbox.c.state == "new"
    )
    query = query.where(inbox.c.id.in_(ids)) if ids else query.where(inbox.c.next_attempt_at <= now)
    query = query.order_by(inbox.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        # Another process (a command run beside the server) skips rows being processed here.
        query = query.with_for_update(skip_locked=True)
    return conn.execute(query).all()


def _notes(mapped: Mapped, problems: list[str]) -> str | None:
    lines = list(mapped.problems) + problems
    lines += [f"skipped: {note}" for note in mapped.skipped]
    return "\n".join(lines) or None


def route_scope(source: str, scope: str | None) -> WriteScope | None:
    """The writer of a stored body: its route's subaccount, the whole account for Sinch's
    account-wide callback, or None where each event's business number decides (WhatsApp)."""
    if scope is not None:
        name = {"sinch": "Sinch", "whatsapp": "WhatsApp"}.get(source, source)
        return WriteScope.subaccount(f"{name} callback of subaccount {scope!r}", scope)
    if source == "sinch":
        return WriteScope.account("Sinch account callback")
    return None


def _process(engine: Engine, timezone: str, limit: int, ids: list[int] | None = None) -> Report:
    now = utcnow()

    def work(tx: Transaction) -> Report:
        report = Report()
        conn = tx.conn
        rows = _due(conn, now, limit, ids)
        if not rows:
            return report
        items = [
            (row.id, map_body(row.source, row.body), route_scope(row.source, row.scope))
            for row in rows
        ]
        applied, problems = apply_mapped(tx, items, timezone, now)
        clean = []
        for row_id, mapped, _ in items:
            failed = bool(mapped.problems or problems.get(row_id))
            notes = _notes(mapped, problems.get(row_id, []))
            report.processed += 1
            report.failed += failed
            report.events += mapped.event_count
            if notes is None:
                clean.append(row_id)
                continue
            conn.execute(
                update(inbox)
                .where(inbox.c.id == row_id)
                .values(state="failed" if failed else "done", processed_at=now, problems=notes)
            )
        if clean:
            conn.execute(
                update(inbox).where(inbox.c.id.in_(clean)).values(state="done", processed_at=now)
            )
        report.pending = applied.pending
        return report

    return write(engine, work)


def _retry_later(engine: Engine, row_id: int, error: Exception) -> Report:
    with engine.begin() as conn:
        attempts = conn.execute(select(inbox.c.attempts).where(inbox.c.id == row_id)).scalar_one()
        attempts += 1
        delay = min(2**attempts, MAX_DELAY_SECONDS)
        gave_up = attempts >= MAX_ATTEMPTS
        reason = f"attempt {attempts} failed: {type(error).__name__}: {str(error)[:500]}"
        if gave_up:
            reason = f"gave up after {attempts} attempts; replay it after the cause is fixed. " + (
                reason
            )
        conn.execute(
            update(inbox)
            .where(inbox.c.id == row_id)
            .values(
                attempts=attempts,
                next_attempt_at=utcnow() + timedelta(seconds=delay),
                state="failed" if gave_up else "new",
                problems=reason,
            )
        )
    log.warning("inbox row %s: %s", row_id, reason)
    return Report(failed=int(gave_up), retried=int(not gave_up))


def process_due(engine: Engine, timezone: str, limit: int = BATCH_ROWS) -> Report:
    """Process up to `limit` due rows; a batch that fails is retried row by row."""
    try:
        return _process(engine, timezone, limit)
    except Exception as error:
        log.info("inbox batch failed (%s); processing its rows one by one", error)
    with engine.connect() as conn:
        ids = [row.id for row in _due(conn, utcnow(), limit)]
    report = Report()
    for row_id in ids:
        try:
            report.add(_process(engine, timezone, 1, [row_id]))
        except Exception as error:  # the row is kept and retried later, never dropped
            report.add(_retry_later(engine, row_id, error))
    return report


def drain(engine: Engine, timezone: str, limit: int = BATCH_ROWS) -> Report:
    """Process every due row (what start-up and tests call)."""
    total = Report()
    while True:
        report = process_due(engine, timezone, limit)
        total.add(report)
        # Rows put back for a retry are due later, so a pass that touched nothing ends it.
        if report.processed + report.failed + report.retried == 0:
            return total


def replay(engine: Engine, timezone: str, ids: list[int] | None = None) -> Report:
    """Put failed rows (all, or the given ones, whatever their state) back and process them."""
    with engine.begin() as conn:
        statement = update(inbox)
        if ids:
            statement = statement.where(inbox.c.id.in_(ids))
        else:
            statement = statement.where(inbox.c.state == "failed")
        conn.execute(
            statement.values(state="new", attempts=0, next_attempt_at=utcnow(), problems=None)
        )
    return drain(engine, timezone)


def purge_processed(engine: Engine, keep_days: int) -> int:
    """Delete rows processed more than keep_days ago; failed rows stay until replayed."""
    cutoff = utcnow() - timedelta(days=keep_days)

    def work(tx: Transaction) -> int:
        result = tx.conn.execute(
            delete(inbox).where(inbox.c.state == "done", inbox.c.processed_at < cutoff)
        )
        return result.rowcount or 0

    return write(engine, work)


def expire_pending(engine: Engine, keep_days: int, now: datetime | None = None) -> int:
    """Mark kept statuses whose send record has not come within keep_days as expired; they
    stay, counted and listed, never dropped."""
    now = now or utcnow()
    p = pending_statuses.c

    def work(tx: Transaction) -> int:
        result = tx.conn.execute(
            update(pending_statuses)
            .where(
                p.expired_at.is_(None),
                p.problem.is_(None),
                p.received_at < now - timedelta(days=keep_days),
            )
            .values(expired_at=now)
        )
        return result.rowcount or 0

    expired = write(engine, work)
    if expired:
        log.warning(
            "%s kept status(es) expired: no send record came within %s days "
            "(`python app.py inbox list` shows them)",
            expired,
            keep_days,
        )
    return expired


def state_counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(inbox.c.state, func.count()).group_by(inbox.c.state)).all()
    counts = {"new": 0, "done": 0, "failed": 0}
    counts.update({state: int(n) for state, n in rows})
    p = pending_statuses.c
    counts["pending_statuses"] = int(
        conn.execute(
            select(func.count()).where(p.problem.is_(None), p.expired_at.is_(None))
        ).scalar_one()
    )
    counts["expired_statuses"] = int(
        conn.execute(
            select(func.count()).where(p.problem.is_(None), p.expired_at.is_not(None))
        ).scalar_one()
    )
    counts["unfit_statuses"] = int(
        conn.execute(select(func.count()).where(p.problem.is_not(None))).scalar_one()
    )
    return counts


@dataclass
class Worker:
    """The server's background thread that processes the inbox.

    A pass runs when a webhook wakes it or after `interval` seconds, but passes are at least
    `settle` seconds apart (unless a backlog remains), so under load each pass merges many
    bodies at once. The first pass takes what a previous run left unprocessed. It also merges
    kept statuses whose send record came by another path (a file load) and purges old
    processed rows.
    """

    engine: Engine
    timezone: str
    keep_days: int
    pending_keep_days: int = 7
    retention_days: int = 400
    interval: float = 1.0
    settle: float = SETTLE_SECONDS
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="inbox", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        # During a pass, and while a backlog remains, a file load's next part waits.
        with ExitStack() as backlog:
            self._passes(backlog)

    def _passes(self, backlog: ExitStack) -> None:
        last_pending = last_purge = float("-inf")
        seen_version = None
        behind = False
        while not self._stop.is_set():
            self._wake.clear()
            full = False
            if not behind:  # open before the pass, so no part slips in after a full one
                backlog.enter_context(ahead_of_bulk())
                behind = True
            try:
                report = process_due(self.engine, self.timezone)
                full = report.processed + report.failed + report.retried >= BATCH_ROWS
                now = time.monotonic()
                if now - last_pending >= PENDING_CHECK_SECONDS:
                    last_pending = now
                    seen_version = self._apply_pending(seen_version)
                if now - last_purge >= RETENTION_CHECK_SECONDS:
                    last_purge = now
                    purge_processed(self.engine, self.keep_days)
                    expire_pending(self.engine, self.pending_keep_days)
                    purge_messages(self.engine, self.retention_days, today_in(self.timezone))
            except Exception:  # keep the thread alive; the rows stay for the next pass
                log.exception("inbox worker pass failed")
            if full:
                continue  # a backlog: the next batch is due at once
            backlog.close()
            behind = False
            # Let bodies gather: one pass over many bodies costs little more than over one.
            if self._stop.wait(self.settle):
                return
            self._wake.wait(self.interval)
            if self._stop.is_set():
                return

    def _apply_pending(self, seen_version: int | None) -> int | None:
        with self.engine.connect() as conn:
            version = messages_version(conn)
            waiting = conn.execute(
                select(func.count()).where(pending_statuses.c.problem.is_(None))
            ).scalar_one()
        if not waiting or version == seen_version:
            return version
        write(self.engine, lambda tx: apply_pending(tx, self.timezone))
        with self.engine.connect() as conn:
            return messages_version(conn)


def messages_version(conn: Connection) -> int:
    """The data version of the store that holds the messages: a kept status is tried again
    only after some message was written."""
    clickhouse = messages_of(conn)
    return data_version(conn) if clickhouse is None else clickhouse.data_version()
