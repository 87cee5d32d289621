"""The benchmark stores: a DuckDB file and a PostgreSQL cluster under bench/data, kept for reuse.

A store is reused when its marker file says it was built completely with the same number of
messages, days and seed (a store of an older schema version is upgraded when opened); otherwise
(or with --rebuild) it is built again from the demo data.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, create_engine, func, select, text

from data_access.store import create_schema, make_engine
from data_access.tables import SCHEMA_VERSION, messages
from demo.generator import build_demo
from servertools.postgres import PostgresServer

DATA_DIR = Path(__file__).resolve().parent / "data"
SEED = 20_260_101

Progress = Callable[[int], Callable[[int], None]]


@dataclass(frozen=True)
class Plan:
    messages: int
    days: int
    timezone: str
    seed: int = SEED


@dataclass(frozen=True)
class Marker:
    """Written only after a build finished, so a cut-short build is never reused."""

    messages: int
    days: int
    seed: int
    schema_version: str
    built_at: str
    build_seconds: float

    def matches(self, plan: Plan) -> bool:
        # A store of an older schema version is reused: opening it upgrades it (_upgraded).
        return (self.messages, self.days, self.seed) == (plan.messages, plan.days, plan.seed)


def _read_marker(path: Path) -> Marker | None:
    try:
        return Marker(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _write_marker(path: Path, plan: Plan, seconds: float) -> Marker:
    marker = Marker(
        messages=plan.messages,
        days=plan.days,
        seed=plan.seed,
        schema_version=SCHEMA_VERSION,
        built_at=datetime.now(ZoneInfo(plan.timezone)).isoformat(timespec="seconds"),
        build_seconds=round(seconds, 1),
    )
    path.write_text(json.dumps(asdict(marker), indent=2) + "\n")
    return marker


def _upgraded(engine: Engine, plan: Plan, marker: Marker, marker_path: Path) -> Marker:
    """Bring a reused store to the current schema (as the app's start does) and note it.
    Always asked: revisions after schema version 5 (Alembic's) leave the version as it is, and
    asking a store at the newest revision costs a read."""
    create_schema(engine, plan.timezone)
    if marker.schema_version == SCHEMA_VERSION:
        return marker
    marker = replace(marker, schema_version=SCHEMA_VERSION)
    marker_path.write_text(json.dumps(asdict(marker), indent=2) + "\n")
    return marker


@dataclass
class OpenStore:
    """A store ready to query; close() releases it (and stops a PostgreSQL cluster)."""

    name: str
    engine: Engine
    marker: Marker
    built_now: bool
    _close: Callable[[], None]

    def close(self) -> None:
        self._close()


def _fill(engine: Engine, plan: Plan, progress: Progress | None) -> float:
    create_schema(engine, plan.timezone)
    started = time.monotonic()
    build_demo(
        engine,
        plan.messages,
        days=plan.days,
        seed=plan.seed,
        timezone=plan.timezone,
        progress=progress(plan.messages) if progress else None,
    )
    return time.monotonic() - started


@dataclass
class ExistingStore:
    """An embedded store made elsewhere (bench.build, bench.scale), timed as it is."""

    engine: Engine
    messages: int

    def close(self) -> None:
        self.engine.dispose()


def open_existing(path: Path, timezone: str) -> ExistingStore:
    """Open a store by its path, at the newest schema, with its count of messages."""
    engine = make_engine(f"duckdb:///{path}")
    create_schema(engine, timezone)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(messages)).scalar_one()
    return ExistingStore(engine, count)


def open_duckdb(
    plan: Plan, data_dir: Path, *, rebuild: bool, progress: Progress | None = None
) -> OpenStore:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"duckdb-{plan.messages}.duckdb"
    marker_path = path.with_suffix(".json")
    marker = None if rebuild else _read_marker(marker_path)
    built = False
    if marker is None or not marker.matches(plan) or not path.exists():
        if path.exists():
            # Raises StoreLockedError rather than delete a file another process has open.
            make_engine(f"duckdb:///{path}").dispose()
        marker_path.unlink(missing_ok=True)
        for leftover in (path, path.with_name(path.name + ".wal")):
            leftover.unlink(missing_ok=True)
        engine = make_engine(f"duckdb:///{path}")
        seconds = _fill(engine, plan, progress)
        with engine.begin() as conn:
            conn.execute(text("CHECKPOINT"))
        engine.dispose()
        marker = _write_marker(marker_path, plan, seconds)
        built = True
    engine = make_engine(f"duckdb:///{path}")
    marker = _upgraded(engine, plan, marker, marker_path)
    return OpenStore("duckdb", engine, marker, built, engine.dispose)


class BenchPostgres(PostgresServer):
    """The test suite's throwaway cluster, but kept in a fixed directory between runs."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        if self._as_user:
            shutil.chown(root, "postgres")
        root.chmod(0o700)

    def start(self) -> str:
        data = self.root / "data"
        if not (data / "PG_VERSION").exists():
            shutil.rmtree(data, ignore_errors=True)
            self._run(
                str(self.bindir / "initdb"),
                *("-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"),
            )
        # The server defaults (128 MB of shared buffers, 4 MB of work memory) suit a laptop;
        # these suit a small dedicated server, which is what the figures are meant to show.
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c shared_buffers=2GB -c effective_cache_size=8GB -c work_mem=64MB "
            "-c maintenance_work_mem=512MB -c max_wal_size=8GB -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            *("-D", str(data), "-l", str(self.root / "log"), "-w", "-o", options, "start"),
        )
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def database_exists(self, name: str) -> bool:
        engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres")
        try:
            with engine.connect() as conn:
                found = conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                ).first()
        finally:
            engine.dispose()
        return found is not None

    def stop(self) -> None:
        self.close_maintenance()
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "stop")


def open_postgres(
    plan: Plan, data_dir: Path, *, rebuild: bool, progress: Progress | None = None
) -> OpenStore:
    data_dir.mkdir(parents=True, exist_ok=True)
    server = BenchPostgres(data_dir / "postgres")
    server.start()
    try:
        name = f"bench_{plan.messages}"
        marker_path = data_dir / f"postgres-{plan.messages}.json"
        marker = None if rebuild else _read_marker(marker_path)
        built = False
        if marker is None or not marker.matches(plan) or not server.database_exists(name):
            marker_path.unlink(missing_ok=True)
            server.drop_database(name)
            url = server.create_database(name)
            engine = make_engine(url)
            try:
                seconds = _fill(engine, plan, progress)
                # The planner needs statistics, and index-only scans a visibility map; a
                # long-running server gets both from autovacuum.
                with engine.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT")
                    conn.execute(text("VACUUM ANALYZE"))
            finally:
                engine.dispose()
            marker = _write_marker(marker_path, plan, seconds)
            built = True
        engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/{name}")
        marker = _upgraded(engine, plan, marker, marker_path)
    except BaseException:
        server.stop()
        raise

    def close() -> None:
        engine.dispose()
        server.stop()

    return OpenStore("postgres", engine, marker, built, close)
