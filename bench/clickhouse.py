"""The ClickHouse store at scale beside DuckDB and PostgreSQL: `python -m bench.clickhouse --help`.

`build` starts a two-shard cluster of clickhouse-server on loopback whose data stays under
bench/data/clickhouse-N/ (bench.build's loader files loaded through the ClickHouse loader, as
`python app.py load` does) and records the load's speed and the store's bytes. `measure` times,
on that store and on any other store given by URL: the report queries of bench.harness (through
data_access.reports, which sends them to ClickHouse for a bound engine), applying 10,000
statuses (one write of status updates of stored messages) and a detailed CSV export of about
1M rows (exports.writers.write_export, as a worker writes it). Medians, with the load average
before and after each store.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from bench.arguments import positive
from bench.stores import DATA_DIR
from data_access import reports
from data_access.clickhouse import loader as ch_loader
from data_access.clickhouse.binding import bind_url, messages_of, unbind
from data_access.filters import AccessScope, ReportFilter, today_in
from data_access.loader import LOADER_COLUMNS, validate_chunk
from data_access.store import create_schema, make_engine
from data_access.tables import subaccounts
from data_access.writes import WriteScope
from servertools.clickhouse import ClickHouseCluster

TIMEZONE = "America/Sao_Paulo"
CHANNEL = "whatsapp"
DAYS = 90


def root_of(messages: int) -> Path:
    return DATA_DIR / f"clickhouse-{messages}"


def files_of(messages: int) -> list[Path]:
    folder = DATA_DIR / f"files-{messages}"
    paths = sorted(folder.glob("messages-*.csv"))
    if not paths:
        raise SystemExit(f"No loader files in {folder}: run python -m bench.build first.")
    return paths


def start_cluster(messages: int) -> ClickHouseCluster:
    cluster = ClickHouseCluster(nodes=2, root=root_of(messages) / "cluster")
    cluster.start()
    return cluster


def accounts_engine(messages: int, clickhouse_url: str) -> Engine:
    engine = make_engine(f"duckdb:///{root_of(messages) / 'accounts.duckdb'}")
    create_schema(engine, TIMEZONE)
    return bind_url(engine, clickhouse_url)


def store_bytes(root: Path) -> int:
    out = subprocess.run(
        ["du", "-sb", *[str(p) for p in sorted(root.glob("cluster/node*/data"))]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sum(int(line.split()[0]) for line in out.splitlines())


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# ------------------------------------------------------------------------------------ build


def build(messages: int, out=sys.stdout) -> dict:
    root = root_of(messages)
    marker = root / "built.json"
    if marker.exists():
        print(f"already built: {marker.read_text()}", file=out)
        return json.loads(marker.read_text())
    cluster = start_cluster(messages)
    try:
        engine = accounts_engine(messages, cluster.url())
        ch = messages_of(engine)
        done_path = root / "loaded.txt"
        done = set(done_path.read_text().split()) if done_path.exists() else set()
        seconds = []
        started = time.monotonic()
        for path in files_of(messages):
            if path.name in done:
                continue
            began = time.monotonic()
            report = ch_loader.load_files(ch, [path], TIMEZONE)
            seconds.append(time.monotonic() - began)
            with done_path.open("a") as handle:
                handle.write(path.name + "\n")
            print(
                f"{path.name}: {report.rows_loaded:,} rows in {seconds[-1]:,.1f} s "
                f"({report.rows_loaded / seconds[-1]:,.0f} rows/s); load {load_average()}",
                file=out,
                flush=True,
            )
        total = time.monotonic() - started
        with ch.store() as store:
            per_node = [
                node.query(
                    f"SELECT uniqExact(message_id), count() FROM {node.database}.messages_local"
                )[0]
                for node in store.client.node_clients()
            ]
        result = {
            "messages": messages,
            "files": len(files_of(messages)),
            "seconds_this_run": round(total, 1),
            "rows_per_second": round(messages / total) if len(seconds) == 10 else None,
            "median_file_seconds": round(statistics.median(seconds), 1) if seconds else None,
            "messages_per_shard": [int(n) for n, _ in per_node],
            "state_rows_per_shard": [int(rows) for _, rows in per_node],
            "store_bytes": store_bytes(root),
        }
        result["bytes_per_message"] = round(result["store_bytes"] / messages, 1)
        marker.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2), file=out)
        unbind(engine)
        engine.dispose()
        return result
    finally:
        cluster.stop()


# ------------------------------------------------------------------------------------ measure


def _median_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * len(ordered)))]


def _timed_ms(run: Callable[[], object], repeat: int) -> list[float]:
    run()  # warm-up, not timed
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def _scope(engine: Engine) -> AccessScope:
    with engine.connect() as conn:
        return AccessScope.of(conn.execute(select(subaccounts.c.id)).scalars())


def _latest_phone(engine: Engine) -> str:
    ch = messages_of(engine)
    if ch is None:
        from bench.harness import sample_phone

        return sample_phone(engine, CHANNEL)
    with ch.store() as store:
        return store.query(
            "SELECT phone FROM (SELECT created_day, message_id, argMinMerge(s_phone) AS phone, "
            "argMinMerge(s_created_at) AS created_at, argMinMerge(s_channel) AS channel "
            f"FROM {store.table('messages')} WHERE created_day = "
            f"(SELECT max(created_day) FROM {store.table('daily')}) "
            "GROUP BY created_day, message_id) WHERE channel = %(channel)s "
            "ORDER BY created_at DESC LIMIT 1",
            {"channel": CHANNEL},
        )[0][0]


def report_queries(engine: Engine, repeat: int) -> list[dict]:
    """bench.harness's cases, through data_access.reports as the dashboard calls it."""
    scope = _scope(engine)
    today = today_in(TIMEZONE)

    def period(days: int, **more) -> ReportFilter:
        start = today - timedelta(days=days - 1)
        return ReportFilter.build(CHANNEL, start, today, timezone=TIMEZONE, today=today, **more)

    digits = _latest_phone(engine)
    typed_full = f"+{digits[:2]} ({digits[2:4]}) {digits[4:-4]}-{digits[-4:]}"
    typed_local = f"{digits[-8:-4]}-{digits[-4:]}"

    def series(flt):
        def run():
            daily = reports.daily_series(engine, scope, flt)
            return reports.range_totals(daily, CHANNEL)

        return run

    def page(flt, sort="created_at"):
        return lambda: reports.detailed_page(engine, scope, flt, sort=sort, limit=50)

    cases = [
        ("daily series + totals, 90 days", series(period(90))),
        ("daily series + totals, 7 days", series(period(7))),
        ("detailed first page (newest first), 90 days", page(period(90))),
        ("detailed first page (newest first), 7 days", page(period(7))),
        ("detailed page sorted by status, 90 days", page(period(90), "status")),
        ("phone search, full number, 90 days", page(period(90, phone=typed_full))),
        ("phone search, local digits, 90 days", page(period(90, phone=typed_local))),
        ("filter options", lambda: reports.filter_options(engine, scope, CHANNEL, TIMEZONE)),
        ("top error reasons, 90 days", lambda: reports.top_errors(engine, scope, period(90))),
    ]
    results = []
    for label, run in cases:
        median, p95 = _median_p95(_timed_ms(run, repeat))
        results.append({"query": label, "median_ms": round(median, 1), "p95_ms": round(p95, 1)})
    return results


