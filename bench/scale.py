"""A bigger embedded store made by SQL from copies of a built one: `python -m bench.scale --help`.

For timing reads and merges at 100M while a build through `python app.py load` (bench.build)
would take hours on this machine: every message and event of the source store (one of
bench.build) is copied N times, each copy's ids prefixed, day by day so the store stays in day
order; then the roll-up and the message keys are counted from the copies. Not the public load
path: its throughput is measured by bench.build.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import duckdb

from bench.arguments import positive
from bench.stores import DATA_DIR
from data_access import message_keys, rollup
from data_access.store import create_schema, make_engine, read_meta
from data_access.tables import message_events, messages

COPIED_AS_THEY_ARE = ("subaccounts", "users", "campaigns", "contacts")


def _columns(table) -> list[str]:
    return [c.name for c in table.columns]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--source", type=Path, default=DATA_DIR / "load-10000000.duckdb")
    parser.add_argument("--copies", type=positive, default=10)
    parser.add_argument("--target-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)

    source = make_engine(f"duckdb:///{args.source}")
    with source.connect() as conn:
        timezone = read_meta(conn, "account_timezone")
    create_schema(source, timezone)  # brings it to the newest schema first
    source.dispose()
    with duckdb.connect(str(args.source), read_only=True) as src:
        count = src.execute("SELECT count(*) FROM messages").fetchone()[0]
        days = [
            d
            for (d,) in src.execute(
                "SELECT DISTINCT created_day FROM messages ORDER BY 1"
            ).fetchall()
        ]
    target_path = args.target_dir / f"scaled-{count * args.copies}.duckdb"
    marker = target_path.with_suffix(".json")
    if marker.exists():
        print(f"Reusing {target_path}: {marker.read_text().strip()}")
        return 0
    target_path.unlink(missing_ok=True)
    engine = make_engine(f"duckdb:///{target_path}")
    create_schema(engine, timezone)
    engine.dispose()

    started = time.monotonic()
    db = duckdb.connect(str(target_path), config={"memory_limit": "1GB"})
    db.execute(f"ATTACH '{args.source}' AS src (READ_ONLY)")
    for table in COPIED_AS_THEY_ARE:
        db.execute(f"INSERT INTO {table} SELECT * FROM src.{table}")
    for table in COPIED_AS_THEY_ARE:
        db.execute(
            f"SELECT setval('{table}_id_seq', (SELECT coalesce(max(id), 0) + 1 FROM {table}))"
        )
    for table in (messages, message_events):
        columns = _columns(table)
        selected = ", ".join(
            "'c' || k || '-' || message_id" if c == "message_id" else c for c in columns
        )
        for number, day in enumerate(days):
            db.execute(
                f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {selected} "
                f"FROM range({args.copies}) AS copies(k), src.{table.name} "
                "WHERE created_day = ?",
                [day],
            )
            if number % 10 == 0:
                print(f"{table.name}: day {number + 1} of {len(days)}", flush=True)
    db.execute("DETACH src")
    db.execute("CHECKPOINT")
    db.close()

    engine = make_engine(f"duckdb:///{target_path}")
    with engine.begin() as conn:
        rollup.rebuild(conn)
        message_keys.rebuild(conn)
    engine.dispose()
    seconds = time.monotonic() - started
    summary = {
        "messages": count * args.copies,
        "made_from": str(args.source.name),
        "copies": args.copies,
        "seconds": round(seconds, 1),
        "store_bytes": target_path.stat().st_size,
        "bytes_per_message": round(target_path.stat().st_size / (count * args.copies), 1),
    }
    marker.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
