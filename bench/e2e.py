"""End-to-end timing of the dashboard: real callback requests to a served store, one and many users.

The server is started the way production runs it (`python app.py serve`, waitress with threads)
on a benchmark store from bench/stores.py; a client signs in through /login and posts to
/_dash-update-component the bodies the page posts, built from the server's own
/_dash-dependencies. One user action is the chain of requests the browser makes: the callback the
control triggers, then every callback triggered by what it changed. The requests of a chain are
sent one after another, so the figures are an upper bound of what a browser (which sends the
second-level requests in parallel) waits. Clientside callbacks cost no request; the ones that
decide whether a server callback runs are done here as the browser does them (CLIENTSIDE).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import secrets
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TextIO

import requests
from sqlalchemy import Engine, select

from bench.arguments import positive
from bench.harness import DAYS, capture_statements, p95, raw_runner
from bench.stores import (
    DATA_DIR,
    ExistingStore,
    OpenStore,
    Plan,
    open_duckdb,
    open_existing,
    open_postgres,
)
from dashboard import ids
from dashboard.callbacks import drill
from dashboard.callbacks.consolidated import sent_reads
from dashboard.callbacks.url_state import state_to_search
from dashboard.layouts.detailed import PAGE_SIZE, SORTABLE
from dashboard.layouts.filters import ALL_DIRECTIONS, STATE_FIELDS
from data_access import accounts, reports
from data_access.filters import AccessScope, today_in
from data_access.tables import contacts, messages, subaccounts
from reporting.view_state import ViewState
from servertools.served import ServedApp, ServerError

DEFAULT_MESSAGES = 10_000_000
CHANNEL = "whatsapp"
# Contacts searched only by the concurrent users, so their searches miss the cache.
LOAD_PHONES = 200
# The raw time of a query is its best of this many runs, before and again after the server
# run: on a shared machine the best is the engine's own cost, so the end-to-end ratio errs
# against the dashboard, never for it.
RAW_REPEAT = 2
USERNAME = "bench-admin"
PASSWORD = "bench-admin-password-2026"
LANGUAGE = "en"
UPDATE = "/_dash-update-component"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

# Targets (milliseconds; "ratio" is end to end over the raw engine time): Apply with every
# section of the consolidated view and the drill-down from a day to its messages as issue 17
# asks (Apply's p95 within 300 ms too, said in the report), the rest as issue 6 did.
TARGETS = {
    "apply": (150.0, 2.0),
    "drill": (150.0, None),
    "page": (100.0, None),
    "phone": (100.0, None),
}
# p95 targets (milliseconds), where an action has one.
P95_TARGETS = {"apply": 300.0}
USERS_P95_MS = 1000.0
PEAK_MEMORY_MB = 1536.0


@dataclass
class Timing:
    """One kind of user action, measured with cache misses (cold) or hits (warm)."""

    action: str
    phase: str
    e2e: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    requests: int = 0
    payload: list[int] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.e2e)

    @property
    def raw_median(self) -> float | None:
        return statistics.median(self.raw) if self.raw else None

    def verdict(self) -> str:
        target = TARGETS.get(self.action)
        if target is None:
            return ""
        limit, ratio = target
        parts = [f"median <= {limit:.0f} ms: {'met' if self.median <= limit else 'missed'}"]
        if self.action in P95_TARGETS:
            high = P95_TARGETS[self.action]
            parts.append(f"p95 <= {high:.0f} ms: {'met' if p95(self.e2e) <= high else 'missed'}")
        if ratio is not None and self.raw_median:
            met = self.median <= ratio * self.raw_median
            parts.append(f"<= {ratio:g}x raw: {'met' if met else 'missed'}")
        return "; ".join(parts)


@dataclass
class LoadResult:
    users: int
    fresh: float
    think: float
    seconds: float
    actions: int
    requests: int
    errors: int
    latencies: list[float]
    peak_rss_mb: float
    max_sampled_rss_mb: float
    # Each action's kind and whether it asked for a fresh view, with its latency.
    by_kind: dict[tuple[str, bool], list[float]] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return self.actions / self.seconds


@dataclass
class E2EReport:
    store: str
    messages: int
    timings: list[Timing]
    load: LoadResult | None


# -- the served app -----------------------------------------------------------------------------


class Server(ServedApp):
    """`python app.py serve` on a loopback port, on the given store, until stop()."""

    def __init__(self, database_url: str, data_dir: Path, timezone: str, threads: int) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        env = dict(
            os.environ,
            DATABASE_URL=database_url,
            DATA_DIR=str(data_dir),
            SECRET_KEY=secrets.token_hex(32),
            ACCOUNT_TIMEZONE=timezone,
        )
        self._log = open(data_dir / "server.log", "w")  # noqa: SIM115 - closed in stop()
        super().__init__(env, threads=threads, output=self._log)
        self.base = self.url

    def wait_ready(self, timeout: float = 120.0, ready=None) -> Server:
        try:
            return super().wait_ready(timeout, ready)
        except ServerError as error:
            raise ServerError(f"{error} See {self._log.name}.") from None

    def memory_mb(self, key: str) -> float:
        """VmRSS (now) or VmHWM (peak so far) of the server process, in MB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
        raise ServerError(f"/proc has no {key} for the server process.")

    def stop(self) -> str:
        super().stop()
        self._log.close()
        return ""