def _status_frame(identities: list[tuple]) -> pd.DataFrame:
    """Validated loader rows moving each message to delivered now."""
    now = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    raw = pd.DataFrame(
        [
            {
                **dict.fromkeys(LOADER_COLUMNS, ""),
                "message_id": ident,
                "channel": channel,
                "direction": "MT",
                "subaccount": subaccount,
                "content_type": content_type,
                "phone": phone,
                "status": "delivered",
                "created_at": pd.Timestamp(created).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "delivered_at": now,
            }
            for ident, channel, subaccount, content_type, phone, created in identities
        ]
    )
    frame, problems = validate_chunk(raw, 2, "statuses", TIMEZONE)
    assert not problems, problems[:3]
    return frame


def clickhouse_statuses(engine: Engine, count: int, runs: int) -> dict:
    """Delivered statuses for `count` stored MT messages of the last two days: their identity
    read by id (a webhook knows only the id), then one write. Each run other messages."""
    ch = messages_of(engine)
    with ch.store() as store:
        newest = store.query(f"SELECT max(created_day) FROM {store.table('daily')}")[0][0]
        pool = [
            row[0]
            for row in store.query(
                f"SELECT DISTINCT message_id FROM {store.table('messages')} "
                "WHERE created_day >= %(since)s AND finalizeAggregation(s_direction) = 'MT' "
                "LIMIT %(most)s",
                {"since": newest - timedelta(days=1), "most": count * (runs + 1) * 2},
            )
        ]
    random.Random(7).shuffle(pool)
    reads, writes = [], []
    for run in range(runs):
        ids = pool[run * count : (run + 1) * count]
        began = time.perf_counter()
        with ch.store() as store:
            identities = store.query(
                "SELECT message_id, argMinMerge(s_channel), argMinMerge(s_subaccount), "
                "argMinMerge(s_content_type), argMinMerge(s_phone), argMinMerge(s_created_at) "
                f"FROM {store.table('messages')} WHERE message_id IN %(ids)s "
                "GROUP BY message_id",
                {"ids": tuple(ids)},
            )
        frame = _status_frame(identities)
        read = time.perf_counter()
        result = ch.ingest(frame, WriteScope.account("bench"))
        assert result.records == len(ids), (result.records, len(ids))
        reads.append(read - began)
        writes.append(time.perf_counter() - read)
    return {
        "statuses": count,
        "runs": runs,
        "read_and_validate_s": round(statistics.median(reads), 2),
        "write_s": round(statistics.median(writes), 2),
        "total_s": round(statistics.median([r + w for r, w in zip(reads, writes, strict=True)]), 2),
    }


