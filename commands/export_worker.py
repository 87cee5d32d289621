"""`python app.py export-worker`: run queued export jobs in a process of their own (PostgreSQL).

With the embedded store the server runs exports itself; with PostgreSQL, run one or more of
these beside the web server (they share EXPORT_DIR with it, so it can send the files).
"""

from __future__ import annotations

import argparse
import signal
import threading

from commands.console import Console, StreamConsole
from exports.worker import ExportPool
from notify.worker import MinuteWorker


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "export-worker",
        help="run queued exports in this process (for a PostgreSQL store)",
        description="Claim queued export jobs and write their files until stopped (Ctrl+C or "
        "SIGTERM). A job cut short by a stop is picked up again by the next worker.",
    )
    parser.add_argument(
        "--once", action="store_true", help="run the jobs queued now, then exit (for cron)"
    )
    parser.add_argument("--threads", type=int, help="jobs run at once (default EXPORT_WORKERS)")


def run(args: argparse.Namespace, console: Console, engine, settings) -> int:
    if isinstance(console, StreamConsole):
        # Handed over by the command line because the server holds the embedded store: that
        # server already runs exports, and a second pool inside it would never return.
        console.err("The running server already runs exports for this store; nothing to do.")
        return 2
    if args.threads is not None and args.threads < 1:
        console.err("--threads must be at least 1.")
        return 2
    pool = ExportPool(engine, settings, workers=args.threads)
    # Alerts and scheduled reports are evaluated where the exports run.
    minute = MinuteWorker(engine, settings, wake_exports=pool.wake)
    if args.once:
        pool.recover()
        turn = minute.tick()
        ran = pool.run_pending()
        mailed = minute.tick().mailed if turn.started else 0
        expired = pool.housekeeping()
        console.out(
            f"Ran {ran} export(s); {expired} expired file(s) removed; "
            f"{len(turn.alerts)} alert notification(s), {len(turn.started)} scheduled "
            f"report(s) started, {turn.mailed + mailed} mailed."
        )
        return 0
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    pool.start()
    minute.start()
    console.out(
        f"Export worker running {pool.workers} job(s) at a time, files in "
        f"{settings.exports_path}. Ctrl+C stops it."
    )
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    minute.stop()
    pool.stop()
    console.out("Export worker stopped.")
    return 0
