"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb in a temp dir, a free port."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from servertools.served import free_port


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    """Starts a cluster as an unprivileged user (initdb refuses root) and stops it on close."""

    def __init__(self) -> None:
        bindir = _postgres_bin()
        if bindir is None:
            raise RuntimeError(
                "PostgreSQL is not installed: run `bash scripts/system-deps.sh test`"
            )
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="reports-pg-"))
        self.port = free_port()
        self._connection: psycopg.Connection | None = None
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
            os.chmod(self.root, 0o700)

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as_user, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> str:
        data = self.root / "data"
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(self.root / "log"),
            "-w",
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off",
            "start",
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _maintenance(self) -> psycopg.Connection:
        """One connection to the `postgres` database for creating and dropping databases (a
        `createdb` process each took 36 ms, a statement takes 5-30)."""
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(
                host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                autocommit=True,
            )  # fmt: skip
        return self._connection

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database `name` (a copy of `template` if given, dropping any of that name)."""
        database = sql.Identifier(name)
        if template is None:
            self._maintenance().execute(sql.SQL("CREATE DATABASE {}").format(database))
        else:
            self._maintenance().execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(database))
            self._maintenance().execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(database, sql.Identifier(template))
            )
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def drop_database(self, name: str) -> bool:
        """Drop `name` unless a session is still on it (then it stays until stop)."""
        try:
            self._maintenance().execute(
                sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name))
            )
        except psycopg.errors.ObjectInUse:
            return False
        return True

    def close_maintenance(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def stop(self) -> None:
        self.close_maintenance()
        try:
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.root / "data"),
                "-m",
                "immediate",
                "stop",
            )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
