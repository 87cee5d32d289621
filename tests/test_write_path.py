"""The write path itself: the data version counted in SQL across processes, conflicts retried."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from data_access.store import create_schema, data_version, make_engine
from data_access.writes import StoreBusyError, write
from tests.conftest import _database_names
from tests.test_commands_while_serving import PROJECT

BUMPS = 40
BUMPER = """
import sys
from data_access.store import make_engine
from data_access.writes import write
engine = make_engine(sys.argv[1])
for _ in range(int(sys.argv[2])):
    write(engine, lambda tx: tx.mark_changed())
"""


@pytest.mark.postgres
def test_two_processes_never_write_the_same_version(postgres_server):
    url = postgres_server.create_database(f"reports_{next(_database_names)}")
    engine = make_engine(url)
    create_schema(engine, "UTC")
    with engine.connect() as conn:
        start = data_version(conn)
    workers = [
        subprocess.Popen([sys.executable, "-c", BUMPER, url, str(BUMPS)], cwd=PROJECT)
        for _ in range(2)
    ]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0]
    with engine.connect() as conn:
        assert data_version(conn) == start + 2 * BUMPS
    engine.dispose()


def test_threads_of_one_process_each_count(engine):
    with engine.connect() as conn:
        start = data_version(conn)

    def bump():
        for _ in range(10):
            write(engine, lambda tx: tx.mark_changed())

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with engine.connect() as conn:
        assert data_version(conn) == start + 40


class TransactionException(Exception):
    """Stands for DuckDB's exception of the same name (the write path goes by the name)."""


def test_a_lost_conflict_is_run_again_and_then_given_up(engine):
    with engine.connect() as conn:
        start = data_version(conn)
    tries = []

    def conflicting_twice(tx):
        tries.append(1)
        tx.mark_changed()
        if len(tries) <= 2:
            raise TransactionException("TransactionContext Error: Conflict on update!")
        return "stored"

    assert write(engine, conflicting_twice) == "stored"
    assert len(tries) == 3
    with engine.connect() as conn:
        assert data_version(conn) == start + 1  # the lost tries were rolled back

    def always_conflicting(tx):
        tx.mark_changed()
        raise TransactionException("TransactionContext Error: Conflict on update!")

    with pytest.raises(StoreBusyError):
        write(engine, always_conflicting, tries=3)
    with engine.connect() as conn:
        assert data_version(conn) == start + 1


def test_other_errors_are_not_retried(engine):
    tries = []

    def broken(tx):
        tries.append(1)
        raise ValueError("not a conflict")

    with pytest.raises(ValueError):
        write(engine, broken)
    assert tries == [1]
