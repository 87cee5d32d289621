"""Times the report queries on a large demo store and prints the table of docs/BENCHMARKS.md.

For each query three figures are measured: our layer (the data_access.reports function, with
SQLAlchemy compilation and the pandas result), the very statements it sends to the database run
again raw on the driver connection, and for the daily series a naive baseline that reads the
range's rows into pandas and groups them there.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TextIO

import pandas as pd
from sqlalchemy import Engine, event, select

from bench.arguments import positive
from bench.stores import DATA_DIR, OpenStore, Plan, open_duckdb, open_postgres
from data_access import reports
from data_access.filters import AccessScope, ReportFilter, today_in
from data_access.tables import contacts, messages, subaccounts

DEFAULT_MESSAGES = 10_000_000
DAYS = 90
NAIVE_REPEAT = 3
CHANNEL = "whatsapp"


@dataclass(frozen=True)
class Target:
    """A latency goal for the DuckDB store: median at most `median_ms`, and `ratio` x raw."""

    median_ms: float
    ratio: float | None = None

    def describe(self) -> str:
        return f"<= {self.median_ms:g} ms" + (f", <= {self.ratio:g}x raw" if self.ratio else "")

    def met(self, ours_ms: float, ratio: float) -> bool:
        return ours_ms <= self.median_ms and (self.ratio is None or ratio <= self.ratio)


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    run: Callable[[], object]
    naive: Callable[[], object] | None = None
    target: Target | None = None


@dataclass
class Result:
    store: str
    case: Case
    ours: list[float]
    raw: list[float]
    naive: list[float] = field(default_factory=list)
    ours_cpu: list[float] = field(default_factory=list)

    @property
    def ours_median(self) -> float:
        return statistics.median(self.ours)

    @property
    def raw_median(self) -> float:
        return statistics.median(self.raw)

    @property
    def ratio(self) -> float:
        return self.ours_median / self.raw_median

    @property
    def naive_median(self) -> float | None:
        return statistics.median(self.naive) if self.naive else None

    def verdict(self) -> str:
        if self.case.target is None or self.store != "duckdb":
            return ""
        return "met" if self.case.target.met(self.ours_median, self.ratio) else "MISSED"


def p95(samples: list[float]) -> float:
    """The 95th percentile by linear interpolation (the largest sample when there are few)."""
    ordered = sorted(samples)
    position = 0.95 * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _timed(run: Callable[[], object], repeat: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds of each of `repeat` runs, after one untimed warm-up.

    CPU time counts every thread of this process, so for DuckDB it includes the engine's work;
    on a shared machine it shows the cost of a query when the wall clock is inflated by others.
    """
    run()  # warm the caches and the prepared statements once, untimed
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append((time.perf_counter() - started) * 1000.0)
        cpu.append((time.process_time() - started_cpu) * 1000.0)
    return wall, cpu


def capture_statements(engine: Engine, run: Callable[[], object]) -> list[tuple[str, object]]:
    """The SQL text and driver parameters of every statement `run` sends to the engine."""
    seen: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _executemany):
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def raw_runner(engine: Engine, statements: list[tuple[str, object]]) -> Callable[[], list]:
    """Run the captured statements on a driver connection; return every row of each."""
    raw = engine.raw_connection()
    driver = raw.driver_connection

    if engine.dialect.name == "duckdb":

        def run() -> list[list[tuple]]:
            return [
                driver.execute(statement, parameters or ()).fetchall()
                for statement, parameters in statements
            ]

    else:

        def run() -> list[list[tuple]]:
            with driver.cursor() as cursor:
                fetched = []
                for statement, parameters in statements:
                    cursor.execute(statement, parameters or None)
                    fetched.append(cursor.fetchall())
            driver.rollback()
            return fetched

    run.close = raw.close  # type: ignore[attr-defined]
    return run


