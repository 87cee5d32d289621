"""Times detailed exports (CSV and XLSX) of about 100k, 1M and 2M rows and reads their peak memory.

`python -m bench.exports` builds a DuckDB demo store once (bench/data/exports/, through
`python app.py demo`), then runs every export in a fresh subprocess and takes that process's
peak resident memory (ru_maxrss), so one run cannot inflate the next. The DuckDB store runs
under DUCKDB_MEMORY_LIMIT, as the server would (`--memory-limit` to try another). It prints the
Markdown tables of docs/BENCHMARKS.md ("Exports"), including the XLSX writer comparison that
chose the writer (`--writers ROWS`: openpyxl write-only, xlsxwriter constant_memory and ours,
same rows).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from bench.arguments import positive
from config import PROJECT_DIR, SettingsError, load_settings, parse_memory_limit

DATA_DIR = PROJECT_DIR / "bench" / "data" / "exports"
DEFAULT_MESSAGES = 3_000_000  # about 2.2M of them WhatsApp: enough for the 2M-row export
DEFAULT_SIZES = (100_000, 1_000_000, 2_000_000)
SEED = 7
TIMEZONE = "America/Sao_Paulo"
CHANNEL = "whatsapp"
TARGETS = {("csv", 1_000_000): 5.0, ("xlsx", 1_000_000): 40.0}
MEMORY_TARGET_MB = 300


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Sampler:
    """The highest resident memory seen while a block runs (sampled every 20 ms)."""

    def __enter__(self) -> _Sampler:
        self.peak = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())


def _store_url(store) -> str:
    """A DuckDB file's URL, or the PostgreSQL URL itself."""
    store = str(store)
    return store if store.startswith("postgresql") else f"duckdb:///{Path(store).resolve()}"


def build_postgres(messages: int):
    """A throwaway PostgreSQL cluster holding `messages` demo messages: (server, URL)."""
    from servertools.postgres import PostgresServer

    server = PostgresServer()
    server.start()
    url = server.create_database("exports_bench")
    print(f"Building a PostgreSQL demo store of {messages:,} messages ...", file=sys.stderr)
    env = {**os.environ, "DATABASE_URL": url, "DATA_DIR": str(DATA_DIR / "pg-data"),
           "ACCOUNT_TIMEZONE": TIMEZONE}  # fmt: skip
    subprocess.run(
        [sys.executable, "app.py", "demo", "--messages", str(messages), "--seed", str(SEED)],
        cwd=PROJECT_DIR, env=env, check=True,
    )  # fmt: skip
    return server, url


def build_store(store: Path, messages: int, rebuild: bool) -> bool:
    """Build the demo store at `store`, or reuse it; False when the store was not built by
    this harness (no marker beside it: one of bench.build or bench.scale): such a store is
    measured as it is, never replaced."""
    marker = store.with_suffix(".built.json")
    wanted = {"messages": messages, "seed": SEED}
    if not marker.exists() and store.exists():
        print(f"Measuring {store} as it is (not built by this harness).", file=sys.stderr)
        return False
    if not rebuild and marker.exists() and json.loads(marker.read_text()) == wanted:
        return True
    store.parent.mkdir(parents=True, exist_ok=True)
    for path in (store, marker, store.with_name(store.name + ".wal")):
        path.unlink(missing_ok=True)
    print(f"Building a demo store of {messages:,} messages in {store} ...", file=sys.stderr)
    env = {**os.environ, "DATABASE_URL": _store_url(store), "DATA_DIR": str(store.parent),
           "ACCOUNT_TIMEZONE": TIMEZONE}  # fmt: skip
    subprocess.run(
        [sys.executable, "app.py", "demo", "--messages", str(messages), "--seed", str(SEED)],
        cwd=PROJECT_DIR, env=env, check=True,
    )  # fmt: skip
    marker.write_text(json.dumps(wanted))
    return True


def stored_messages(store: Path) -> int:
    from sqlalchemy import func, select

    from data_access.store import make_engine
    from data_access.tables import messages

    engine = make_engine(_store_url(store))
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(messages)).scalar_one()
    engine.dispose()
    return count


