"""Sustained WhatsApp webhook intake against the served app: `python -m bench.webhooks --help`.

A fresh embedded store is seeded with send records; the app is started with `app.py serve`
(waitress) on loopback; concurrent senders post signed status bodies (sent, delivered and read
for every message, shuffled so they arrive out of order, several statuses per body as WhatsApp
batches them) for a fixed time. Then it waits for the inbox to drain, stops the server and
checks every message against the state its accepted events must give: events lost or doubled
are counted, not assumed.

With --base-store the run starts from a copy of a big store (the report benchmark's 10M
DuckDB file, say), as a served store of that size would be. The inbox backlog is read every
5 s. --apply-probe has a signed-in admin click Apply on the consolidated view over and over
during the intake (each time another range, so nothing comes from the cache); --load-rows N
has `python app.py load` merge a file of N new messages while the webhooks arrive.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, select

from commands.console import Console
from commands.control import delegate, socket_path
from config import PROJECT_DIR
from data_access.loader import LOADER_COLUMNS, load_files
from data_access.store import create_schema, make_engine
from data_access.tables import inbox, messages
from ingest.channels import assign
from ingest.whatsapp import sign
from servertools.served import ServedApp, ServerError

NUMBER_ID = "104857600012345"  # the bodies' business number, assigned to the Bench subaccount
PREFIX = "wamid.bench"

SECRET = "bench-app-secret"
KINDS = ("sent", "delivered", "read")
# Seconds after creation at which each status happens.
OFFSETS = {"sent": 1, "delivered": 3, "read": 10}
MAX_EVENTS_PER_SECOND = 5_000  # the seed's ceiling: more events than this can never be sent
TARGET_EVENTS_PER_SECOND = 1_000
TARGET_P95_MS = 100.0


@dataclass
class Plan:
    """The shuffled events: event e is status KINDS[e % 3] of message e // 3."""

    messages: int
    batch: int
    order: list[int]
    base: datetime
    # The run's own ids: a run on a store kept from an earlier one (--keep) sends statuses of
    # and loads messages of its own, not the earlier run's again.
    tag: str = ""

    @property
    def prefix(self) -> str:
        return f"{PREFIX}{self.tag}"

    def message_id(self, index: int) -> str:
        return f"{self.prefix}{index:08d}"

    def event_time(self, event: int) -> datetime:
        return self.base + timedelta(seconds=event // 3 * 0.01 + OFFSETS[KINDS[event % 3]])

    def body(self, number: int) -> tuple[bytes, list[int]]:
        events = self.order[number * self.batch : (number + 1) * self.batch]
        statuses = [
            {
                "id": self.message_id(e // 3),
                "status": KINDS[e % 3],
                "timestamp": str(int(self.event_time(e).timestamp())),
                "recipient_id": f"55119{e // 3:08d}",
            }
            for e in events
        ]
        payload = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "210987654321098",
                    "changes": [
                        {
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "5511930001000",
                                    "phone_number_id": NUMBER_ID,
                                },
                                "statuses": statuses,
                            },
                            "field": "messages",
                        }
                    ],
                }
            ],
        }
        return json.dumps(payload).encode(), events

    @property
    def bodies(self) -> int:
        return math.ceil(len(self.order) / self.batch)


@dataclass
class Tally:
    """What the senders saw, merged under a lock."""

    latencies: list[float] = field(default_factory=list)
    accepted_events: list[int] = field(default_factory=list)
    accepted_bodies: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def seed(
    data_dir: Path,
    url: str,
    plan: Plan,
    timezone: str,
    base_store: Path | None = None,
    in_place: bool = False,
) -> None:
    if base_store is not None and in_place:
        # Too big to copy (100M): served where it is; the run adds its seed and statuses.
        (data_dir / "reports.duckdb").symlink_to(base_store.resolve())
    elif base_store is not None and url.startswith("duckdb"):
        shutil.copyfile(base_store, data_dir / "reports.duckdb")
        wal = base_store.with_name(base_store.name + ".wal")
        if wal.exists():
            shutil.copyfile(wal, data_dir / "reports.duckdb.wal")
    path = data_dir / "seed.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LOADER_COLUMNS)
        writer.writeheader()
        for index in range(plan.messages):
            writer.writerow(
                {
                    "message_id": plan.message_id(index),
                    "channel": "whatsapp",
                    "direction": "MT",
                    "subaccount": "Bench",
                    "content_type": "template",
                    "phone": f"+55119{index:08d}",
                    "status": "queued",
                    "created_at": (plan.base + timedelta(seconds=index * 0.01)).isoformat(),
                }
            )
    engine = make_engine(url)
    try:
        create_schema(engine, timezone)
        load_files(engine, [path], timezone)
        with engine.begin() as conn:
            assign(conn, "whatsapp", NUMBER_ID, "Bench")
        from bench.e2e import ensure_admin

        ensure_admin(engine)
    finally:
        engine.dispose()
    path.unlink()