def _naive_daily(engine: Engine, scope: AccessScope, flt: ReportFilter) -> Callable[[], object]:
    """What a first attempt looks like: fetch the range's rows, count them in pandas."""
    m = messages.c
    query = select(
        m.created_day, m.direction, m.status, m.sent_at, m.delivered_at, m.read_at
    ).where(
        m.subaccount_id.in_(sorted(scope.subaccount_ids)),
        m.channel == flt.channel,
        m.created_day.between(flt.start, flt.end),
    )

    def run() -> tuple[pd.DataFrame, pd.Series]:
        with engine.connect() as conn:
            rows = pd.read_sql(query, conn)
        mt = rows["direction"] == "MT"
        counts = pd.DataFrame(
            {
                "date": rows["created_day"],
                "total": mt,
                "sent": mt & rows["sent_at"].notna(),
                "delivered": mt & rows["delivered_at"].notna(),
                "read": mt & rows["read_at"].notna(),
                "errors": mt & (rows["status"] == "error"),
                "received": rows["direction"] == "MO",
            }
        )
        daily = counts.groupby("date").sum()
        return daily, daily.sum()

    return run


def sample_phone(engine: Engine, channel: str) -> str:
    """The number of the contact of the latest message on the channel (a support-desk lookup)."""
    query = (
        select(contacts.c.phone)
        .select_from(messages.join(contacts, contacts.c.id == messages.c.contact_id))
        .where(messages.c.channel == channel)
        .order_by(messages.c.created_at.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def build_cases(engine: Engine, timezone: str) -> list[Case]:
    with engine.connect() as conn:
        scope = AccessScope.of(conn.execute(select(subaccounts.c.id)).scalars())
    today = today_in(timezone)
    last_90 = ReportFilter.build(
        CHANNEL, today - timedelta(days=DAYS - 1), today, timezone=timezone, today=today
    )
    last_7 = ReportFilter.build(
        CHANNEL, today - timedelta(days=6), today, timezone=timezone, today=today
    )
    digits = sample_phone(engine, CHANNEL)
    typed_full = f"+{digits[:2]} ({digits[2:4]}) {digits[4:-4]}-{digits[-4:]}"
    typed_local = f"{digits[-8:-4]}-{digits[-4:]}"
    with_full = ReportFilter.build(
        CHANNEL, last_90.start, today, phone=typed_full, timezone=timezone, today=today
    )
    with_local = ReportFilter.build(
        CHANNEL, last_90.start, today, phone=typed_local, timezone=timezone, today=today
    )

    def series(flt: ReportFilter) -> Callable[[], object]:
        def run():
            daily = reports.daily_series(engine, scope, flt)
            return daily, reports.range_totals(daily, flt.channel)

        return run

    def page(flt: ReportFilter, sort: str = "created_at", descending: bool = True):
        return lambda: reports.detailed_page(
            engine, scope, flt, sort=sort, descending=descending, offset=0, limit=50
        )

    return [
        Case(
            "daily_90",
            "daily series + totals, 90 days",
            series(last_90),
            _naive_daily(engine, scope, last_90),
            Target(150, 1.5),
        ),
        Case(
            "daily_7",
            "daily series + totals, 7 days",
            series(last_7),
            _naive_daily(engine, scope, last_7),
        ),
        Case(
            "detail_first",
            "detailed first page (newest first), 90 days",
            page(last_90),
            target=Target(50),
        ),
        Case(
            "detail_first_7",
            "detailed first page (newest first), 7 days",
            page(last_7),
            target=Target(50),
        ),
        Case("detail_sorted", "detailed page sorted by status, 90 days", page(last_90, "status")),
        Case(
            "phone_full",
            f"phone search, full number {typed_full!r}, 90 days",
            page(with_full),
            target=Target(50),
        ),
        Case(
            "phone_local",
            f"phone search, local digits {typed_local!r}, 90 days",
            page(with_local),
            target=Target(50),
        ),
        Case(
            "filter_options",
            "filter options",
            lambda: reports.filter_options(engine, scope, CHANNEL, timezone),
            target=Target(50),
        ),
        Case(
            "top_errors",
            "top error reasons, 90 days",
            lambda: reports.top_errors(engine, scope, last_90),
        ),
    ]


def measure(store: OpenStore, timezone: str, repeat: int) -> list[Result]:
    results = []
    for case in build_cases(store.engine, timezone):
        ours, ours_cpu = _timed(case.run, repeat)
        raw = raw_runner(store.engine, capture_statements(store.engine, case.run))
        try:
            raw_samples, _ = _timed(raw, repeat)
        finally:
            raw.close()
        naive = _timed(case.naive, min(repeat, NAIVE_REPEAT))[0] if case.naive else []
        results.append(Result(store.name, case, ours, raw_samples, naive, ours_cpu))
    return results


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def format_table(results: list[Result]) -> str:
    """A Markdown table, so the output can go into docs/BENCHMARKS.md as it is."""
    header = (
        "| store | query | ours median ms | ours p95 ms | ours CPU ms | raw median ms "
        "| raw p95 ms | ours / raw | naive pandas median ms | target (DuckDB) | |"
    )
    lines = [header, "|" + "---|" * 11]
    for r in results:
        target = r.case.target.describe() if r.case.target and r.store == "duckdb" else ""
        lines.append(
            f"| {r.store} | {r.case.label} | {_ms(r.ours_median)} | {_ms(p95(r.ours))} "
            f"| {_ms(statistics.median(r.ours_cpu))} "
            f"| {_ms(r.raw_median)} | {_ms(p95(r.raw))} | {r.ratio:.2f} "
            f"| {_ms(r.naive_median)} | {target} | {r.verdict()} |"
        )
    return "\n".join(lines)


def run(
    *,
    messages: int = DEFAULT_MESSAGES,
    stores: tuple[str, ...] = ("duckdb",),
    repeat: int = 20,
    rebuild: bool = False,
    data_dir: Path = DATA_DIR,
    timezone: str = "America/Sao_Paulo",
    out: TextIO = sys.stdout,
    progress=None,
) -> list[Result]:
    """Build or reuse each store, time every query on it, print the table; return the results."""
    plan = Plan(messages=messages, days=DAYS, timezone=timezone)
    openers = {"duckdb": open_duckdb, "postgres": open_postgres}
    results: list[Result] = []
    for name in stores:
        started = time.monotonic()
        store = openers[name](plan, data_dir, rebuild=rebuild, progress=progress)
        try:
            marker = store.marker
            state = "built" if store.built_now else "reused"
            print(
                f"{name}: {marker.messages:,} messages over {marker.days} days, {state} "
                f"(built {marker.built_at} in {marker.build_seconds:,.0f} s); "
                f"ready after {time.monotonic() - started:,.0f} s",
                file=out,
                flush=True,
            )
            measured = measure(store, timezone, repeat)
        finally:
            store.close()
        # Each store's table as soon as it is measured: a PostgreSQL run takes a while longer.
        print(format_table(measured), file=out, flush=True)
        results.extend(measured)
    return results


def main(argv: list[str] | None = None) -> int:
    from commands.console import Console
    from config import SettingsError, load_settings
    from data_access.store import StoreLockedError

    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Time the report queries on a demo store of N messages over 90 days.",
    )
    parser.add_argument("--messages", type=positive, default=DEFAULT_MESSAGES, metavar="N")
    parser.add_argument("--store", choices=("duckdb", "postgres", "both"), default="duckdb")
    parser.add_argument("--repeat", type=positive, default=20, metavar="R")
    parser.add_argument(
        "--rebuild", action="store_true", help="build the store again even when one is present"
    )
    args = parser.parse_args(argv)
    try:
        timezone = load_settings().account_timezone
    except SettingsError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    stores = ("duckdb", "postgres") if args.store == "both" else (args.store,)
    try:
        run(
            messages=args.messages,
            stores=stores,
            repeat=args.repeat,
            rebuild=args.rebuild,
            timezone=timezone,
            progress=lambda total: Console().progress(total, unit="messages"),
        )
    except StoreLockedError as error:
        print(
            f"The benchmark store is in use by another process ({error}); "
            "wait for it to finish and run the benchmark again.",
            file=sys.stderr,
        )
        return 1
    return 0
