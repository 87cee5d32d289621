"""The minute worker: every minute, evaluate the alert rules, start the scheduled reports that
are due and mail the ones whose files are ready.

It runs where the exports run (the server for the embedded store or with EXPORT_IN_SERVER,
else `export-worker`), and its first turn is at start-up, so a schedule due while the app was
down runs then. `tick(now)` is one turn, for tests and `export-worker --once`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from clock import utcnow
from config import Settings
from data_access.outbound_tables import ensure_tables
from notify import alerts, schedules

log = logging.getLogger(__name__)
PERIOD_SECONDS = 60.0


@dataclass
class Turn:
    alerts: list = field(default_factory=list)
    started: list = field(default_factory=list)
    mailed: int = 0


class MinuteWorker:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        now: Callable[[], datetime] = utcnow,
        period_seconds: float = PERIOD_SECONDS,
        wake_exports: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.now = now
        self.period_seconds = period_seconds
        self.wake_exports = wake_exports
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, now: datetime | None = None) -> Turn:
        """One turn; each part goes on when another fails."""
        now = now or self.now()
        turn = Turn()
        try:
            turn.alerts = alerts.evaluate(self.engine, self.settings, now)
        except Exception:
            log.exception("alert rules could not be evaluated")
        try:
            turn.started = schedules.run_due(self.engine, now)
            if turn.started and self.wake_exports is not None:
                self.wake_exports()
        except Exception:
            log.exception("scheduled reports could not be started")
        try:
            turn.mailed = schedules.mail_ready(self.engine, self.settings, now)
        except Exception:
            log.exception("scheduled reports could not be mailed")
        return turn

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.period_seconds)

    def start(self) -> MinuteWorker:
        ensure_tables(self.engine)
        self._thread = threading.Thread(target=self._loop, daemon=True, name="minute-worker")
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