def ranges_for(store: str | Path, sizes) -> dict[int, tuple[str, str, int]]:
    """For each size, the newest range of whole days holding at least that many rows."""
    from sqlalchemy import func, select

    from data_access.filters import today_in
    from data_access.store import make_engine
    from data_access.tables import messages

    engine = make_engine(_store_url(store))
    today = today_in(TIMEZONE)
    with engine.connect() as conn:
        per_day = dict(
            conn.execute(
                select(messages.c.created_day, func.count())
                .where(messages.c.channel == CHANNEL)
                .where(messages.c.created_day > today - timedelta(90))
                .group_by(messages.c.created_day)
            ).all()
        )
    engine.dispose()
    out = {}
    for size in sizes:
        held, start = 0, today
        while held < size and start > today - timedelta(89):
            held += per_day.get(start, 0)
            if held < size:
                start -= timedelta(days=1)
        out[size] = (start.isoformat(), today.isoformat(), held)
    return out


def _every_subaccount(conn):
    """The scope of a user who may see every subaccount of the store."""
    from sqlalchemy import select

    from data_access.filters import AccessScope
    from data_access.tables import subaccounts

    return AccessScope.of(conn.execute(select(subaccounts.c.id)).scalars().all())


def _export_request(fmt: str, start: str, end: str):
    """The detailed export every measurement makes: WhatsApp, newest first, in Spanish."""
    from exports.request import ExportRequest

    state = {"channel": CHANNEL, "view": "detailed", "start": start, "end": end}
    return ExportRequest.build(state, fmt, "es", TIMEZONE)


def child_export(
    store: str | Path,
    fmt: str,
    start: str,
    end: str,
    out: Path,
    memory_limit: str | None = None,
    lone: bool = False,
) -> dict:
    """One export in this process: rows, wall and CPU seconds, peak and baseline memory.

    `lone` sizes the process as `python app.py export` does (exports/standalone.py); otherwise
    the store runs under `memory_limit` (default DUCKDB_MEMORY_LIMIT's), as in the server.
    """
    from sqlalchemy import text

    from data_access.store import make_engine
    from exports import standalone
    from exports.writers import write_export

    if lone:
        standalone.prepare_process()
        engine = standalone.make_export_engine(_store_url(store))
    else:
        engine = make_engine(_store_url(store), *([memory_limit] if memory_limit else []))
    with engine.connect() as conn:
        scope = _every_subaccount(conn)
    baseline = _rss_mb()
    duckdb = engine.dialect.name == "duckdb"
    request = _export_request(fmt, start, end)
    wall, cpu = time.perf_counter(), time.process_time()
    result = write_export(engine, request, scope, out, requested_by="bench")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    cache = limit = None
    if duckdb:
        with engine.connect() as conn:
            limit = conn.execute(text("SELECT current_setting('memory_limit')")).scalar()
            cache = (
                conn.execute(
                    text(
                        "SELECT sum(memory_usage_bytes) FROM duckdb_memory()"
                        " WHERE tag = 'BASE_TABLE'"
                    )
                ).scalar()
                or 0
            )
    engine.dispose()
    return {
        "rows": result.rows,
        "size_mb": result.size / 2**20,
        "seconds": wall,
        "cpu_seconds": cpu,
        "peak_mb": _peak_mb(),
        "baseline_mb": baseline,
        "block_cache_mb": None if cache is None else cache / 2**20,
        "memory_limit": limit,
    }


def _sample_rows(store: str | Path, rows: int):
    from data_access import reports
    from data_access.filters import ReportFilter, today_in
    from data_access.store import make_engine

    engine = make_engine(_store_url(store))
    today = today_in(TIMEZONE)
    with engine.connect() as conn:
        scope = _every_subaccount(conn)
        flt = ReportFilter.build(CHANNEL, today - timedelta(89), today, timezone=TIMEZONE)
        query = reports.detailed_select(scope, flt).limit(rows)
        data = conn.execute(query).all()
    engine.dispose()
    return data


def child_writer(store: str | Path, writer: str, rows: int, out: Path) -> dict:
    """Write the same rows with one XLSX writer; only the writing is timed."""
    from data_access.reports import DETAIL_COLUMNS, TIME_COLUMNS

    data = _sample_rows(store, rows)
    if writer == "ours":
        from exports.source import rows_to_batch

        # Each writer gets the rows in the form an export hands it: tuples, or Arrow batches.
        data = rows_to_batch(data)
    times = [DETAIL_COLUMNS.index(c) for c in TIME_COLUMNS]
    before = _rss_mb()
    with _Sampler() as sampler:
        wall = _write_with(writer, data, times, out)
    return {
        "rows": data.num_rows if writer == "ours" else len(data),
        "seconds": wall,
        "growth_mb": sampler.peak - before,
        "size_mb": out.stat().st_size / 2**20,
    }


