"""Delivery reports dashboard: the app factory and the command line (`python app.py --help`)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from functools import partial
from typing import TYPE_CHECKING

from commands import (
    alerts,
    apikeys,
    audit,
    channels,
    demo,
    export,
    export_worker,
    inbox,
    load,
    schedules,
    users,
)
from commands.console import Console
from commands.control import ControlServer, Runner, delegate, socket_path
from config import Settings, SettingsError, load_settings
from data_access.audit import Retention
from data_access.clickhouse.binding import bind_url
from data_access.outbound_tables import ensure_tables
from data_access.store import StoreLockedError, create_schema, make_engine
from exports import standalone

if TYPE_CHECKING:
    import dash

# Commands that touch the store: name -> (module). Each module has add_parser and run.
STORE_COMMANDS = {
    "load": load,
    "demo": demo,
    "apikeys": apikeys,
    "channels": channels,
    "inbox": inbox,
    "users": users,
    "export": export,
    "export-worker": export_worker,
    "audit": audit,
    "alerts": alerts,
    "schedules": schedules,
}


def _make_engine(settings: Settings):
    """The store's engine; with DATABASE_URL on ClickHouse, the accounts' engine bound to the
    ClickHouse store that holds the messages."""
    return bind_url(
        make_engine(settings.database_url, settings.duckdb_memory_limit), settings.clickhouse_url
    )


def create_app(settings: Settings | None = None, engine=None) -> dash.Dash:
    """Build the Dash app on its own engine (or the one given) with every callback registered."""
    # The dashboard and the web endpoints are imported here, not at the top: a command such
    # as `export` then runs without them (about 90 MB less in its process).
    from dashboard.auth import install_auth
    from dashboard.services import Services
    from dashboard.shell import build_app
    from ingest import service as ingest
    from readapi import api as read_api

    settings = settings or load_settings()
    if engine is None:
        engine = _make_engine(settings)
        create_schema(engine, settings.account_timezone)
    ensure_tables(engine)
    services = Services(settings=settings, engine=engine)
    app = build_app(services)
    install_auth(app, services)
    ingest.install(app.server, services)
    read_api.install(app.server, settings, engine)
    return app


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from waitress import serve

    from ingest import service as ingest
    from servertools.allocator import Allocator

    # What the server's workers report (a write that waited or held the store long, a pass
    # that failed) goes to its standard error.
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Not every request that waits for a thread: a line each, hundreds a second under load.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Freed memory goes back to the system, so the server's stays flat over loads.
    allocator = Allocator().start()
    try:
        engine = _make_engine(settings)
    except StoreLockedError:
        print(
            f"The store {settings.duckdb_path} is in use by another process; "
            "stop it before starting the server.",
            file=sys.stderr,
        )
        return 1
    create_schema(engine, settings.account_timezone)
    app = create_app(settings, engine)
    # Audit rows past AUDIT_KEEP_DAYS go now and then once a day.
    retention = Retention(engine, settings.audit_keep_days).start()
    worker = ingest.start_worker(app.server)
    # Exports run in this process for the embedded store (DuckDB admits one process); with
    # PostgreSQL, `export-worker` processes run them unless EXPORT_IN_SERVER is set.
    export_pool = None
    if settings.is_duckdb or settings.export_in_server:
        from exports.worker import ExportPool

        export_pool = ExportPool(engine, settings).start()
    # Alerts and scheduled reports run beside the exports (their runs are export jobs); the
    # first turn, now, starts a schedule that came due while the server was down.
    minute_worker = None
    if export_pool is not None:
        from notify.worker import MinuteWorker

        minute_worker = MinuteWorker(engine, settings, wake_exports=export_pool.wake).start()
    control = None
    if settings.duckdb_path is not None:
        runners: dict[str, Runner] = {
            name: partial(module.run, engine=engine, settings=settings)
            for name, module in STORE_COMMANDS.items()
        }
        control = ControlServer(socket_path(settings.duckdb_path), runners)
        control.start()
    # A plain `kill` ends the server through the same clean path as Ctrl+C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"Serving on http://{args.host}:{args.port}", flush=True)
    try:
        serve(app.server, host=args.host, port=args.port, threads=args.threads, ident="reports")
    finally:
        allocator.stop()
        retention.stop()
        worker.stop()
        if minute_worker is not None:
            minute_worker.stop()
        if export_pool is not None:
            export_pool.stop()
        if control is not None:
            control.stop()
    return 0


def _open_store(module, settings: Settings):
    """The store as the command needs it, its schema brought up to date."""
    engine = _make_engine(settings)
    create_schema(engine, settings.account_timezone)
    ensure_tables(engine)
    if module is export:
        # A schema upgrade or a time-zone change may rewrite every message, which needs the
        # setting's memory; the export itself then runs in a store sized for it alone.
        engine.dispose()
        standalone.prepare_process()
        engine = bind_url(
            standalone.make_export_engine(settings.database_url), settings.clickhouse_url
        )
    return engine


def _run_store_command(args: argparse.Namespace, settings: Settings) -> int:
    console = Console()
    module = STORE_COMMANDS[args.command]
    # Input a command needs from this terminal (a password prompt) is read here, and work that
    # needs no store done (a load's check), before the rest may be handed to a running server.
    prepare = getattr(module, "prepare", None)
    finish = getattr(module, "finish", None)
    try:
        if prepare is not None and (code := prepare(args, console, settings)):
            return code
        return _run_or_hand_over(module, args, settings, console)
    finally:
        if finish is not None:
            finish(args)


def _run_or_hand_over(module, args: argparse.Namespace, settings: Settings, console) -> int:
    try:
        engine = _open_store(module, settings)
    except StoreLockedError:
        # The server holds the embedded store: hand the command to it.
        assert settings.duckdb_path is not None  # only the embedded store is ever locked
        code = delegate(socket_path(settings.duckdb_path), args, console)
        if code is None:
            console.err(
                f"The store {settings.duckdb_path} is locked by another process that does "
                "not take commands; wait for it to finish and try again."
            )
            return 1
        return code
    try:
        return module.run(args, console, engine, settings)
    finally:
        engine.dispose()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python app.py", description="Delivery reports for WhatsApp and SMS messaging."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = subparsers.add_parser("serve", help="serve the dashboard (waitress, threads)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8050)
    serve.add_argument("--threads", type=int, default=8)
    for module in STORE_COMMANDS.values():
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(args, settings)
    return _run_store_command(args, settings)


if __name__ == "__main__":
    sys.exit(main())
