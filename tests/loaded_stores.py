"""Stores as a load of hand-written rows left them, kept for the rest of a test process.

Most tests start from a fresh store and load the same few rows (tests/dashboard_data.py's and
the like) through the real loader: about 0.3 s a time. The first such load is kept; a later
fresh store that is about to load the same rows gets a copy of the kept store instead (a
file copy on DuckDB, a database made from a template on PostgreSQL: a few tens of ms).

A store counts as fresh only when nothing ran on its engine since the `engine` fixture made
it and its tables hold as many rows as the template's; anything else is loaded as usual.
The rows are compared as written, times included, so rows dated from today are loaded again
on another day.
"""

from __future__ import annotations

import copy
import itertools
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, event, make_url, text

from data_access.loader import LoadReport
from servertools.postgres import PostgresServer

_untouched: set[int] = set()
_names = itertools.count(1)


def watch(engine: Engine) -> None:
    """Count `engine`'s store as fresh until a statement runs on it."""
    _untouched.add(id(engine))

    def touched(*_args) -> None:
        _untouched.discard(id(engine))

    event.listen(engine, "before_cursor_execute", touched)


def forget(engine: Engine) -> None:
    _untouched.discard(id(engine))


@dataclass
class _Kept:
    where: str  # a DuckDB file, or a PostgreSQL database name
    report: LoadReport


class LoadedStores:
    """The kept stores of one test process, by store kind and rows."""

    def __init__(self, folder: Path, postgres: Callable[[], PostgresServer]) -> None:
        """`postgres()`: the PostgreSQL server of the test process (asked for only when a
        PostgreSQL store is kept)."""
        self.folder = folder
        self._postgres = postgres
        self._kept: dict[tuple[str, str], _Kept] = {}
        self._template_counts: dict[str, tuple] = {}

    def load(self, engine: Engine, rows: list[dict], load) -> LoadReport:
        """`load()`'s report, or the kept store's where `engine`'s store is fresh."""
        fresh = id(engine) in _untouched and self._as_template(engine)
        key = (engine.dialect.name, repr(rows))
        kept = self._kept.get(key) if fresh else None
        if kept is not None and self._restore(engine, kept.where):
            return copy.deepcopy(kept.report)
        report = load()
        if fresh and key not in self._kept:
            where = self._keep(engine)
            if where is not None:
                self._kept[key] = _Kept(where, copy.deepcopy(report))
        return report

    def _as_template(self, engine: Engine) -> bool:
        counts = _row_counts(engine)
        first = self._template_counts.setdefault(engine.dialect.name, counts)
        return counts == first

    def _keep(self, engine: Engine) -> str | None:
        engine.dispose()
        name = f"loaded_{next(_names)}"
        if engine.dialect.name == "duckdb":
            path = _duckdb_path(engine)
            if _has_wal(path):  # the store is open elsewhere: it is not kept
                return None
            target = self.folder / f"{name}.duckdb"
            shutil.copyfile(path, target)
            return str(target)
        try:
            self._postgres().create_database(name, template=make_url(engine.url).database)
        except Exception:  # another session is on the store: it is not kept
            return None
        return name

    def _restore(self, engine: Engine, where: str) -> bool:
        engine.dispose()
        if engine.dialect.name == "duckdb":
            path = _duckdb_path(engine)
            if _has_wal(path):  # the store is open elsewhere: it is loaded as usual
                return False
            shutil.copyfile(where, path)
            return True
        try:
            self._postgres().create_database(make_url(engine.url).database, template=where)
        except Exception:  # another session is on the store: it is loaded as usual
            return False
        return True


def _duckdb_path(engine: Engine) -> Path:
    return Path(str(make_url(engine.url).database))


def _has_wal(path: Path) -> bool:
    return path.with_name(path.name + ".wal").exists()


def _row_counts(engine: Engine) -> tuple:
    schema = "main" if engine.dialect.name == "duckdb" else "public"
    with engine.connect() as conn:
        names = (
            conn.execute(
                text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = :schema AND table_type = 'BASE TABLE' "
                    "ORDER BY table_name"
                ),
                {"schema": schema},
            )
            .scalars()
            .all()
        )
        counts = " UNION ALL ".join(f"SELECT '{n}', count(*) FROM \"{n}\"" for n in names)
        return tuple(sorted(tuple(row) for row in conn.execute(text(counts))))