def _write_with(writer: str, data, times: list[int], out: Path) -> float:
    from data_access.reports import DETAIL_COLUMNS, TIME_COLUMNS

    wall = time.perf_counter()
    if writer == "openpyxl":
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        book = Workbook(write_only=True)
        sheet = book.create_sheet("Datos")
        sheet.freeze_panes = "A2"
        bold = Font(bold=True)
        header = []
        for name in DETAIL_COLUMNS:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for row in data:
            sheet.append(list(row))
        book.save(out)
    elif writer == "xlsxwriter":
        import xlsxwriter

        book = xlsxwriter.Workbook(str(out), {"constant_memory": True})
        sheet = book.add_worksheet("Datos")
        bold = book.add_format({"bold": True})
        stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        sheet.freeze_panes(1, 0)
        sheet.write_row(0, 0, DETAIL_COLUMNS, bold)
        for r, row in enumerate(data, start=1):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if c in times:
                    sheet.write_datetime(r, c, value, stamp)
                else:
                    sheet.write_string(r, c, value)
        book.close()
    else:
        from exports.xlsx import Column, XlsxBook

        batch = data
        book = XlsxBook(out)
        columns = [
            Column(n, "datetime" if n in TIME_COLUMNS else "text", 20) for n in DETAIL_COLUMNS
        ]
        sheet = book.add_sheet("Datos", columns)
        for offset in range(0, batch.num_rows, 4096):
            part = batch.slice(offset, 4096)
            sheet.write([part.column(i) for i in range(part.num_columns)])
        sheet.close()
        book.close()
    return time.perf_counter() - wall


def _child(command: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.exports", *command],
        cwd=PROJECT_DIR, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"bench child failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def command_export(store: str | Path, fmt: str, start: str, end: str, out: Path) -> dict:
    """`python app.py export` itself, as a script or cron runs it: its wall time (start-up
    included) and the peak resident memory of its whole process (ru_maxrss from wait4)."""
    env = {**os.environ, "DATABASE_URL": _store_url(store), "ACCOUNT_TIMEZONE": TIMEZONE}
    if not str(store).startswith("postgresql"):
        env["DATA_DIR"] = str(Path(store).parent)
    Path(out).unlink(missing_ok=True)
    command = [sys.executable, "app.py", "export", "--view", "detailed", "--format", fmt,
               "--channel", CHANNEL, "--start", start, "--end", end, "--lang", "es",
               "--tz", TIMEZONE, "--out", str(out)]  # fmt: skip
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        wall = time.perf_counter()
        process = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=stdout, stderr=stderr)
        # wait4, not wait: it also returns the finished process's own resource usage.
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - wall
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        printed, complaint = stdout.read().decode(), stderr.read().decode()
    if process.returncode != 0:
        raise SystemExit(f"python app.py export failed: {complaint[-2000:]}")
    wrote = printed.split("Wrote ", 1)[1].split(" rows", 1)[0]
    return {"rows": int(wrote.replace(",", "")), "seconds": wall, "peak_mb": usage.ru_maxrss / 1024}


def run(args: argparse.Namespace) -> int:
    server = None
    if args.postgres:
        server, store = build_postgres(args.messages)
        kind = "PostgreSQL (its own server process)"
    else:
        store = Path(args.store)
        if not build_store(store, args.messages, args.rebuild):
            args.messages = stored_messages(store)
        kind = "DuckDB (embedded)"
    try:
        return _measure(args, store, kind)
    finally:
        if server is not None:
            server.stop()


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _verdicts(fmt: str, size: int, seconds: float, peak: float | None) -> str:
    goals = []
    if (fmt, size) in TARGETS:
        limit = TARGETS[(fmt, size)]
        goals.append(f"{'met' if seconds <= limit else 'missed'} (<= {limit:g} s)")
    if size >= 2_000_000 and peak is not None:
        ok = peak * 2**20 < MEMORY_TARGET_MB * 10**6
        goals.append(f"{'met' if ok else 'missed'} (< {MEMORY_TARGET_MB} MB)")
    return "; ".join(goals) or "—"


