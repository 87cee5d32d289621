"""Delivery times at scale, two designs side by side: `python -m bench.delivery_times STORE`.

(a) quantile functions over the messages (DuckDB quantile_cont, or approx_quantile), per day and
over the range, with the shares within 5 s, 1 min and 1 h; (b) the histogram kept with the
daily roll-up (data_access.reports.delivery_times, bucket counts summed in the engine and read
off in Python). Both over WhatsApp, every subaccount, 90 and 7 days; the median of --repeat
runs after one untimed warm-up. STORE is a DuckDB file that may be written: opening it brings
it to the newest schema (building the histogram, timed), so never point it at a shared store.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine, delete, func, insert, literal_column, select, text

from data_access import reports, rollup
from data_access.delivery_times import WITHIN_SECONDS, delay_seconds
from data_access.filters import AccessScope, ReportFilter, today_in
from data_access.migrations import current_revision
from data_access.store import create_schema, make_engine
from data_access.tables import daily_rollup, delivery_time_rollup, messages, subaccounts

TIMEZONE = "America/Sao_Paulo"
FRACTIONS = (0.5, 0.9, 0.99)

m = messages.c


def quantile_queries(scope: AccessScope, flt: ReportFilter, function: str):
    """Design (a): the percentiles and shares of each day and of the range, straight from the
    messages (two statements: per day, and over the range)."""
    conditions = [
        m.subaccount_id.in_(sorted(scope.subaccount_ids)),
        m.channel == flt.channel,
        m.created_day.between(flt.start, flt.end),
        m.direction == "MT",
    ]
    delivered = delay_seconds(m.delivered_at, m.created_at)
    read = delay_seconds(m.read_at, m.created_at)
    quantile = getattr(func, function)
    # One aggregate per measure, the three fractions as a list (one pass, one sort).
    fractions = literal_column("[" + ", ".join(f"{q}::FLOAT" for q in FRACTIONS) + "]")
    figures = [
        func.count(m.delivered_at).label("delivered"),
        quantile(delivered, fractions).label("delivered_quantiles"),
        *(
            func.count().filter(delivered <= seconds).label(name)
            for name, seconds in WITHIN_SECONDS.items()
        ),
        func.count(m.read_at).label("read"),
        quantile(read, fractions).label("read_quantiles"),
    ]
    per_day = select(m.created_day, *figures).where(*conditions).group_by(m.created_day)
    whole = select(*figures).where(*conditions)
    return per_day, whole


def timed(run: Callable[[], object], repeat: int) -> float:
    run()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def measure(engine: Engine, repeat: int) -> list[tuple[str, str, float]]:
    with engine.connect() as conn:
        scope = AccessScope.of(conn.execute(select(subaccounts.c.id)).scalars())
    today = today_in(TIMEZONE)
    results = []
    for days in (90, 7):
        flt = ReportFilter.build(
            "whatsapp",
            today - timedelta(days=days - 1),
            today,
            timezone=TIMEZONE,
            today=today,
        )
        for function in ("quantile_cont", "approx_quantile"):
            per_day, whole = quantile_queries(scope, flt, function)

            def run(per_day=per_day, whole=whole):
                with engine.connect() as conn:
                    return conn.execute(per_day).all(), conn.execute(whole).all()

            design = f"(a) {function} over the messages"
            results.append((design, f"{days} days", timed(run, repeat)))
        results.append(
            (
                "(b) histogram kept with the roll-up",
                f"{days} days",
                timed(lambda flt=flt: reports.delivery_times(engine, scope, flt), repeat),
            )
        )
        statement = reports._times_select(scope, flt)

        def raw(statement=statement):
            with engine.connect() as conn:
                return conn.execute(statement).all()

        results.append(("(b) its statement alone", f"{days} days", timed(raw, repeat)))
    return results


def keeping_cost(engine: Engine, repeat: int) -> list[tuple[str, float]]:
    """What keeping the histogram adds to a write: the roll-up's recount of 10 regions (a
    webhook batch's day, channel and subaccount), with and without the histogram's, each in a
    transaction rolled back."""
    with engine.connect() as conn:
        regions = [
            tuple(row)
            for row in conn.execute(
                select(m.created_day, m.channel, m.subaccount_id)
                .distinct()
                .order_by(m.created_day.desc(), m.channel, m.subaccount_id)
                .limit(10)
            )
        ]

    def recount(with_times: bool):
        def run():
            with engine.connect() as conn, conn.begin() as tx:
                covering = rollup._covering(daily_rollup, regions)
                conn.execute(delete(daily_rollup).where(covering))
                where = rollup._covering(messages, regions)
                counted = rollup._counted(where)
                conn.execute(insert(daily_rollup).from_select(rollup.TARGET, counted))
                if with_times:
                    conn.execute(
                        delete(delivery_time_rollup).where(
                            rollup._covering(delivery_time_rollup, regions)
                        )
                    )
                    conn.execute(
                        insert(delivery_time_rollup).from_select(
                            rollup.TIME_TARGET, rollup._times_counted(where, messages)
                        )
                    )
                tx.rollback()

        return run

    return [
        ("recount of 10 regions, roll-up only", timed(recount(False), repeat)),
        ("recount of 10 regions, roll-up and histogram", timed(recount(True), repeat)),
    ]


def print_precision(engine: Engine) -> None:
    """The range's exact percentiles (quantile_cont) beside the histogram's, 90 days."""
    with engine.connect() as conn:
        scope = AccessScope.of(conn.execute(select(subaccounts.c.id)).scalars())
    today = today_in(TIMEZONE)
    flt = ReportFilter.build(
        "whatsapp", today - timedelta(days=89), today, timezone=TIMEZONE, today=today
    )
    with engine.connect() as conn:
        exact = conn.execute(quantile_queries(scope, flt, "quantile_cont")[1]).one()
    bucketed = reports.delivery_times(engine, scope, flt).iloc[-1]
    for measure_name, values in (
        ("delivered", exact.delivered_quantiles),
        ("read", exact.read_quantiles),
    ):
        for name, value in zip(("p50", "p90", "p99"), values, strict=True):
            estimate = float(bucketed[f"{measure_name}_{name}"])
            print(
                f"| {measure_name} {name} | {value:,.2f} s | {estimate:,.2f} s | "
                f"{(estimate - value) * 100 / value:+.1f} % |"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("store", help="a DuckDB file this run may write to (a copy)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    engine = make_engine(f"duckdb:///{args.store}")
    with engine.connect() as conn:
        before = current_revision(conn)
    start = time.perf_counter()
    create_schema(engine, TIMEZONE)
    upgrade_s = time.perf_counter() - start
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(messages)).scalar_one()
        buckets = conn.execute(text("SELECT count(*) FROM delivery_time_rollup")).scalar_one()
    print(f"store: {stored:,} messages; revision {before} -> head in {upgrade_s:.1f} s")
    print(f"delivery_time_rollup: {buckets:,} rows")
    print(f"load average before: {os.getloadavg()}")
    for design, span, ms in measure(engine, args.repeat):
        print(f"| {design} | {span} | {ms:,.1f} |")
    for what, ms in keeping_cost(engine, args.repeat):
        print(f"| {what} | {ms:,.1f} |")
    print_precision(engine)
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
