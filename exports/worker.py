"""Runs export jobs in the background: a bounded pool of threads, restart recovery and expiry.

With the embedded store the pool lives in the server process (DuckDB admits one process), so
any job still marked processing when the pool starts was cut short by a restart. With
PostgreSQL, `python app.py export-worker` runs the same pool in its own process(es); running
jobs then carry a heartbeat and only jobs silent for STALE_SECONDS are taken over.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from clock import utcnow
from config import Settings
from data_access.filters import AccessScope, FilterError
from exports import jobs
from exports.request import ExportError
from exports.writers import write_export

log = logging.getLogger("exports")

POLL_SECONDS = 1.0
PROGRESS_SECONDS = 0.5
HEARTBEAT_SECONDS = 15.0
STALE_SECONDS = 120.0
HOUSEKEEPING_SECONDS = 300.0


class JobLost(RuntimeError):
    """Another worker took the job over (this one was thought dead); stop quietly."""


def worker_token(index: int = 0) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{index}:{secrets.token_hex(4)}"


def run_job(engine: Engine, settings: Settings, job: jobs.Job, worker: str, **tuning) -> str:
    """Write the file of a claimed job and record the outcome; returns the job's new status.

    `tuning` passes batch_rows / window_rows through to the writer (tests use small ones).
    """
    export_dir = settings.exports_path
    export_dir.mkdir(parents=True, exist_ok=True)
    try:
        request = job.request()
    except (FilterError, ExportError):
        log.warning("export %s cannot run: its request is no longer valid", job.id)
        jobs.mark_error(engine, job.id, worker, "invalid")
        return jobs.ERROR
    last_report = [0.0]

    def progress(done: int, total: int) -> None:
        moment = time.monotonic()
        if moment - last_report[0] >= PROGRESS_SECONDS:
            last_report[0] = moment
            if not jobs.record_progress(engine, job.id, worker, done, total):
                raise JobLost(job.id)

    # A name of its own per attempt: a worker presumed dead cannot clobber this file.
    partial = export_dir / f"{job.id}.{job.format}.{secrets.token_hex(4)}.part"
    try:
        result = write_export(
            engine,
            request,
            AccessScope.of(job.subaccount_ids),
            job.path(export_dir),
            requested_by=job.username,
            max_rows=settings.xlsx_max_rows,
            progress=progress,
            partial=partial,
            **tuning,
        )
    except JobLost:
        log.warning("export %s was taken over by another worker", job.id)
        return jobs.PROCESSING
    except FilterError as error:
        # A filter the store cannot apply (a ClickHouse store and a country filter): the
        # person is told to change the filters, never given a file that ignores one.
        log.warning("export %s cannot run on this store: %s", job.id, error)
        jobs.mark_error(engine, job.id, worker, "invalid")
        return jobs.ERROR
    except OSError as error:
        code = "no_space" if error.errno in (errno.ENOSPC, errno.EDQUOT) else "failed"
        log.exception("export %s failed writing its file", job.id)
        jobs.mark_error(engine, job.id, worker, code)
        return jobs.ERROR
    except Exception:
        log.exception("export %s failed", job.id)
        jobs.mark_error(engine, job.id, worker, "failed")
        return jobs.ERROR
    if not jobs.mark_ready(
        engine, job.id, worker, result.rows, result.size, settings.export_expiry_days
    ):
        log.warning("export %s finished after another worker took it over", job.id)
        return jobs.PROCESSING
    return jobs.READY


class ExportPool:
    """`workers` threads that claim queued jobs one at a time, plus housekeeping."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        workers: int | None = None,
        poll_seconds: float = POLL_SECONDS,
        embedded: bool | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.workers = workers or settings.export_workers
        self.poll_seconds = poll_seconds
        self.embedded = settings.is_duckdb if embedded is None else embedded
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        # DuckDB raises on two transactions updating one row; claims go one at a time.
        self._claim_lock = threading.Lock()
        self._running: set[str] = set()
        self._running_lock = threading.Lock()

    # -- housekeeping -------------------------------------------------------------------

    def recover(self) -> tuple[int, int]:
        """Requeue (or give up) jobs cut short, and remove their half-written files."""
        now = utcnow()
        stale_before = now if self.embedded else now - timedelta(seconds=STALE_SECONDS)
        requeued, given_up = jobs.recover_interrupted(self.engine, stale_before, now)
        self._remove_partials(None if self.embedded else time.time() - STALE_SECONDS)
        if requeued or given_up:
            log.warning(
                "exports interrupted by a restart: %d queued again, %d given up", requeued, given_up
            )
        return requeued, given_up

    def _remove_partials(self, older_than: float | None) -> None:
        folder = Path(self.settings.exports_path)
        if not folder.is_dir():
            return
        for path in folder.glob("*.part"):
            try:
                if older_than is None or path.stat().st_mtime < older_than:
                    path.unlink(missing_ok=True)
            except OSError:
                log.warning("could not remove the partial export %s", path)

    def housekeeping(self) -> int:
        """Expire old files; on a shared store also take over jobs of silent workers."""
        if not self.embedded:
            self.recover()
        return jobs.expire_files(self.engine, self.settings.exports_path)

    # -- running ------------------------------------------------------------------------

    def run_one(self, worker: str, **tuning) -> jobs.Job | None:
        """Claim and run the oldest queued job; the job as claimed, or None when none waits."""
        with self._claim_lock:
            job = jobs.claim_next(self.engine, worker)
        if job is None:
            return None
        with self._running_lock:
            self._running.add(job.id)
        try:
            run_job(self.engine, self.settings, job, worker, **tuning)
        finally:
            with self._running_lock:
                self._running.discard(job.id)
        return job

    def run_pending(self, **tuning) -> int:
        """Run queued jobs in this thread until none is left; returns how many ran."""
        worker = worker_token()
        count = 0
        while self.run_one(worker, **tuning) is not None:
            count += 1
        return count

    def wake(self) -> None:
        self._wake.set()

    def _work(self, index: int) -> None:
        worker = worker_token(index)
        while not self._stop.is_set():
            try:
                ran = self.run_one(worker)
            except Exception:
                log.exception("export worker %s could not claim a job", worker)
                ran = None
            if ran is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def _keep_house(self) -> None:
        last_sweep = 0.0
        while not self._stop.wait(HEARTBEAT_SECONDS if not self.embedded else 1.0):
            try:
                if not self.embedded:
                    with self._running_lock:
                        running = sorted(self._running)
                    jobs.heartbeat(self.engine, running)
                if time.monotonic() - last_sweep >= HOUSEKEEPING_SECONDS:
                    last_sweep = time.monotonic()
                    self.housekeeping()
            except Exception:
                log.exception("export housekeeping failed")

    def start(self) -> ExportPool:
        self.recover()
        jobs.expire_files(self.engine, self.settings.exports_path)
        for index in range(self.workers):
            thread = threading.Thread(
                target=self._work, args=(index,), daemon=True, name=f"export-{index}"
            )
            thread.start()
            self._threads.append(thread)
        keeper = threading.Thread(target=self._keep_house, daemon=True, name="export-keeper")
        keeper.start()
        self._threads.append(keeper)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking jobs; a job still running is recovered at the next start."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def wait_idle(self, timeout: float) -> bool:
        """Block until no job is queued or running (tests and the worker's --once)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._running_lock:
                busy = bool(self._running)
            if not busy and not _queued(self.engine):
                return True
            time.sleep(0.05)
        return False


def _queued(engine: Engine) -> bool:
    with engine.connect() as conn:
        return (
            conn.execute(
                select(jobs.export_jobs.c.id).where(jobs.export_jobs.c.status == jobs.QUEUED)
            ).first()
            is not None
        )