def relational_statuses(engine: Engine, count: int, runs: int) -> dict:
    """The same through the relational write path (bench.merge: rolled back after each)."""
    from bench.merge import one_batch, sample_ids

    seconds = []
    for run in range(runs):
        with engine.connect() as conn:
            ids = sample_ids(conn, count, seed=run, recent_days=2)
        seconds.append(one_batch(engine, ids, TIMEZONE))
    return {"statuses": count, "runs": runs, "total_s": round(statistics.median(seconds), 2)}


def export_million(engine: Engine, rows: int, folder: Path, runs: int) -> dict:
    """A detailed CSV export of the newest days holding at least `rows` WhatsApp messages,
    written as an export worker writes it."""
    from exports.request import ExportRequest
    from exports.writers import write_export

    scope = _scope(engine)
    today = today_in(TIMEZONE)
    daily = reports.daily_series(
        engine,
        scope,
        ReportFilter.build(
            CHANNEL, today - timedelta(days=DAYS - 1), today, timezone=TIMEZONE, today=today
        ),
    )
    held, start = 0, today
    for day, total, received in zip(
        reversed(list(daily["date"])),
        reversed(list(daily["total"])),
        reversed(list(daily["received"])),
        strict=True,
    ):
        held += int(total) + int(received)
        start = day
        if held >= rows:
            break
    state = {"channel": CHANNEL, "view": "detailed", "start": str(start), "end": str(today)}
    request = ExportRequest.build(state, "csv", "es", TIMEZONE)
    seconds, written = [], 0
    for run in range(runs):
        path = folder / f"export-{run}.csv"
        began = time.perf_counter()
        result = write_export(engine, request, scope, path, requested_by="bench")
        seconds.append(time.perf_counter() - began)
        written = result.rows
        path.unlink()
    return {
        "rows": written,
        "days": f"{start} to {today}",
        "runs": runs,
        "median_s": round(statistics.median(seconds), 2),
        "rows_per_s": round(written / statistics.median(seconds)),
    }


