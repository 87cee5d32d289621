"""Build a big embedded store through the public load path: `python -m bench.build --help`.

The demo generator's messages are written as loader CSV files of --file-rows rows each, and
each file is merged by `python app.py load` in a process of its own, as an operator would load
a day's files. Reports the rows per second of each load and overall, the largest memory any
load process used, and the store's bytes per message. A finished build is kept (a marker beside
the store) and reused; files already loaded are not loaded again when a build goes on after a
stop.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from bench.arguments import positive
from bench.stores import DATA_DIR, SEED
from config import PROJECT_DIR
from data_access.domain import RANK_STATUS
from data_access.loader import LOADER_COLUMNS
from demo.generator import generate

TIMEZONE = "America/Sao_Paulo"
TIMES = ("created_at", "sent_at", "delivered_at", "read_at")


def loader_frame(staged: pd.DataFrame) -> pd.DataFrame:
    """A staged demo frame as the rows of a loader file."""
    out = pd.DataFrame(index=staged.index)
    for name in LOADER_COLUMNS:
        if name in TIMES:
            values = pd.to_datetime(staged[name])
            out[name] = values.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").where(values.notna(), "")
        elif name == "status":
            out[name] = staged["status_rank"].map(RANK_STATUS)
        elif name == "phone":
            out[name] = "+" + staged["phone"].astype(str)
        else:
            out[name] = staged[name].where(staged[name].notna(), "")
    return out


def write_files(folder: Path, messages: int, file_rows: int, days: int) -> list[Path]:
    """The loader files of the build (written once; kept for a build that goes on)."""
    folder.mkdir(parents=True, exist_ok=True)
    count = -(-messages // file_rows)
    paths = [folder / f"messages-{n:04d}.csv" for n in range(count)]
    if all(p.exists() for p in paths):
        return paths
    now = datetime.now(ZoneInfo(TIMEZONE)).replace(hour=0, minute=0, second=0, microsecond=0)
    frames = generate(
        messages, days=days, seed=SEED, timezone=TIMEZONE, now=now, chunk_rows=file_rows
    )
    for path, staged in zip(paths, frames, strict=True):
        part = path.with_suffix(".part")
        loader_frame(staged).to_csv(part, index=False)
        part.replace(path)
    return paths


# Past this many messages a build loads copies of the files of a build this size, each copy's
# ids prefixed: writing and keeping 100 files of new messages would take longer than loading
# them and more disk than the store.
BASE_MESSAGES = 10_000_000


def prefixed_copy(path: Path, copy: int, folder: Path) -> Path:
    """The file with every message id prefixed by the copy's number (the header kept)."""
    target = folder / f"{path.stem}-copy{copy:02d}.csv"
    with path.open("rb") as source, target.open("wb") as out:
        out.write(source.readline())
        prefix = f"c{copy:02d}-".encode()
        for line in source:
            # A quoted field may hold a line break: only lines starting a row get the prefix,
            # and every row starts with its message id, never quoted by the generator.
            out.write(prefix + line if _starts_row(line) else line)
    return target


def _starts_row(line: bytes) -> bool:
    return line.startswith((b"wamid.", b"sms-"))


def load(store: Path, path: Path, memory_limit: str | None) -> float:
    env = {**os.environ, "DATABASE_URL": f"duckdb:///{store}", "DATA_DIR": str(store.parent)}
    if memory_limit:
        env["DUCKDB_MEMORY_LIMIT"] = memory_limit
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "app.py"), "load", str(path)],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"Loading {path.name} failed:\n{result.stderr.strip()}")
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.build",
        description="Build an embedded store of N messages through `python app.py load`.",
    )
    parser.add_argument("--messages", type=positive, default=10_000_000, metavar="N")
    parser.add_argument("--file-rows", type=positive, default=1_000_000, metavar="R")
    parser.add_argument("--days", type=positive, default=90)
    parser.add_argument("--memory-limit", default=None, help="DUCKDB_MEMORY_LIMIT of the loads")
    args = parser.parse_args(argv)

    store = DATA_DIR / f"load-{args.messages}.duckdb"
    marker = store.with_suffix(".json")
    progress = store.with_suffix(".loaded")
    if marker.exists():
        print(f"Reusing {store}: {marker.read_text().strip()}")
        return 0
    copies = 1
    base = args.messages
    if args.messages > BASE_MESSAGES:
        if args.messages % BASE_MESSAGES:
            parser.error(f"past {BASE_MESSAGES:,} messages, give a multiple of it")
        copies, base = args.messages // BASE_MESSAGES, BASE_MESSAGES
    print(f"Writing loader files of {args.file_rows:,} rows ...", flush=True)
    paths = write_files(DATA_DIR / f"files-{base}", base, args.file_rows, args.days)
    done = set(progress.read_text().split()) if progress.exists() else set()
    seconds = []
    # File by file, each file's copies one after another: the store stays in about day order.
    for path in paths:
        for copy in range(copies):
            name = path.name if copies == 1 else f"{path.stem}-copy{copy:02d}"
            if name in done:
                continue
            loaded = path if copies == 1 else prefixed_copy(path, copy, DATA_DIR)
            try:
                took = load(store, loaded, args.memory_limit)
            finally:
                if loaded != path:
                    loaded.unlink()
            seconds.append(took)
            with progress.open("a") as handle:
                handle.write(name + "\n")
            rows = min(args.file_rows, base - paths.index(path) * args.file_rows)
            print(f"{name}: {rows:,} rows in {took:.1f} s ({rows / took:,.0f} rows/s)", flush=True)
    total = sum(seconds)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    size = store.stat().st_size
    summary = {
        "messages": args.messages,
        "files": len(paths) * copies,
        "seconds_this_run": round(total, 1),
        "rows_per_second": (
            round(args.messages / total) if len(seconds) == len(paths) * copies else None
        ),
        "median_file_seconds": round(statistics.median(seconds), 1) if seconds else None,
        "peak_load_process_mb": round(peak),
        "store_bytes": size,
        "bytes_per_message": round(size / args.messages, 1),
        "memory_limit": args.memory_limit or "default",
    }
    marker.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