def _measure(args: argparse.Namespace, store, kind: str) -> int:
    out_dir = DATA_DIR / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    print(f"Detailed export, {kind} store of {args.messages:,} messages, {os.cpu_count()} cores, "
          f"load average {load:.1f} at start; medians of {args.repeat} runs.")  # fmt: skip
    ranges = ranges_for(store, args.sizes)
    if "server" in args.modes:
        _measure_server(args, store, ranges, out_dir)
        if args.postgres:
            _measure_postgres_alone(args, store, ranges)
    if "command" in args.modes:
        _measure_command(args, store, ranges, out_dir)
    if args.writers:
        _measure_writers(args, store, out_dir)
    print()
    print(f"Load average at the end: {os.getloadavg()[0]:.1f}.")
    return 0


def _measure_server(args, store, ranges, out_dir: Path) -> None:
    print()
    if args.postgres:
        print("In the export worker (the process that runs exports on PostgreSQL); MiB:")
    else:
        print(f"Inside the server (DUCKDB_MEMORY_LIMIT={args.memory_limit}, the threads DuckDB "
              "chooses); MiB:")  # fmt: skip
    print()
    print("| rows | format | time (s) | CPU (s) | file (MB) | peak RSS | of which: process "
          "baseline / DuckDB block cache / the export's own | target |")  # fmt: skip
    print("|---:|---|---:|---:|---:|---:|---:|---|")
    for size in args.sizes:
        start, end, _ = ranges[size]
        for fmt in args.formats:
            out = out_dir / f"{size}.{fmt}"
            runs = []
            for _ in range(args.repeat):
                out.unlink(missing_ok=True)
                runs.append(_child(["--child-export", fmt, start, end, str(out), "--store",
                                    str(store), "--memory-limit", args.memory_limit]))  # fmt: skip
            med = {
                key: _median([r[key] or 0 for r in runs])
                for key in runs[0]
                if key != "memory_limit"
            }
            cache = "—" if runs[0]["block_cache_mb"] is None else f"{med['block_cache_mb']:.0f}"
            # The export's own: what it holds only while it runs (DuckDB's sorts and joins, the
            # batches read ahead, the writer), unlike the cache, which the dashboard shares.
            own = med["peak_mb"] - med["baseline_mb"] - med["block_cache_mb"]
            print(
                f"| {runs[0]['rows']:,} | {fmt} | {med['seconds']:.1f} | {med['cpu_seconds']:.1f} "
                f"| {med['size_mb']:.0f} | {med['peak_mb']:.0f} | {med['baseline_mb']:.0f} / "
                f"{cache} / {own:.0f} | {_verdicts(fmt, size, med['seconds'], None)} |",
                flush=True,
            )


def postgres_alone(url: str, start: str, end: str) -> float:
    """Seconds PostgreSQL takes to produce an export's rows in the view's order with nothing
    reading them: its query copied to the server's /dev/null (the bench's cluster is run by a
    superuser). What is left of an export's time is the reading and the writing."""
    from psycopg import ClientCursor

    from data_access import reports
    from data_access.store import make_engine

    engine = make_engine(url)
    flt = _export_request("csv", start, end).report_filter()
    try:
        with engine.connect() as conn:
            statement = reports.detailed_select(_every_subaccount(conn), flt)
            compiled = statement.compile(
                dialect=engine.dialect, compile_kwargs={"render_postcompile": True}
            )
            cursor = ClientCursor(conn.connection.dbapi_connection)
            query = cursor.mogrify(compiled.string, compiled.params)
            cursor.execute("SET LOCAL datestyle = 'ISO, YMD'")
            wall = time.perf_counter()
            cursor.execute(f"COPY ({query}) TO '/dev/null' WITH (FORMAT csv)")
            return time.perf_counter() - wall
    finally:
        engine.dispose()


def _measure_postgres_alone(args, store, ranges) -> None:
    print()
    print("PostgreSQL alone: the export's query, sorted and formatted as CSV by the server, "
          "copied to its /dev/null (no client reading it):")  # fmt: skip
    print()
    print("| rows | time (s) |")
    print("|---:|---:|")
    for size in args.sizes:
        start, end, held = ranges[size]
        runs = [postgres_alone(store, start, end) for _ in range(args.repeat)]
        print(f"| {held:,} | {_median(runs):.1f} |", flush=True)