def apply_end_to_end(url: str, data_dir: Path, repeat: int) -> list[dict]:
    """Apply on the served app, as bench.e2e times it: cold (a range not asked for before)
    and warm (the same range again), on the consolidated and the detailed view."""
    from bench.e2e import Page, Server
    from reporting.view_state import ViewState

    today = today_in(TIMEZONE)
    server = Server(url, data_dir, TIMEZONE, threads=8).wait_ready(timeout=300)
    results = []
    try:
        for view in ("consolidated", "detailed"):
            page = Page(server.base)
            page.sign_in()
            page.show(ViewState(view=view, channel=CHANNEL).to_dict())
            cold = []
            for i in range(repeat):
                start = today - timedelta(days=DAYS - 1 - (i + (view == "detailed") * repeat))
                began = time.perf_counter()
                page.apply(start, today)
                cold.append((time.perf_counter() - began) * 1000)
            warm = []
            for _ in range(repeat):
                began = time.perf_counter()
                page.apply(start, today)
                warm.append((time.perf_counter() - began) * 1000)
            for phase, samples in (("cold", cold), ("warm", warm)):
                median, p95 = _median_p95(samples)
                results.append(
                    {
                        "view": view,
                        "cache": phase,
                        "runs": repeat,
                        "median_ms": round(median, 1),
                        "p95_ms": round(p95, 1),
                    }
                )
    finally:
        server.stop()
    return results


def measure(store: str, messages: int, repeat: int, out=sys.stdout) -> dict:
    """Every measurement on one store: clickhouse (the kept cluster) or duckdb (bench.build's
    store of the same files)."""
    from bench.e2e import ensure_admin

    cluster = None
    if store == "clickhouse":
        cluster = start_cluster(messages)
        url = cluster.url()
        engine = accounts_engine(messages, url)
        data_dir = root_of(messages)
    else:
        url = f"duckdb:///{DATA_DIR / f'load-{messages}.duckdb'}"
        engine = make_engine(url)
        create_schema(engine, TIMEZONE)
        data_dir = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    result: dict = {"store": store, "messages": messages, "load_before": load_average()}
    try:
        print(f"{store}: load {load_average()}", file=out, flush=True)
        result["queries"] = report_queries(engine, repeat)
        print(json.dumps(result["queries"], indent=1), file=out, flush=True)
        if store == "clickhouse":
            result["statuses"] = clickhouse_statuses(engine, 10_000, 3)
        else:
            result["statuses"] = relational_statuses(engine, 10_000, 3)
        print(json.dumps(result["statuses"]), file=out, flush=True)
        with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
            result["export"] = export_million(engine, 1_000_000, Path(folder), 3)
        print(json.dumps(result["export"]), file=out, flush=True)
        ensure_admin(engine)
        if store == "clickhouse":
            unbind(engine)
        engine.dispose()
        result["apply"] = apply_end_to_end(url, data_dir, repeat)
        print(json.dumps(result["apply"], indent=1), file=out, flush=True)
        result["load_after"] = load_average()
    finally:
        if cluster is not None:
            cluster.stop()
    path = root_of(messages) / f"measure-{store}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{store}: done, load {load_average()}; {path}", file=out, flush=True)
    return result


# ------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.clickhouse", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    made = sub.add_parser("build", help="load the loader files into a kept two-shard cluster")
    made.add_argument("--messages", type=positive, default=10_000_000)
    timed = sub.add_parser("measure", help="time queries, statuses, an export and Apply")
    timed.add_argument("--store", choices=("clickhouse", "duckdb"), default="clickhouse")
    timed.add_argument("--messages", type=positive, default=10_000_000)
    timed.add_argument("--repeat", type=positive, default=5)
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.messages)
    else:
        measure(args.store, args.messages, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