def ensure_admin(engine: Engine) -> None:
    """The benchmark's admin account (sees every subaccount), created once per store."""
    with engine.begin() as conn:
        if accounts.find_account(conn, USERNAME) is None:
            accounts.create_account(
                conn,
                USERNAME,
                accounts.hash_password(PASSWORD, USERNAME),
                role="admin",
                language=LANGUAGE,
            )


# -- a signed-in page ---------------------------------------------------------------------------


def _prop(key: str) -> tuple[str, str]:
    ident, prop = key.rsplit(".", 1)
    return ident, prop


def _url_change(values: dict, changed: list[str]) -> dict:
    """The page's URL gate (dashboard/callbacks/routing.py, URL_GATE): the query string the page
    itself just wrote for the view it shows is not passed on to the page callback."""
    path = (values.get((ids.URL, "pathname")) or "/").rstrip("/") or "/"
    search = values.get((ids.URL, "search"))
    if (
        changed == [f"{ids.URL}.search"]
        and path == "/"
        and search == values.get((ids.APPLIED_SEARCH, "data"))
    ):
        return {}
    return {(ids.URL_CHANGE, "data"): {"changed": changed}}


def _read_date_boxes(values: dict, changed: list[str]) -> dict:
    """Apply's read of the period boxes (dashboard/callbacks/filters.py, READ_DATE_BOXES): the
    boxes show the picker's dates, in ISO here."""
    return {
        (ids.DATE_RANGE_TEXT, "data"): {
            "clicks": values.get((ids.APPLY_FILTERS, "n_clicks")),
            "start": values.get((ids.DATE_RANGE, "start_date")),
            "end": values.get((ids.DATE_RANGE, "end_date")),
        }
    }


def _sort_request(values: dict, changed: list[str]) -> dict:
    """The grid header's order passed on to the filter bar (dashboard/callbacks/detailed.py,
    SORT_REQUEST): here the header's sort is set as the order asked for."""
    if f"{ids.DETAILED_TABLE}.columnState" not in changed:
        return {}
    sorted_columns = [c for c in values.get((ids.DETAILED_TABLE, "columnState")) or [] if c["sort"]]
    asked = [{"column_id": c["colId"], "direction": c["sort"]} for c in sorted_columns]
    return {(ids.DETAILED_SORT, "data"): asked}


# The clientside callbacks whose outputs start server callbacks, by their output, as the
# browser runs them (the changed component values -> the props they set).
CLIENTSIDE = {
    f"{ids.URL_CHANGE}.data": _url_change,
    f"{ids.DATE_RANGE_TEXT}.data": _read_date_boxes,
    f"{ids.DETAILED_SORT}.data": _sort_request,
}


def _feeds_server(dep: dict, dependencies: list[dict]) -> bool:
    """Whether what a clientside callback sets is an input of a server callback."""
    outputs = set(dep["output"].strip(".").split("..."))
    return any(
        f"{i['id']}.{i['property']}" in outputs
        for other in dependencies
        if not other.get("clientside_function")
        for i in other["inputs"]
    )


