"""Run scheduled reports: each due time becomes an export job in its owner's history, and once
the file is ready its recipients get a mail with the headline figures and the download link.

The period of a run: a view with dates keeps its length and ends on the run's day (in the
schedule's zone); a view without dates takes the screen's default (the last 7 days).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from config import Settings
from data_access import accounts, reports
from data_access import schedules as store
from data_access.filters import AccessScope, FilterError
from exports import jobs
from exports.request import ExportError, ExportRequest
from notify.mail import MailError, send_mail
from reporting.formatting import format_count, format_date, format_pct
from reporting.i18n import N_, t
from reporting.url_query import state_from_search
from reporting.view_state import ViewState

log = logging.getLogger(__name__)

# Where the dashboard serves a ready export (dashboard/layouts/exports.py DOWNLOAD_PATH): the
# link still asks whoever opens it to sign in.
DOWNLOAD_PATH = "/exports/download/"
FREQUENCY_KEYS = (N_("schedules.daily"), N_("schedules.weekly"), N_("schedules.monthly"))


def run_state(search: str, run_day: date) -> ViewState:
    """The view of the query string, its period moved to end on the run's day."""
    state = state_from_search(search)
    if state.start and state.end:
        span = date.fromisoformat(state.end[:10]) - date.fromisoformat(state.start[:10])
        state = replace(
            state,
            start=(run_day - span).isoformat(),
            end=run_day.isoformat(),
        )
    return state


def _requester(engine: Engine, owner_id: int) -> jobs.Requester | None:
    with engine.connect() as conn:
        account = accounts.get_account(conn, owner_id)
        if account is None or not account.active:
            return None
        scope = AccessScope.of(accounts.scope_ids(conn, account))
    return jobs.Requester(account.id, account.username, account.role == "admin", scope)


def _start_run(
    engine: Engine, schedule: store.Schedule, due: datetime, now: datetime
) -> str | None:
    """Queue the export of one claimed run; the job id, or None (the problem is recorded)."""
    run_day = due.replace(tzinfo=UTC).astimezone(ZoneInfo(schedule.timezone)).date()
    problem = job_id = None
    requester = _requester(engine, schedule.owner_id)
    if requester is None:
        problem = "owner_inactive"
    else:
        try:
            request = ExportRequest.build(
                run_state(schedule.search, run_day),
                schedule.format,
                schedule.language,
                schedule.timezone,
                today=run_day,
            )
            job, _ = jobs.create_job(engine, requester, request, now)
            job_id = job.id
        except (FilterError, ExportError) as error:
            problem = f"invalid: {error}"
    with engine.begin() as conn:
        store.update_run(conn, schedule.id, due, job_id=job_id, problem=problem)
    if problem:
        log.warning("scheduled report %s due %s not run: %s", schedule.id, due, problem)
    return job_id


def run_due(engine: Engine, now: datetime) -> list[tuple[int, datetime, str | None]]:
    """Start the run of every schedule due since its last run (the latest due time only);
    returns (schedule id, due time, job id) of each run started."""
    with engine.connect() as conn:
        due_now = []
        for schedule in store.list_schedules(conn, active_only=True):
            due = schedule.latest_due(schedule.last_due_at or schedule.created_at, now)
            if due is not None:
                due_now.append((schedule, due))
    started = []
    for schedule, due in due_now:
        with engine.begin() as conn:
            if not store.claim_run(conn, schedule, due, now):
                continue
        try:
            started.append((schedule.id, due, _start_run(engine, schedule, due, now)))
        except Exception:
            log.exception("scheduled report %s due %s failed", schedule.id, due)
    return started


def mail_text(
    settings: Settings, schedule: store.Schedule, job: jobs.Job, totals: dict
) -> tuple[str, str]:
    """(subject, body) of a scheduled report's mail, in the schedule's language."""
    language = schedule.language
    request = job.request()
    flt = request.report_filter()
    period = t(
        language,
        "schedules.mail.period",
        start=format_date(flt.start, language),
        end=format_date(flt.end, language),
    )
    subject = t(
        language,
        "schedules.mail.subject",
        frequency=t(language, f"schedules.{schedule.frequency}"),
        channel=t(language, f"channel.{flt.channel}"),
        period=period,
    )
    read = (
        t(language, "kpi.not_available")
        if totals["read_pct"] is None
        else format_pct(totals["read_pct"], language)
    )
    body = t(
        language,
        "schedules.mail.body",
        period=period,
        total=format_count(totals["total"], language),
        delivered=format_pct(totals["delivered_pct"], language),
        read=read,
        errors=format_pct(totals["error_pct"], language),
        received=format_count(totals["received"], language),
        link=settings.public_url + DOWNLOAD_PATH + job.id,
        file=job.file_name,
    )
    return subject, body + "\n"


def mail_ready(engine: Engine, settings: Settings, now: datetime) -> int:
    """Mail the recipients of every run whose file is ready; returns how many mails went."""
    with engine.connect() as conn:
        waiting = store.unmailed_runs(conn)
    mailed = 0
    for run in waiting:
        assert run.job_id is not None
        job = jobs.get_job(engine, run.job_id)
        if job is None or job.status in jobs.RUNNING:
            continue
        with engine.connect() as conn:
            schedule = store.get_schedule(conn, run.schedule_id)
        if schedule is None:
            continue
        problem = None
        if job.status != jobs.READY:
            problem = f"export {job.status}" + (f": {job.error}" if job.error else "")
        else:
            scope = AccessScope.of(job.subaccount_ids)
            flt = job.request().report_filter()
            totals = reports.range_totals(reports.daily_series(engine, scope, flt), flt.channel)
            subject, body = mail_text(settings, schedule, job, totals)
            try:
                send_mail(settings, schedule.recipient_list, subject, body)
            except MailError as error:
                problem = str(error)
        with engine.begin() as conn:
            store.update_run(
                conn, run.schedule_id, run.due_at, mailed=problem is None, problem=problem
            )
        if problem is None:
            mailed += 1
        else:
            log.warning("scheduled report %s: %s", run.schedule_id, problem)
    return mailed