def _measure_command(args, store, ranges, out_dir: Path) -> None:
    print()
    print("`python app.py export` (a process that only exports, exports/standalone.py); MiB:")
    print()
    print("| rows | format | export (s) | CPU (s) | command, start-up included (s) | "
          "peak RSS of the command's process | target |")  # fmt: skip
    print("|---:|---|---:|---:|---:|---:|---|")
    for size in args.sizes:
        start, end, _ = ranges[size]
        for fmt in args.formats:
            out = out_dir / f"{size}.{fmt}"
            lone, whole = [], []
            for _ in range(args.repeat):
                out.unlink(missing_ok=True)
                lone.append(_child(["--child-export", fmt, start, end, str(out), "--store",
                                    str(store), "--lone"]))  # fmt: skip
                whole.append(command_export(store, fmt, start, end, out))
            seconds = _median([r["seconds"] for r in lone])
            peak = _median([r["peak_mb"] for r in whole])
            print(
                f"| {whole[0]['rows']:,} | {fmt} | {seconds:.1f} | "
                f"{_median([r['cpu_seconds'] for r in lone]):.1f} | "
                f"{_median([r['seconds'] for r in whole]):.1f} | {peak:.0f} | "
                f"{_verdicts(fmt, size, seconds, peak)} |",
                flush=True,
            )


def _measure_writers(args, store, out_dir: Path) -> None:
    print()
    print(f"XLSX writers, the same {args.writers:,} detailed rows (writing only):")
    print()
    print("| writer | time (s) | rows per second | memory growth (MB) | file (MB) |")
    print("|---|---:|---:|---:|---:|")
    for writer in ("openpyxl", "xlsxwriter", "ours"):
        out = str(out_dir / f"writer-{writer}.xlsx")
        result = _child(["--child-writer", writer, str(args.writers), out, "--store", str(store)])
        label = {"openpyxl": "openpyxl 3.1.5 write-only",
                 "xlsxwriter": "xlsxwriter 3.3.1 constant_memory",
                 "ours": "exports.xlsx (Arrow kernels)"}[writer]  # fmt: skip
        print(
            f"| {label} | {result['seconds']:.1f} | {result['rows'] / result['seconds']:,.0f}"
            f" | {result['growth_mb']:.0f} | {result['size_mb']:.1f} |",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.exports", description=__doc__)
    parser.add_argument("--messages", type=int, default=DEFAULT_MESSAGES)
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=list(DEFAULT_SIZES), help="none: writers only"
    )
    parser.add_argument("--formats", nargs="+", default=["csv", "xlsx"], choices=("csv", "xlsx"))
    parser.add_argument("--writers", type=int, default=100_000, metavar="ROWS",
                        help="rows for the XLSX writer comparison (0 skips it)")  # fmt: skip
    parser.add_argument("--store", default=str(DATA_DIR / "exports.duckdb"))
    parser.add_argument(
        "--memory-limit",
        metavar="SIZE",
        help="the DuckDB store's memory limit (default: DUCKDB_MEMORY_LIMIT, else its default)",
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        default=["server", "command"],
        choices=("server", "command"),
        help="server: inside a process with the server's settings; command: python app.py export",
    )
    parser.add_argument("--repeat", type=positive, default=3, help="runs per case (medians)")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--postgres", action="store_true", help="measure on a throwaway PostgreSQL store instead"
    )
    parser.add_argument("--child-export", nargs=4, metavar=("FORMAT", "START", "END", "OUT"))
    parser.add_argument("--lone", action="store_true", help="with --child-export: as the command")
    parser.add_argument("--child-writer", nargs=3, metavar=("WRITER", "ROWS", "OUT"))
    args = parser.parse_args(argv)
    try:
        args.memory_limit = parse_memory_limit(
            args.memory_limit or load_settings().duckdb_memory_limit, "--memory-limit"
        )
    except SettingsError as error:
        parser.error(str(error))
    if args.child_export:
        fmt, start, end, out = args.child_export
        result = child_export(
            args.store, fmt, start, end, Path(out), args.memory_limit, lone=args.lone
        )
        print(json.dumps(result))
        return 0
    if args.child_writer:
        writer, rows, out = args.child_writer
        print(json.dumps(child_writer(args.store, writer, int(rows), Path(out))))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