class Page:
    """One browser tab: its session, the values of its components, and the callbacks to run."""

    def __init__(self, base: str, dependencies: list[dict] | None = None) -> None:
        self.base = base
        self.http = requests.Session()
        self.dependencies = dependencies
        self.values: dict[tuple[str, str], object] = {}
        self.clicks = 0

    def sign_in(self) -> None:
        form = self.http.get(self.base + "/login", timeout=30).text
        match = _CSRF.search(form)
        if not match:
            raise ServerError("The sign-in page has no CSRF token.")
        answer = self.http.post(
            self.base + "/login",
            data={"username": USERNAME, "password": PASSWORD, "csrf_token": match.group(1)},
            allow_redirects=False,
            timeout=30,
        )
        if answer.status_code != 302:
            raise ServerError(f"Sign-in answered {answer.status_code}.")
        if self.dependencies is None:
            deps = self.http.get(self.base + "/_dash-dependencies", timeout=30).json()
            # Pattern-matching callbacks are not on the report screen.
            deps = [d for d in deps if not any(i["id"].startswith("{") for i in d["inputs"])]
            # Clientside callbacks run in the browser: those that start server callbacks are
            # done as CLIENTSIDE says, the others change nothing the server sees.
            for dep in deps:
                if (
                    dep.get("clientside_function")
                    and dep["output"] not in CLIENTSIDE
                    and _feeds_server(dep, deps)
                ):
                    raise ServerError(
                        f"The clientside callback {dep['output'][:60]} starts server callbacks; "
                        "add what it does to CLIENTSIDE in bench/e2e.py."
                    )
            self.dependencies = [
                d for d in deps if not d.get("clientside_function") or d["output"] in CLIENTSIDE
            ]

    def show(self, applied: dict) -> None:
        """The page as built for `applied` (the routing callback builds it with its data)."""
        state = ViewState.from_dict(applied)
        self.values = {
            (ids.URL, "pathname"): "/",
            (ids.URL, "search"): state_to_search(state),
            (ids.LANGUAGE_STORE, "data"): LANGUAGE,
            (ids.APPLIED_FILTERS, "data"): applied,
            (ids.APPLIED_SEARCH, "data"): state_to_search(state),
            (ids.CHANNEL_TABS, "active_tab"): state.channel,
            (ids.REPORT_TABS, "active_tab"): state.view,
            (ids.DATE_RANGE, "start_date"): state.start,
            (ids.DATE_RANGE, "end_date"): state.end,
            (ids.FILTER_DIRECTION, "value"): state.direction or ALL_DIRECTIONS,
            (ids.PHONE_SEARCH, "value"): state.phone or "",
            (ids.DETAILED_TABLE, "columnState"): [],
            (ids.CONSOLIDATED_SHOWN, "data"): applied if state.view == "consolidated" else None,
            (ids.DETAILED_SHOWN, "data"): (
                {"applied": applied, "page": 0, "pages": 1} if state.view == "detailed" else None
            ),
        }
        for control, name in STATE_FIELDS.items():
            self.values[(control, "value")] = list(getattr(state, name))

    def _body(self, dep: dict, changed: list[str]) -> dict:
        parts = dep["output"].strip(".").split("...")
        outputs = [dict(zip(("id", "property"), _prop(part), strict=True)) for part in parts]

        def listed(items):
            return [
                {"id": i["id"], "property": i["property"], "value": self.values.get(_key(i))}
                for i in items
            ]

        return {
            "output": dep["output"],
            "outputs": outputs if dep["output"].startswith("..") else outputs[0],
            "inputs": listed(dep["inputs"]),
            "changedPropIds": changed,
            "state": listed(dep["state"]),
        }

    def act(self, changes: dict[tuple[str, str], object]) -> tuple[int, int]:
        """Change components as a user does and run every callback that follows, in order.

        Returns (requests made, response bytes). Raises ServerError on any failed request.
        """
        self.values.update(changes)
        pending = [f"{i}.{p}" for i, p in changes]
        done: set[str] = set()
        count = size = 0
        while pending:
            changed, pending = pending, []
            for dep in self.dependencies:
                triggers = [f"{i['id']}.{i['property']}" for i in dep["inputs"]]
                hit = [t for t in changed if t in triggers]
                if not hit or dep["output"] in done:
                    continue
                done.add(dep["output"])
                if dep.get("clientside_function"):
                    for (ident, prop), value in CLIENTSIDE[dep["output"]](self.values, hit).items():
                        self.values[(ident, prop)] = value
                        pending.append(f"{ident}.{prop}")
                    continue
                answer = self.http.post(self.base + UPDATE, json=self._body(dep, hit), timeout=60)
                count += 1
                size += len(answer.content)
                if answer.status_code == 204:
                    continue
                if answer.status_code != 200:
                    raise ServerError(f"{dep['output'][:60]} answered {answer.status_code}.")
                body = answer.json()
                if "sideUpdate" in body:
                    raise ServerError(f"{dep['output'][:60]} failed on the server.")
                for ident, props in body.get("response", {}).items():
                    for prop, value in props.items():
                        self.values[(ident, prop.split("@")[0])] = value
                        pending.append(f"{ident}.{prop.split('@')[0]}")
        return count, size

    # The user actions measured, each as the page's controls change.

    def apply(self, start: date, end: date) -> tuple[int, int]:
        self.clicks += 1
        return self.act(
            {
                (ids.DATE_RANGE, "start_date"): start.isoformat(),
                (ids.DATE_RANGE, "end_date"): end.isoformat(),
                (ids.APPLY_FILTERS, "n_clicks"): self.clicks,
            }
        )

    def page(self, number: int) -> tuple[int, int]:
        """Page `number` (from 0), reached by the Next button from the page before it."""
        self.clicks += 1
        shown = dict(self.values.get((ids.DETAILED_SHOWN, "data")) or {})
        shown.update(page=number - 1, pages=max(shown.get("pages") or 1, number + 1))
        self.values[(ids.DETAILED_SHOWN, "data")] = shown
        return self.act({(ids.DETAILED_PAGE_NEXT, "n_clicks"): self.clicks})

    def sort(self, column: str, descending: bool) -> tuple[int, int]:
        direction = "desc" if descending else "asc"
        return self.act(
            {(ids.DETAILED_TABLE, "columnState"): [{"colId": column, "sort": direction}]}
        )

    def drill(self, day: date) -> tuple[int, int]:
        """A click on a day's bar of the daily chart: the detailed view of that day."""
        return self.act({(ids.DAILY_CHART, "clickData"): {"points": [{"x": day.isoformat()}]}})

    def phone(self, typed: str) -> tuple[int, int]:
        self.clicks += 1
        return self.act(
            {(ids.PHONE_SEARCH, "value"): typed, (ids.PHONE_SEARCH_BUTTON, "n_clicks"): self.clicks}
        )