def load_file(data_dir: Path, rows: int, timezone: str, number: int = 0, tag: str = "") -> Path:
    """A file of `rows` new send records (created in the last hour) for --load-rows; the
    `number`th file of the run tagged `tag` has ids of its own."""
    path = data_dir / f"load-{number}.csv"
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LOADER_COLUMNS)
        writer.writeheader()
        for index in range(rows):
            writer.writerow(
                {
                    "message_id": f"wamid.load{tag}{number}-{index:09d}",
                    "channel": "whatsapp",
                    "direction": "MT",
                    "subaccount": "Bench",
                    "content_type": "template",
                    "phone": f"+55219{index % 10_000_000:08d}",
                    "status": "sent",
                    "created_at": (base + timedelta(seconds=index * 0.003)).isoformat(),
                }
            )
    return path


def server_env(data_dir: Path, url: str) -> dict:
    return dict(os.environ, DATA_DIR=str(data_dir), DATABASE_URL=url, WHATSAPP_APP_SECRET=SECRET)


@dataclass
class Probes:
    """What was watched beside the senders: backlog samples, Apply times, the file load."""

    backlog: list[tuple[float, int | None]] = field(default_factory=list)
    apply_seconds: list[float] = field(default_factory=list)
    apply_errors: list[str] = field(default_factory=list)
    load: dict = field(default_factory=dict)
    loads: list[dict] = field(default_factory=list)
    memory: list[tuple[float, float | None]] = field(default_factory=list)
    server_pid: int | None = None


def watch_backlog(
    data_dir: Path, url: str, started: float, stop: threading.Event, probes: Probes
) -> None:
    while not stop.wait(5.0):
        at = time.monotonic() - started
        probes.backlog.append((at, inbox_new(data_dir, url)))
        if probes.server_pid is not None:
            probes.memory.append((at, memory_mb(probes.server_pid)))


def apply_probe(port: int, timezone: str, deadline: float, probes: Probes) -> None:
    """An admin clicking Apply on the consolidated view, each time over another range."""
    from bench.e2e import Page, ServerError
    from data_access.filters import today_in
    from reporting.view_state import ViewState

    page = Page(f"http://127.0.0.1:{port}")
    started = time.monotonic()
    try:
        page.sign_in()
        today = today_in(timezone)
        page.show(ViewState(start=str(today - timedelta(days=89)), end=str(today)).to_dict())
        shift = 0
        while time.monotonic() < deadline:
            shift = (shift + 1) % 60
            start = today - timedelta(days=89 - shift // 2)
            end = today - timedelta(days=(shift + 1) // 2)
            began = time.perf_counter()
            try:
                page.apply(start, end)
            except ServerError as error:
                # Counted with its time and reason; the user goes on clicking, as a person would.
                at = time.monotonic() - started
                probes.apply_errors.append(f"at {at:.0f} s: {error}")
            else:
                probes.apply_seconds.append(time.perf_counter() - began)
            time.sleep(0.5)
    except Exception as error:  # reported with the figures, the run goes on
        probes.apply_errors.append(f"{type(error).__name__}: {error}")


def repeated_loads(
    data_dir: Path,
    url: str,
    rows: int,
    timezone: str,
    every: float,
    deadline: float,
    probes: Probes,
    tag: str = "",
) -> None:
    """A load of a new file of `rows` rows every `every` seconds until the deadline (the
    first 5 s in), each file written just before it is handed over."""
    number = 1
    next_at = time.monotonic() + 5.0
    while next_at < deadline:
        path = load_file(data_dir, rows, timezone, number, tag)
        run_load(data_dir, url, path, max(0.0, next_at - time.monotonic()), probes)
        probes.loads.append(dict(probes.load, at=next_at))
        path.unlink(missing_ok=True)
        number += 1
        next_at += every


def run_load(data_dir: Path, url: str, path: Path, delay: float, probes: Probes) -> None:
    time.sleep(delay)
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "app.py"), "load", str(path)],
        env=server_env(data_dir, url),
        capture_output=True,
        text=True,
        timeout=3600,
    )
    probes.load = {
        "seconds": time.monotonic() - began,
        "code": result.returncode,
        "said": (result.stdout + result.stderr).strip().splitlines()[-1:],
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


RUN_DATABASE = "webhooks_run"


def postgres_store(base: str | None):
    """The benchmark PostgreSQL cluster (bench/data/postgres) with a database for this run: a
    copy of `base` (say bench_10000000, built by `python -m bench --store postgres`) or empty."""
    from bench.stores import DATA_DIR, BenchPostgres

    server = BenchPostgres(DATA_DIR / "postgres")
    server.start()
    server.drop_database(RUN_DATABASE)
    admin = create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/postgres",
        isolation_level="AUTOCOMMIT",
    )
    try:
        with admin.connect() as conn:
            template = f" TEMPLATE {base}" if base else ""
            conn.exec_driver_sql(f"CREATE DATABASE {RUN_DATABASE}{template}")
    finally:
        admin.dispose()
    return server, f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/{RUN_DATABASE}"


