"""Live ingestion wired into the server: the endpoints on the Flask app and the inbox worker.

`install(server, services)` adds the endpoints to the Flask server; `start_worker(server)` starts
the thread that processes the inbox (the serving process only: it is the one that writes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from flask import Flask
from sqlalchemy import Engine

from config import Settings
from ingest import api, webhooks
from ingest.inbox import InboxWriter, Worker


class HasStore(Protocol):
    """What install needs from the app's services."""

    settings: Settings
    engine: Engine


@dataclass
class Ingest:
    """What the endpoints need, kept in `server.extensions["ingest"]`."""

    settings: Settings
    engine: Engine
    writer: InboxWriter
    worker: Worker | None = None

    def wake(self) -> None:
        if self.worker is not None:
            self.worker.wake()


def install(server: Flask, services: HasStore) -> Ingest:
    """Register the API and webhook endpoints on the app's Flask server."""
    engine = services.engine
    if engine.dialect.name == "postgresql":
        # The worker looks for new rows often; a partial index keeps that cheap as done rows
        # pile up. DuckDB scans its column segments instead (and an index there would slow
        # the updates of `state`).
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE INDEX IF NOT EXISTS inbox_new ON inbox (id) WHERE state = 'new'"
            )
    ingest = Ingest(settings=services.settings, engine=engine, writer=InboxWriter(engine))
    server.extensions["ingest"] = ingest
    server.register_blueprint(api.blueprint)
    server.register_blueprint(webhooks.blueprint)
    return ingest


def start_worker(server: Flask) -> Worker:
    """Start the inbox worker; it first processes whatever a previous run left."""
    ingest: Ingest = server.extensions["ingest"]
    ingest.worker = Worker(
        engine=ingest.engine,
        timezone=ingest.settings.account_timezone,
        keep_days=ingest.settings.inbox_keep_days,
        pending_keep_days=ingest.settings.pending_keep_days,
        retention_days=ingest.settings.retention_days,
    )
    ingest.worker.start()
    return ingest.worker