def _key(item: dict) -> tuple[str, str]:
    return item["id"], item["property"]


# -- what is measured ---------------------------------------------------------------------------


@dataclass
class Workload:
    """The filters of every measured action, chosen so the cold ones are all distinct."""

    today: date
    scope: AccessScope
    timezone: str
    ranges: list[tuple[date, date]]
    # Days clicked in the 90-day chart, each a view not asked for before.
    drill_days: list[date]
    pages: list[int]
    sorts: list[tuple[str, bool]]
    phones: list[str]
    more_phones: list[str]

    def state(self, view: str, start: date | None = None, phone: str | None = None) -> dict:
        start = start or self.today - timedelta(days=DAYS - 1)
        return ViewState(
            channel=CHANNEL, view=view, start=start.isoformat(), end=self.today.isoformat(),
            phone=phone,
        ).to_dict()  # fmt: skip


def _typed(digits: str) -> str:
    return f"+{digits[:2]} ({digits[2:4]}) {digits[4:-4]}-{digits[-4:]}"


def build_workload(engine: Engine, timezone: str, repeat: int) -> Workload:
    today = today_in(timezone)
    with engine.connect() as conn:
        scope = AccessScope.of(conn.execute(select(subaccounts.c.id)).scalars())
        recent = conn.execute(
            select(messages.c.contact_id)
            .where(messages.c.channel == CHANNEL)
            # The id breaks ties in time, so every run on a store picks the same phones.
            .order_by(messages.c.created_at.desc(), messages.c.message_id.desc())
            .limit(50 * (repeat + LOAD_PHONES))
        ).scalars()
        chosen = list(dict.fromkeys(recent))[: repeat + LOAD_PHONES]
        phones = conn.execute(
            select(contacts.c.phone).where(contacts.c.id.in_(chosen)).order_by(contacts.c.phone)
        ).scalars()
        phones = [_typed(p) for p in phones]
    first = today - timedelta(days=DAYS - 1)
    # Distinct ranges (a cache hit needs the same range): the last 90 days, then one day
    # shorter each time, alternately at either end, so the data stays within the store's days.
    ranges = [
        (first + timedelta(days=i // 2), today - timedelta(days=(i + 1) // 2))
        for i in range(min(repeat, DAYS))
    ]
    # Every other order once: newest first is the table's own order, so asking for it again
    # runs nothing.
    sorts = [
        (column, descending)
        for column in SORTABLE
        for descending in (False, True)
        if (column, descending) != ("created_at", True)
    ]
    return Workload(
        today=today,
        scope=scope,
        timezone=timezone,
        ranges=ranges,
        drill_days=[today - timedelta(days=i + 1) for i in range(min(repeat, DAYS - 1))],
        pages=list(range(1, repeat + 1)),
        sorts=sorts[:repeat],
        phones=phones[:repeat],
        more_phones=phones[repeat:] or phones,
    )


def _raw_ms(engine: Engine, run: Callable[[], object]) -> float:
    """Milliseconds the engine takes for the statements `run` sends, replayed on the driver."""
    replay = raw_runner(engine, capture_statements(engine, run))
    try:
        replay()
        best = math.inf
        for _ in range(RAW_REPEAT):
            started = time.perf_counter()
            replay()
            best = min(best, (time.perf_counter() - started) * 1000.0)
        return best
    finally:
        replay.close()


def raw_times(engine: Engine, work: Workload) -> dict[str, list[float]]:
    """The engine time of the queries behind each cold action, in the same order."""
    scope, zone = work.scope, work.timezone

    def flt(state: dict):
        return ViewState.from_dict(state).to_filter(zone)

    def consolidated(start: date, end: date):
        state = ViewState(channel=CHANNEL, start=start.isoformat(), end=end.isoformat())
        f = state.to_filter(zone)
        # Every read of the view's sections, as dashboard/callbacks/consolidated.py asks them
        # (the four breakdown tables in one read).
        return lambda: [getattr(reports, name)(engine, scope, g) for name, g in sent_reads(f)]

    detailed = flt(work.state("detailed"))

    def rows(f, sort="created_at", descending=True, offset=0):
        return lambda: reports.detailed_rows(
            engine, scope, f, sort=sort, descending=descending, offset=offset, limit=PAGE_SIZE
        )

    def page(f):
        return lambda: reports.detailed_page(engine, scope, f, limit=PAGE_SIZE)

    # Another page or order of the view already shown reuses its count (one per filter), so
    # those run only the rows' query; a phone search is a new filter and counts as well.
    return {
        "apply": [_raw_ms(engine, consolidated(s, e)) for s, e in work.ranges],
        "drill": [_raw_ms(engine, page(flt(drilled_state(work, day)))) for day in work.drill_days],
        "page": [_raw_ms(engine, rows(detailed, offset=n * PAGE_SIZE)) for n in work.pages],
        "sort": [_raw_ms(engine, rows(detailed, SORTABLE[c], d)) for c, d in work.sorts],
        "phone": [_raw_ms(engine, page(flt(work.state("detailed", phone=p)))) for p in work.phones],
    }


def drilled_state(work: Workload, day: date) -> dict:
    """The detailed view a click on `day` of the 90-day consolidated view opens."""
    state = ViewState.from_dict(work.state("consolidated"))
    return drill.drilled(state, day=day).to_dict()


def _timed(timing: Timing, run: Callable[[], tuple[int, int]]) -> None:
    started = time.perf_counter()
    count, size = run()
    timing.e2e.append((time.perf_counter() - started) * 1000.0)
    timing.requests = count
    timing.payload.append(size)


def measure_single(base: str, work: Workload, raw: dict[str, list[float]], repeat: int):
    """Every action cold (distinct filters) then warm (the same filter again), one user."""
    page = Page(base)
    page.sign_in()
    timings = []

    def consolidated_page():
        page.show(work.state("consolidated"))
        # The page shows another state than the one about to be applied (as after any Apply).
        page.values[(ids.CONSOLIDATED_SHOWN, "data")] = None

    def shown_consolidated():
        page.show(work.state("consolidated"))

    def detailed_page():
        page.show(work.state("detailed"))

    cases = [
        ("apply", consolidated_page, lambda i: page.apply(*work.ranges[i])),
        ("drill", shown_consolidated, lambda i: page.drill(work.drill_days[i])),
        ("page", detailed_page, lambda i: page.page(work.pages[i])),
        ("sort", detailed_page, lambda i: page.sort(*work.sorts[i])),
        ("phone", detailed_page, lambda i: page.phone(work.phones[i])),
    ]
    for action, reset, run in cases:
        cold = Timing(action, "cold", raw=raw[action])
        for i in range(min(repeat, len(raw[action]))):
            reset()
            _timed(cold, lambda i=i, run=run: run(i))
        warm = Timing(action, "warm")
        for _ in range(repeat):
            reset()
            _timed(warm, lambda run=run: run(0))
        timings += [cold, warm]
    return timings


def measure_load(
    server: Server,
    work: Workload,
    users: int,
    seconds: float,
    fresh: float,
    think: float = 0.0,
    seed: int = 1,
):
    """`users` signed-in pages doing a random mix of the actions for `seconds`.

    A share `fresh` of the actions asks for a view no one asked for yet (another range, a
    deeper page, another contact), so it misses the cache; the rest repeat the measured views.
    Each user looks at an answer for `think` seconds on average (half to one and a half times
    that) before the next action; 0: back to back, every user always waiting for an answer.
    """
    probe = Page(server.base)
    probe.sign_in()
    pages = []
    for _ in range(users):
        page = Page(server.base, probe.dependencies)
        page.sign_in()
        pages.append(page)
    latencies: list[float] = []
    by_kind: dict[tuple[str, bool], list[float]] = {}
    counts = {"actions": 0, "requests": 0, "errors": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(server.memory_mb("VmRSS"))
            stop.wait(0.5)

    first = work.today - timedelta(days=DAYS - 1)

    def user(page: Page, rng: random.Random) -> None:
        while time.monotonic() < deadline:
            kind = rng.choice(("apply", "apply", "page", "sort", "phone"))
            new = rng.random() < fresh
            # A fresh sort starts from a range of its own, so its order was not asked for yet.
            start = first + timedelta(days=rng.randrange(DAYS // 2)) if new else None
            page.show(work.state("consolidated" if kind == "apply" else "detailed", start))
            page.values[(ids.CONSOLIDATED_SHOWN, "data")] = None
            started = time.perf_counter()
            try:
                if kind == "apply" and new:
                    end = work.today - timedelta(days=rng.randrange(DAYS // 2))
                    count, _ = page.apply(start, end)
                elif kind == "apply":
                    count, _ = page.apply(*rng.choice(work.ranges))
                elif kind == "page":
                    count, _ = page.page(rng.randrange(21, 400) if new else rng.choice(work.pages))
                elif kind == "sort":
                    count, _ = page.sort(*rng.choice(work.sorts))
                else:
                    count, _ = page.phone(rng.choice(work.more_phones if new else work.phones))
                failed = 0
            except (ServerError, requests.RequestException):
                count, failed = 0, 1
            elapsed = (time.perf_counter() - started) * 1000.0
            with lock:
                latencies.append(elapsed)
                by_kind.setdefault((kind, new), []).append(elapsed)
                counts["actions"] += 1
                counts["requests"] += count
                counts["errors"] += failed
            if think:
                time.sleep(
                    min(rng.uniform(0.5, 1.5) * think, max(0.0, deadline - time.monotonic()))
                )

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    threads = [
        threading.Thread(target=user, args=(page, random.Random(seed + n)))
        for n, page in enumerate(pages)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    stop.set()
    sampler.join()
    return LoadResult(
        users=users,
        fresh=fresh,
        think=think,
        seconds=elapsed,
        actions=counts["actions"],
        requests=counts["requests"],
        errors=counts["errors"],
        latencies=latencies,
        peak_rss_mb=server.memory_mb("VmHWM"),
        max_sampled_rss_mb=max(samples),
        by_kind=by_kind,
    )


# -- the run ------------------------------------------------------------------------------------


LABELS = {
    "apply": "consolidated Apply (last 90 days, shorter when cold)",
    "drill": "drill-down: a day's bar to its detailed view",
    "page": "detailed, next page",
    "sort": "detailed, sort by a column",
    "phone": "detailed, phone search",
}


def format_report(report: E2EReport) -> str:
    lines = [
        f"{report.store}, {report.messages:,} messages:",
        "",
        "| store | action | cache | runs | requests | e2e median ms | e2e p95 ms "
        "| raw engine median ms | e2e / raw | response KB | target | |",
        "|" + "---|" * 12,
    ]
    for t in report.timings:
        raw = t.raw_median
        ratio = f"{t.median / raw:.2f}" if raw else "-"
        target = TARGETS.get(t.action)
        wanted = ""
        if target:
            wanted = f"<= {target[0]:.0f} ms" + (f", <= {target[1]:g}x raw" if target[1] else "")
        lines.append(
            f"| {report.store} | {LABELS[t.action]} | {t.phase} | {len(t.e2e)} | {t.requests} "
            f"| {t.median:,.1f} | {p95(t.e2e):,.1f} | {'-' if raw is None else f'{raw:,.1f}'} "
            f"| {ratio} | {statistics.median(t.payload) / 1024:,.1f} | {wanted} "
            f"| {t.verdict() if t.phase == 'cold' else ''} |"
        )
    load = report.load
    if load is not None:
        p95_ms = p95(load.latencies)
        p50_ms = statistics.median(load.latencies)
        lines += [
            "",
            f"{load.users} users for {load.seconds:.0f} s ({load.fresh:.0%} of actions on views "
            f"not asked for before; "
            + (f"{load.think:g} s looking at each answer" if load.think else "back to back")
            + f"): {load.actions:,} actions "
            f"({load.throughput:.1f}/s, {load.requests / load.seconds:.1f} requests/s), "
            f"p50 {p50_ms:,.0f} ms, p95 {p95_ms:,.0f} ms, errors {load.errors}; "
            f"p95 <= {USERS_P95_MS:.0f} ms and zero errors: "
            f"{'met' if p95_ms <= USERS_P95_MS and load.errors == 0 else 'missed'}",
            f"server peak memory (VmHWM, whole run) {load.peak_rss_mb:,.0f} MB "
            f"(largest sampled VmRSS {load.max_sampled_rss_mb:,.0f} MB); "
            f"<= {PEAK_MEMORY_MB:.0f} MB: "
            f"{'met' if load.peak_rss_mb <= PEAK_MEMORY_MB else 'missed'}",
            "",
            "| users' action | view | actions | p50 ms | p95 ms | share of the time waited |",
            "|---|---|---:|---:|---:|---:|",
        ]
        waited = sum(load.latencies) or 1.0
        for (kind, new), samples in sorted(load.by_kind.items()):
            lines.append(
                f"| {kind} | {'fresh' if new else 'asked before'} | {len(samples)} "
                f"| {statistics.median(samples):,.0f} | {p95(samples):,.0f} "
                f"| {sum(samples) / waited:.0%} |"
            )
    return "\n".join(lines)


def run(
    *,
    messages: int = DEFAULT_MESSAGES,
    store: str = "duckdb",
    repeat: int = 20,
    users: int = 20,
    seconds: float = 60.0,
    fresh: float = 0.5,
    think: float = 0.0,
    threads: int = 8,
    data_dir: Path = DATA_DIR,
    timezone: str = "America/Sao_Paulo",
    out: TextIO = sys.stdout,
    progress=None,
    path: Path | None = None,
) -> E2EReport:
    """Open (or build) the store, time the raw queries, serve it, measure; print and return."""
    opened: OpenStore | ExistingStore
    if path is not None:
        opened = open_existing(path, timezone)
        messages = opened.messages
    else:
        opener = {"duckdb": open_duckdb, "postgres": open_postgres}[store]
        opened = opener(
            Plan(messages=messages, days=DAYS, timezone=timezone), data_dir, rebuild=False,
            progress=progress,
        )  # fmt: skip
    try:
        engine = opened.engine
        url = engine.url.render_as_string(hide_password=False)
        ensure_admin(engine)
        work = build_workload(engine, timezone, repeat)
        print(f"{store}: {messages:,} messages; timing the raw queries", file=out, flush=True)
        raw = raw_times(engine, work)
        # The embedded store admits one process: release it for the server.
        engine.dispose()
        server = Server(url, data_dir / f"e2e-{store}-{messages}", timezone, threads)
        print(f"serving: {' '.join(server.command)}", file=out, flush=True)
        try:
            server.wait_ready()
            timings = measure_single(server.base, work, raw, repeat)
            load = measure_load(server, work, users, seconds, fresh, think) if users else None
        finally:
            server.stop()
        print("timing the raw queries again", file=out, flush=True)
        again = raw_times(engine, work)
        for action, samples in raw.items():
            samples[:] = [min(pair) for pair in zip(samples, again[action], strict=True)]
    finally:
        opened.close()
    report = E2EReport(store, messages, timings, load)
    print(format_report(report), file=out, flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    from commands.console import Console
    from config import SettingsError, load_settings

    parser = argparse.ArgumentParser(
        prog="python -m bench.e2e",
        description="Time the dashboard end to end (HTTP callbacks, many users) on a demo store.",
    )
    parser.add_argument("--messages", type=positive, default=DEFAULT_MESSAGES, metavar="N")
    parser.add_argument("--store", choices=("duckdb", "postgres"), default="duckdb")
    parser.add_argument("--repeat", type=positive, default=20, metavar="R")
    parser.add_argument("--users", type=int, default=20, help="0 skips the concurrent run")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the concurrent run")
    parser.add_argument(
        "--fresh", type=float, default=0.5, help="share of concurrent actions that miss the cache"
    )
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="seconds each user looks at an answer before the next action (0: back to back)",
    )
    parser.add_argument("--threads", type=positive, default=8, help="waitress threads")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--path", type=Path, help="time this embedded store as it is (e.g. one of bench.scale)"
    )
    args = parser.parse_args(argv)
    try:
        timezone = load_settings().account_timezone
    except SettingsError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    try:
        report = run(
            messages=args.messages,
            store=args.store,
            repeat=args.repeat,
            users=args.users,
            seconds=args.seconds,
            fresh=args.fresh,
            think=args.think,
            threads=args.threads,
            timezone=timezone,
            progress=lambda total: Console().progress(total, unit="messages"),
            path=args.path,
        )
    except ServerError as error:
        print(f"Benchmark failed: {error}", file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(json.dumps(_as_json(report), indent=2) + "\n")
    return 0


def _as_json(report: E2EReport) -> dict:
    load = report.load
    return {
        "store": report.store,
        "messages": report.messages,
        "timings": [
            {
                "action": t.action,
                "phase": t.phase,
                "e2e_median_ms": t.median,
                "e2e_p95_ms": p95(t.e2e),
                "raw_median_ms": t.raw_median,
                "requests": t.requests,
                "response_bytes": statistics.median(t.payload),
            }
            for t in report.timings
        ],
        "load": None
        if load is None
        else {
            "users": load.users,
            "think_seconds": load.think,
            "seconds": load.seconds,
            "actions": load.actions,
            "requests": load.requests,
            "errors": load.errors,
            "p50_ms": statistics.median(load.latencies),
            "p95_ms": p95(load.latencies),
            "peak_rss_mb": load.peak_rss_mb,
        },
    }


if __name__ == "__main__":
    sys.exit(main())