def start_server(data_dir: Path, url: str, port: int, threads: int, log) -> subprocess.Popen:
    served = ServedApp(server_env(data_dir, url), port=port, threads=threads, output=log)
    try:
        served.wait_ready(60)
    except ServerError as error:
        raise SystemExit(f"{error} See {data_dir / 'server.log'}") from None
    return served.process


def sender(
    port: int, plan: Plan, next_body, deadline: float, tally: Tally, every: float | None
) -> None:
    """Post bodies until the deadline: back to back, or one every `every` seconds.

    When paced, latency counts from the moment a body was due, so a server that falls behind
    shows it in the figures instead of silently slowing the senders down.
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, accepted, refused, bodies = [], [], {}, 0
    due = time.perf_counter() + (random.random() * every if every else 0.0)
    while time.monotonic() < deadline:
        if every:
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        number = next_body()
        if number is None:
            break
        body, events = plan.body(number)
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(SECRET, body)}
        started = due if every else time.perf_counter()
        due += every or 0.0
        try:
            connection.request("POST", "/webhooks/whatsapp", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            status = str(response.status)
        except (OSError, http.client.HTTPException) as error:
            status = type(error).__name__
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies.append(time.perf_counter() - started)
        if status == "200":
            accepted.extend(events)
            bodies += 1
        else:
            refused[status] = refused.get(status, 0) + 1
    connection.close()
    with tally.lock:
        tally.latencies.extend(latencies)
        tally.accepted_events.extend(accepted)
        tally.accepted_bodies += bodies
        for key, value in refused.items():
            tally.refused[key] = tally.refused.get(key, 0) + value


class Quiet(Console):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def out(self, text: str) -> None:
        self.lines.append(text)

    err = out


def inbox_new(data_dir: Path, url: str) -> int | None:
    """Rows still new in the running server's inbox: asked through its control socket for the
    embedded store, read directly from PostgreSQL."""
    if not url.startswith("duckdb"):
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                return conn.execute(select(func.count()).where(inbox.c.state == "new")).scalar_one()
        finally:
            engine.dispose()
    console = Quiet()
    args = argparse.Namespace(command="inbox", action="list", state="new", limit=1)
    code = delegate(socket_path(data_dir / "reports.duckdb"), args, console)
    if code != 0 or not console.lines:
        return None
    # "Inbox: 12 new, ..." (thousands separated)
    return int(console.lines[0].split()[1].replace(",", ""))


def memory_mb(pid: int, field_name: str = "VmRSS") -> float | None:
    """A process's resident memory now (VmRSS) or at its peak (VmHWM), in MB (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time a process has used (Linux), or None where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def expected_state(plan: Plan, kinds: set[str], index: int) -> tuple:
    times = {k: plan.event_time(index * 3 + KINDS.index(k)).replace(tzinfo=None) for k in kinds}
    times = {k: v.replace(microsecond=0) for k, v in times.items()}
    if not kinds:
        return ("queued", None, None, None)
    status = max(kinds, key=KINDS.index)
    read_at = times.get("read")
    # The loader's rules: a read message was delivered, a delivered one was sent.
    delivered_at = min((times[k] for k in ("delivered", "read") if k in times), default=None)
    sent_at = min(times.values())
    return (status, sent_at, delivered_at, read_at)


