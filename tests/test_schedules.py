"""Scheduled reports: when they are due, one run per due time across restarts and workers, each
run an export job in the history, and the mail with the headline figures and the link."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from app import build_parser, create_app
from commands import schedules as schedules_command
from dashboard.layouts.exports import DOWNLOAD_PATH
from data_access import schedules as store
from data_access.filters import AccessScope
from data_access.outbound_tables import ensure_tables
from exports import jobs
from exports.worker import ExportPool
from notify import schedules
from notify.worker import MinuteWorker
from tests.auth_helpers import add_account, subaccount_ids
from tests.notify_helpers import SmtpSink

# Sao Paulo is UTC-3 all year: 08:00 there is 11:00 UTC.
CREATED = datetime(2026, 11, 16, 12, 0)


@pytest.fixture
def smtp():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def settings(store_settings, smtp):
    return replace(
        store_settings,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_tls="none",
        smtp_sender="reports@reports.test",
        public_url="https://reports.example.com",
    )


@pytest.fixture
def ana(engine):
    ensure_tables(engine)
    return add_account(engine, "ana", "ana-password-1", subaccount_names=("Brand A",))


def schedule(engine, owner, **values) -> store.Schedule:
    fields = {
        "owner_id": owner.id,
        "owner": owner.username,
        "search": "?channel=whatsapp",
        "format": "csv",
        "frequency": "daily",
        "hour": 8,
        "timezone": "America/Sao_Paulo",
        "language": "es",
        "recipients": "ana@example.com; boss@example.com",
        "now": CREATED,
        **values,
    }
    with engine.begin() as conn:
        return store.create_schedule(conn, **fields)


def made(**values) -> store.Schedule:
    fields = {
        "id": 1,
        "owner_id": 1,
        "owner": "ana",
        "search": "",
        "format": "csv",
        "frequency": "daily",
        "hour": 8,
        "weekday": None,
        "month_day": None,
        "timezone": "America/Sao_Paulo",
        "language": "es",
        "recipients": "ana@example.com",
        "active": True,
        "created_at": CREATED,
        "last_due_at": None,
        **values,
    }
    return store.Schedule(**fields)


class TestDueTimes:
    def test_daily_at_an_hour_of_the_owners_zone(self):
        daily = made()
        assert daily.latest_due(CREATED, datetime(2026, 11, 17, 10, 59)) is None
        assert daily.latest_due(CREATED, datetime(2026, 11, 17, 11, 0)) == datetime(
            2026, 11, 17, 11, 0
        )
        # Days later only the latest due time is returned.
        assert daily.latest_due(CREATED, datetime(2026, 11, 20, 9, 0)) == datetime(
            2026, 11, 19, 11, 0
        )
        assert daily.next_due(datetime(2026, 11, 17, 11, 0)) == datetime(2026, 11, 18, 11, 0)

    def test_weekly_and_monthly(self):
        weekly = made(frequency="weekly", weekday=0)  # Mondays; 2026-11-16 is one
        assert weekly.next_due(CREATED) == datetime(2026, 11, 23, 11, 0)
        assert weekly.latest_due(CREATED, datetime(2026, 12, 1, 0, 0)) == datetime(
            2026, 11, 30, 11, 0
        )
        monthly = made(frequency="monthly", month_day=1, hour=6)
        assert monthly.next_due(CREATED) == datetime(2026, 12, 1, 9, 0)

    def test_a_zone_with_daylight_saving_keeps_the_local_hour(self):
        madrid = made(timezone="Europe/Madrid", hour=7, created_at=datetime(2026, 3, 1))
        assert madrid.next_due(datetime(2026, 3, 28, 12, 0)) == datetime(2026, 3, 29, 5, 0)
        assert madrid.next_due(datetime(2026, 3, 27, 12, 0)) == datetime(2026, 3, 28, 6, 0)

    def test_a_view_with_dates_keeps_its_length_and_ends_on_the_run_day(self):
        state = schedules.run_state(
            "channel=sms&start=2026-11-01&end=2026-11-07&status=error", datetime(2026, 12, 3).date()
        )
        assert (state.channel, state.start, state.end, state.statuses) == (
            "sms",
            "2026-11-27",
            "2026-12-03",
            ("error",),
        )
        default = schedules.run_state("view=detailed", datetime(2026, 12, 3).date())
        assert (default.view, default.start, default.end) == ("detailed", None, None)


def test_a_schedule_due_while_the_app_was_down_runs_once_at_start_up(engine, settings, ana):
    made_schedule = schedule(engine, ana)
    before = MinuteWorker(engine, settings)
    assert before.tick(datetime(2026, 11, 17, 10, 59)).started == []
    # The app stops before 08:00 on the 17th and comes back on the 19th at 14:00 (UTC):
    # three due times passed; the latest runs, once.
    back = datetime(2026, 11, 19, 14, 0)
    restarted = MinuteWorker(engine, settings, now=lambda: back, period_seconds=3600).start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                runs = store.runs_of(conn, made_schedule.id)
            if runs and runs[0].job_id:
                break
            time.sleep(0.05)
    finally:
        restarted.stop()
    started = [(run.schedule_id, run.due_at, run.job_id) for run in runs]
    assert [(s, due) for s, due, _ in started] == [(made_schedule.id, datetime(2026, 11, 19, 11))]
    assert started[0][2] is not None
    # The next turns, another restart, or a second worker at the same minute: nothing more.
    assert MinuteWorker(engine, settings).tick(back + timedelta(minutes=1)).started == []
    assert MinuteWorker(engine, settings).tick(back).started == []
    with engine.connect() as conn:
        runs = store.runs_of(conn, made_schedule.id)
        # A second process that read the schedule before the run cannot claim it again.
        stale = store.get_schedule(conn, made_schedule.id)
    assert [(r.due_at, r.job_id) for r in runs] == [(datetime(2026, 11, 19, 11), started[0][2])]
    stale = replace(stale, last_due_at=None)
    with engine.begin() as conn:
        assert store.claim_run(conn, stale, datetime(2026, 11, 19, 11), back) is False
    # The run is an export job in Ana's history, for the 7 days ending on the run's day.
    scope = AccessScope.of(subaccount_ids(engine).values())
    (job,) = jobs.list_jobs(engine, jobs.Requester(ana.id, "ana", False, scope))
    assert (job.id, job.username, job.format, job.request_day.isoformat()) == (
        started[0][2],
        "ana",
        "csv",
        "2026-11-19",
    )
    assert (job.filters["start"], job.filters["end"]) == ("2026-11-13", "2026-11-19")
    # The next day it runs again, once.
    next_day = MinuteWorker(engine, settings).tick(datetime(2026, 11, 20, 11, 0)).started
    assert [due for _, due, _ in next_day] == [datetime(2026, 11, 20, 11)]


def test_recipients_get_the_headline_figures_and_the_link(engine, settings, ana, load_rows, smtp):
    rows = []
    for n, (sub, status) in enumerate(
        [("Brand A", "delivered")] * 4 + [("Brand A", "error")] + [("Brand B", "error")] * 3
    ):
        at = f"2026-11-18T1{n}:00:00-03:00"
        rows.append(
            {
                "message_id": f"m-{n}",
                "channel": "whatsapp",
                "direction": "MT",
                "subaccount": sub,
                "content_type": "text",
                "phone": f"+551198765{n:04d}",
                "status": status,
                "created_at": at,
                "sent_at": at,
                "delivered_at": at if status == "delivered" else "",
                "read_at": at if n == 0 else "",
            }
        )
    load_rows(engine, rows)
    made_schedule = schedule(engine, ana, format="xlsx")
    worker = MinuteWorker(engine, settings)
    due = datetime(2026, 11, 19, 11, 0)
    ((_, _, job_id),) = worker.tick(due).started
    # The file is not written yet: no mail.
    assert worker.tick(due + timedelta(minutes=1)).mailed == 0
    assert ExportPool(engine, settings).run_pending() == 1
    assert worker.tick(due + timedelta(minutes=2)).mailed == 1
    assert worker.tick(due + timedelta(minutes=3)).mailed == 0
    (mail,) = smtp.messages
    assert mail.envelope_to == ["ana@example.com", "boss@example.com"]
    assert mail.subject == "Informe diario, WhatsApp: del 13 nov 2026 al 19 nov 2026"
    job = jobs.get_job(engine, job_id)
    assert mail.body.splitlines() == [
        "Su informe programado, del 13 nov 2026 al 19 nov 2026:",
        "",
        "Mensajes enviados: 5",
        "Entregados: 80,0\xa0%",
        "Leídos: 20,0\xa0%",
        "Con error: 20,0\xa0%",
        "Recibidos de clientes: 0",
        "",
        f"El archivo {job.file_name} está listo:",
        f"https://reports.example.com/exports/download/{job_id}",
        "(Inicie sesión para descargarlo; se guarda por un tiempo limitado.)",
    ]
    assert (job.status, job.rows_written, job.subaccount_ids) == (jobs.READY, 7, (1,))
    with engine.connect() as conn:
        (run,) = store.runs_of(conn, made_schedule.id)
    assert (run.mailed, run.problem) == (True, None)
    # The link is the dashboard's download route, and it still asks to sign in.
    assert schedules.DOWNLOAD_PATH == DOWNLOAD_PATH
    client = create_app(settings, engine).server.test_client()
    answer = client.get(f"/exports/download/{job_id}")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_a_run_for_an_owner_no_longer_active_is_recorded_not_run(engine, settings, ana):
    from data_access import accounts

    made_schedule = schedule(engine, ana)
    with engine.begin() as conn:
        accounts.set_active(conn, "ana", False)
    ((_, _, job_id),) = MinuteWorker(engine, settings).tick(datetime(2026, 11, 17, 11)).started
    assert job_id is None
    with engine.connect() as conn:
        (run,) = store.runs_of(conn, made_schedule.id)
    assert (run.job_id, run.problem, run.mailed) == (None, "owner_inactive", False)


class Capture:
    def __init__(self):
        self.lines: list[str] = []

    def out(self, text: str) -> None:
        self.lines.append(text)

    err = out


def test_the_schedules_command(engine, settings, ana, monkeypatch):
    monkeypatch.setattr(schedules_command, "utcnow", lambda: CREATED)

    def command(*argv):
        console = Capture()
        args = build_parser().parse_args(["schedules", *argv])
        return schedules_command.run(args, console, engine, settings), console.lines

    assert command(
        "add", "--owner", "ana", "--view", "channel=sms&start=2026-11-01&end=2026-11-07",
        "--format", "csv", "--every", "weekly", "--weekday", "fri", "--hour", "9",
        "--to", "ana@example.com",
    ) == (0, ["Schedule 1 added; next run 2026-11-20 12:00 UTC."])  # fmt: skip
    assert command("list")[1] == [
        "   1  active    weekly 09:00 America/Sao_Paulo  csv  "
        "?channel=sms&start=2026-11-01&end=2026-11-07  -> ana@example.com  "
        "(owner ana; next 2026-11-20 12:00 UTC)"
    ]
    assert command(
        "add", "--owner", "ana", "--every", "monthly", "--hour", "9", "--to", "x@example.com"
    ) == (2, ["A monthly schedule names a day of the month from 1 to 28."])
    assert command(
        "add", "--owner", "ana", "--every", "daily", "--hour", "9", "--to", "not-an-address"
    ) == (2, ["Give one or more e-mail addresses, comma-separated."])
    assert command("disable", "1") == (0, ["Schedule 1 is disabled."])
    assert command("enable", "7") == (2, ["There is no schedule 7; `schedules list` shows them."])


def test_the_schedules_page_schedules_a_pasted_view_for_its_viewer(
    store_settings, engine, ana, load_rows
):
    from contextvars import copy_context

    from dashboard.callbacks import schedules as page_callbacks
    from dashboard.layouts import schedules as page
    from dashboard.services import Services, Viewer

    other = add_account(engine, "bia", "bia-password-1", subaccount_names=("Brand A",))
    theirs = schedule(engine, other)
    services = Services(settings=store_settings, engine=engine)
    scope = AccessScope.of(subaccount_ids(engine).values())
    viewer = Viewer(ana.id, "ana", "user", scope, "en", "America/Sao_Paulo")

    def as_ana(function, *args):
        def run():
            with services.acting_as(viewer):
                return function(*args)

        return copy_context().run(run)

    form = {
        "view": "https://reports.example.com/?channel=sms&status=error&view=detailed",
        "every": "weekly",
        "hour": "7",
        "weekday": "4",
        "month_day": 1,
        "format": "xlsx",
        "recipients": "ana@example.com, team@example.com",
    }
    notice, _ = as_ana(page_callbacks.add_schedule, services, None, form)
    assert notice.children == "Report scheduled."
    with engine.connect() as conn:
        (mine,) = store.list_schedules(conn, ana.id)
    assert (mine.search, mine.frequency, mine.weekday, mine.hour, mine.format) == (
        "channel=sms&status=error&view=detailed",
        "weekly",
        4,
        7,
        "xlsx",
    )
    assert (mine.timezone, mine.language, mine.recipients) == (
        "America/Sao_Paulo",
        "en",
        "ana@example.com,team@example.com",
    )
    notice, _ = as_ana(
        page_callbacks.add_schedule, services, None, {**form, "view": "?channel=fax"}
    )
    assert notice.children == "Choose WhatsApp or SMS."
    notice, _ = as_ana(page_callbacks.add_schedule, services, None, {**form, "recipients": ""})
    assert notice.children == "Write one or more e-mail addresses, separated by commas."
    # The page lists her schedules only, and another's cannot be paused from it.
    listed = str(as_ana(page.layout, services, viewer, "en"))
    assert "Every Friday at 07:00 (America/Sao_Paulo)" in listed
    assert "?channel=whatsapp" not in listed
    notice, _ = as_ana(page_callbacks.toggle_schedule, services, None, theirs.id)
    assert notice.children == "That schedule does not exist or is not yours."
    notice, _ = as_ana(page_callbacks.toggle_schedule, services, None, mine.id)
    assert notice.children == "Schedule paused."
    with engine.connect() as conn:
        assert store.get_schedule(conn, mine.id).active is False
        assert store.get_schedule(conn, theirs.id).active is True