def _inbox_count(conn) -> int:
    return conn.execute(select(func.count()).select_from(inbox)).scalar_one()


def inbox_rows(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return _inbox_count(conn)
    finally:
        engine.dispose()


def verify(url: str, plan: Plan, tally: Tally, inbox_before: int = 0) -> dict:
    """`inbox_before`: the inbox rows the store held before the run (a store kept from an
    earlier run), not this run's."""
    accepted: dict[int, set[str]] = {}
    for event in tally.accepted_events:
        accepted.setdefault(event // 3, set()).add(KINDS[event % 3])
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            received = _inbox_count(conn) - inbox_before
            not_done = conn.execute(
                select(func.count()).where(inbox.c.state != "done")
            ).scalar_one()
            m = messages.c
            ours = m.message_id.startswith(plan.prefix)
            stored_messages = conn.execute(select(func.count()).where(ours)).scalar_one()
            rows = conn.execute(
                select(m.message_id, m.status, m.sent_at, m.delivered_at, m.read_at).where(ours)
            ).all()
    finally:
        engine.dispose()
    wrong = 0
    for row in rows:
        index = int(row.message_id.removeprefix(plan.prefix))
        if tuple(row[1:]) != expected_state(plan, accepted.get(index, set()), index):
            wrong += 1
    return {
        "inbox_rows": received,
        "inbox_not_done": not_done,
        "messages": stored_messages,
        "messages_wrong": wrong,
        "bodies_doubled": max(received - tally.accepted_bodies, 0),
        "bodies_lost": max(tally.accepted_bodies - received, 0),
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def run(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="webhooks-", dir=args.work_dir))
    timezone = "America/Sao_Paulo"
    events_needed = (args.rate or MAX_EVENTS_PER_SECOND) * args.seconds
    count = math.ceil(events_needed / 3)
    order = list(range(count * 3))
    random.Random(args.seed).shuffle(order)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    plan = Plan(
        messages=count, batch=args.batch, order=order, base=base, tag=base.strftime("%y%m%d%H%M%S-")
    )
    postgres = None
    if args.postgres:
        postgres, url = postgres_store(args.postgres_base)
    else:
        url = f"duckdb:///{work / 'reports.duckdb'}"
        if args.base_store and not args.in_place:
            print(f"Copying {args.base_store} ...", flush=True)
    print(f"Seeding {count:,} send records in {work} ...", flush=True)
    seed(work, url, plan, timezone, args.base_store, args.in_place)
    inbox_before = inbox_rows(url)
    load_path = (
        load_file(work, args.load_rows, timezone, tag=plan.tag)
        if args.load_rows and not args.load_every
        else None
    )
    probes = Probes()

    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    port = args.port or free_port()
    log = (work / "server.log").open("w")
    server = start_server(work, url, port, args.threads, log)
    probes.server_pid = server.pid
    tally = Tally()
    counter = iter(range(plan.bodies))
    counter_lock = threading.Lock()

    def next_body() -> int | None:
        with counter_lock:
            return next(counter, None)

    print(
        f"{args.senders} senders, {args.seconds} s, {args.batch} statuses per body, "
        f"{f'{args.rate:,} events/s offered' if args.rate else 'unpaced'}, "
        f"server with {args.threads} threads on 127.0.0.1:{port} ...",
        flush=True,
    )
    stop_watching = threading.Event()
    try:
        started = time.monotonic()
        deadline = started + args.seconds
        watchers = [
            threading.Thread(target=watch_backlog, args=(work, url, started, stop_watching, probes))
        ]
        if args.apply_probe:
            watchers += [
                threading.Thread(target=apply_probe, args=(port, timezone, deadline, probes))
                for _ in range(args.apply_users)
            ]
        if args.load_rows and args.load_every:
            watchers.append(
                threading.Thread(
                    target=repeated_loads,
                    args=(
                        work,
                        url,
                        args.load_rows,
                        timezone,
                        args.load_every,
                        deadline,
                        probes,
                        plan.tag,
                    ),
                )
            )
        if load_path is not None:
            watchers.append(
                threading.Thread(target=run_load, args=(work, url, load_path, 5.0, probes))
            )
        for thread in watchers:
            thread.start()
        # Each sender posts one body every `every` seconds to offer args.rate events a second.
        every = args.senders * args.batch / args.rate if args.rate else None
        threads = [
            threading.Thread(target=sender, args=(port, plan, next_body, deadline, tally, every))
            for _ in range(args.senders)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sent_for = time.monotonic() - started
        drain_deadline = time.monotonic() + args.drain_timeout
        left = inbox_new(work, url)
        while (left is None or left > 0) and time.monotonic() < drain_deadline:
            time.sleep(0.2)
            left = inbox_new(work, url)
        drained_after = time.monotonic() - started
        for thread in watchers[1:]:
            thread.join()
        stop_watching.set()
        server_cpu = cpu_seconds(server.pid)
        server_peak = memory_mb(server.pid, "VmHWM")
        server_now = memory_mb(server.pid)
    finally:
        stop_watching.set()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()

    checked = verify(url, plan, tally, inbox_before)
    if postgres is not None:
        postgres.drop_database(RUN_DATABASE)
        postgres.stop()
    events = len(tally.accepted_events)
    intake = events / sent_for
    applied = events / drained_after
    p50, p95, p99 = (percentile(tally.latencies, q) * 1000 for q in (0.5, 0.95, 0.99))
    lost = checked["messages_wrong"] + checked["bodies_lost"] + checked["inbox_not_done"]
    doubled = checked["bodies_doubled"] + max(checked["messages"] - plan.messages, 0)
    load_failed = (load_path is not None and probes.load.get("code") != 0) or any(
        load.get("code") != 0 for load in probes.loads
    )
    intact = lost == 0 and doubled == 0 and not load_failed
    met = intact and intake >= TARGET_EVENTS_PER_SECOND and applied >= TARGET_EVENTS_PER_SECOND
    met = met and p95 < TARGET_P95_MS
    print()
    print("| measure | value |")
    print("|---|---|")
    offered = f"{args.rate:,} events/s" if args.rate else "as fast as answered"
    print(f"| senders x duration | {args.senders} x {sent_for:.1f} s |")
    print(f"| offered load | {offered} |")
    print(f"| statuses per body | {args.batch} |")
    print(f"| bodies accepted (200) | {tally.accepted_bodies:,} |")
    print(f"| bodies refused | {sum(tally.refused.values()):,} {tally.refused or ''} |")
    print(f"| status events accepted | {events:,} |")
    print(f"| accepted events per second | {intake:,.0f} |")
    print(f"| events applied per second (until the inbox was empty) | {applied:,.0f} |")
    print(f"| latency p50 / p95 / p99 | {p50:.1f} / {p95:.1f} / {p99:.1f} ms |")
    if server_cpu is not None and events:
        print(
            f"| server resident memory, at the end / peak | {server_now or 0:,.0f} / "
            f"{server_peak or 0:,.0f} MB |"
        )
        print(
            f"| server process CPU (start-up included) | {server_cpu:.1f} s, "
            f"{server_cpu * 1000 / events:.2f} ms per event |"
        )
    print(
        f"| load average before / after (all processes on this machine) | {load_before} / "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} |"
    )
    print(
        f"| inbox rows / not processed | {checked['inbox_rows']:,} / {checked['inbox_not_done']} |"
    )
    print(f"| messages in a wrong state | {checked['messages_wrong']} |")
    print(f"| events lost / doubled | {lost} / {doubled} |")
    if args.base_store:
        how = "served in place" if args.in_place else "a copy of"
        print(f"| store at the start | {how} {args.base_store.name} plus the seed |")
    if args.postgres:
        base_name = args.postgres_base or "an empty database"
        print(f"| store at the start | PostgreSQL: a copy of {base_name} plus the seed |")
    samples = ", ".join(f"{at:.0f} s: {'?' if n is None else f'{n:,}'}" for at, n in probes.backlog)
    print(f"| inbox backlog (bodies), every 5 s | {samples} |")
    if args.rate:
        behind = [n for at, n in probes.backlog if at <= sent_for + 0.1 and n is not None]
        if behind:
            seconds_behind = behind[-1] * args.batch / args.rate
            print(
                f"| backlog when the senders stopped | {behind[-1]:,} bodies, "
                f"{seconds_behind:.1f} s of traffic |"
            )
    if args.apply_probe:
        times = probes.apply_seconds
        if times:
            a50, a95 = (percentile(times, q) * 1000 for q in (0.5, 0.95))
            print(f"| Apply during the intake: clicks, p50 / p95 | {len(times)}, "
                  f"{a50:.0f} / {a95:.0f} ms |")  # fmt: skip
        for error in probes.apply_errors:
            print(f"| Apply probe failed | {error} |")
    if probes.memory:
        # The lowest of a minute shows what stays between loads, the highest what a load adds.
        minutes: dict[int, list[float]] = {}
        for at, mb in probes.memory:
            if mb is not None:
                minutes.setdefault(int(at // 60), []).append(mb)
        series = ", ".join(
            f"{m}: {min(mbs):,.0f}-{max(mbs):,.0f}" for m, mbs in sorted(minutes.items())
        )
        print(f"| server resident memory, lowest-highest per minute (MB) | {series} |")
    if probes.loads:
        # A failed load's last line says why (the server's log has the rest).
        said = "; ".join(
            f"exit {load.get('code')} in {load.get('seconds', 0):.0f} s"
            + ("" if load.get("code") == 0 else f" ({' '.join(load.get('said', []))})")
            for load in probes.loads
        )
        print(f"| file loads of {args.load_rows:,} rows during the run | {said} |")
    if load_path is not None:
        load = probes.load
        print(
            f"| file load of {args.load_rows:,} rows during the intake | "
            f"exit {load.get('code')}, {load.get('seconds', 0):.1f} s, "
            f"{' '.join(load.get('said', []))} |"
        )
    print()
    if not args.rate:
        # Back to back, latency only measures the queue the senders themselves keep full.
        print(
            "Saturation run: the figures above are the capacity; "
            f"nothing lost or doubled: {'yes' if intact else 'NO'}"
        )
        met = intact
    else:
        print(
            f"Target (>= {TARGET_EVENTS_PER_SECOND:,} events/s accepted and applied, p95 < "
            f"{TARGET_P95_MS:g} ms, nothing lost or doubled): {'met' if met else 'NOT met'}"
        )
    if args.keep:
        print(f"Store and server log kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if met else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.webhooks",
        description="Sustained webhook intake on loopback against `app.py serve`.",
    )
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--batch", type=int, default=10, help="statuses per body")
    parser.add_argument(
        "--rate",
        type=int,
        default=1_500,
        help="status events per second offered by all senders together; 0 sends back to back "
        "(a saturation run: latency then only says how long the queue was)",
    )
    parser.add_argument("--threads", type=int, default=16, help="waitress threads")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="where the temporary store goes"
    )
    parser.add_argument("--keep", action="store_true", help="keep the store and server log")
    parser.add_argument(
        "--base-store",
        type=Path,
        default=None,
        help="start from a copy of this DuckDB store (e.g. bench/data/duckdb-10000000.duckdb)",
    )
    parser.add_argument(
        "--in-place",
        action="store_true",
        help="with --base-store: serve that store itself, not a copy (it keeps the run's seed)",
    )
    parser.add_argument(
        "--apply-probe", action="store_true", help="time Apply on the dashboard during intake"
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="serve a PostgreSQL store (the benchmark cluster under bench/data/postgres)",
    )
    parser.add_argument(
        "--postgres-base",
        default=None,
        metavar="DATABASE",
        help="with --postgres: start from a copy of this database (e.g. bench_10000000)",
    )
    parser.add_argument(
        "--load-rows", type=int, default=0, help="load a file of N new messages during intake"
    )
    parser.add_argument(
        "--load-every",
        type=float,
        default=0,
        metavar="SECONDS",
        help="with --load-rows: a new file every SECONDS (a soak), not one",
    )
    parser.add_argument(
        "--apply-users", type=int, default=1, help="with --apply-probe: how many users click"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not (
        1 <= args.senders <= 100
        and 1 <= args.seconds <= 7200
        and 1 <= args.batch <= 1000
        and 0 <= args.rate <= MAX_EVENTS_PER_SECOND
    ):
        print(
            f"senders 1-100, seconds 1-600, batch 1-1000 and rate 0-{MAX_EVENTS_PER_SECOND:,}.",
            file=sys.stderr,
        )
        return 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
