"""The scheduled-reports page: a person's schedules (an admin everyone's), their next and last
runs, a switch for each, and a form that schedules a view from its address."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import html

from clock import utcnow
from dashboard import ids
from dashboard.layouts.managed_list import add_button, field, page
from dashboard.services import Services, Viewer
from data_access import schedules as store
from reporting.formatting import format_datetime
from reporting.i18n import N_, t

COLUMNS = ("view", "when", "format", "recipients", "owner", "next", "last", "action")
COLUMN_KEYS = {
    "view": N_("schedules.column.view"),
    "when": N_("schedules.column.when"),
    "format": N_("schedules.column.format"),
    "recipients": N_("schedules.column.recipients"),
    "owner": N_("schedules.column.owner"),
    "next": N_("schedules.column.next"),
    "last": N_("schedules.column.last"),
    "action": N_("schedules.column.action"),
}
FREQUENCY_KEYS = {
    "daily": N_("schedules.every.daily"),
    "weekly": N_("schedules.every.weekly"),
    "monthly": N_("schedules.every.monthly"),
}
WEEKDAY_KEYS = (
    N_("schedules.weekday.0"),
    N_("schedules.weekday.1"),
    N_("schedules.weekday.2"),
    N_("schedules.weekday.3"),
    N_("schedules.weekday.4"),
    N_("schedules.weekday.5"),
    N_("schedules.weekday.6"),
)


def owner_filter(viewer: Viewer) -> int | None:
    """Whose schedules the viewer manages: their own, or (None) everyone's for an admin."""
    return None if viewer.role == "admin" else (viewer.user_id or -1)


def when_text(schedule: store.Schedule, language: str) -> str:
    hour = f"{schedule.hour:02d}:00"
    if schedule.frequency == "weekly" and schedule.weekday is not None:
        day = t(language, WEEKDAY_KEYS[schedule.weekday])
        return t(language, "schedules.when.weekly", day=day, hour=hour, zone=schedule.timezone)
    if schedule.frequency == "monthly":
        return t(
            language,
            "schedules.when.monthly",
            day=schedule.month_day,
            hour=hour,
            zone=schedule.timezone,
        )
    return t(language, "schedules.when.daily", hour=hour, zone=schedule.timezone)


def _local(value: datetime, language: str, timezone: str) -> str:
    return format_datetime(value, language, timezone)


def schedules_table(services: Services, viewer: Viewer, language: str) -> list:
    now = utcnow()
    with services.engine.connect() as conn:
        found = store.list_schedules(conn, owner_filter(viewer))
        last_runs = {s.id: store.runs_of(conn, s.id)[-1:] for s in found}
    head = html.Thead(html.Tr([html.Th(t(language, COLUMN_KEYS[c]), scope="col") for c in COLUMNS]))
    if not found:
        empty = html.Td(t(language, "schedules.empty"), colSpan=len(COLUMNS), className="muted")
        return [head, html.Tbody(html.Tr(empty))]
    rows = []
    for schedule in found:
        next_run = schedule.next_due(now) if schedule.active else None
        last = last_runs[schedule.id]
        if not last:
            last_text = "—"
        else:
            run = last[0]
            if run.mailed:
                outcome = t(language, "schedules.run.mailed")
            elif run.problem:
                outcome = t(language, "schedules.run.problem", problem=run.problem)
            else:
                outcome = t(language, "schedules.run.running")
            last_text = _local(run.due_at, language, viewer.timezone) + " · " + outcome
        rows.append(
            html.Tr(
                [
                    html.Td(
                        html.A(
                            "?" + schedule.search if schedule.search else "/",
                            href="/?" + schedule.search,
                        ),
                        className="small text-break",
                    ),
                    html.Td(when_text(schedule, language)),
                    html.Td(schedule.format.upper()),
                    html.Td(schedule.recipients.replace(",", ", "), className="small"),
                    html.Td(schedule.owner),
                    html.Td(
                        _local(next_run, language, viewer.timezone)
                        if next_run
                        else t(language, "schedules.paused")
                    ),
                    html.Td(last_text, className="small"),
                    html.Td(
                        dbc.Button(
                            t(language, "schedules.disable")
                            if schedule.active
                            else t(language, "schedules.enable"),
                            id=ids.schedule_toggle(schedule.id),
                            size="sm",
                            color="secondary",
                            outline=True,
                        )
                    ),
                ]
            )
        )
    return [head, html.Tbody(rows)]


def schedule_form(viewer: Viewer, language: str) -> html.Section:
    zone_now = datetime.now(UTC).astimezone(ZoneInfo(viewer.timezone))
    return html.Section(
        [
            html.H2(t(language, "schedules.form.title"), className="h5 mt-4"),
            html.P(
                t(language, "schedules.form.hint", zone=viewer.timezone), className="muted small"
            ),
            dbc.Row(
                [
                    field(
                        language,
                        N_("schedules.form.view"),
                        dbc.Input(
                            id=ids.SCHEDULE_VIEW,
                            type="text",
                            maxLength=4096,
                            placeholder="https://…/?channel=sms&status=error",
                        ),
                        12,
                    ),
                    field(
                        language,
                        N_("schedules.form.every"),
                        dbc.Select(
                            id=ids.SCHEDULE_EVERY,
                            options=[
                                {"label": t(language, key), "value": value}
                                for value, key in FREQUENCY_KEYS.items()
                            ],
                            value="daily",
                        ),
                        2,
                    ),
                    field(
                        language,
                        N_("schedules.form.hour"),
                        dbc.Select(
                            id=ids.SCHEDULE_HOUR,
                            options=[{"label": f"{h:02d}:00", "value": str(h)} for h in range(24)],
                            value="8",
                        ),
                        2,
                    ),
                    field(
                        language,
                        N_("schedules.form.weekday"),
                        dbc.Select(
                            id=ids.SCHEDULE_WEEKDAY,
                            options=[
                                {"label": t(language, key), "value": str(i)}
                                for i, key in enumerate(WEEKDAY_KEYS)
                            ],
                            value=str(zone_now.weekday()),
                        ),
                        2,
                    ),
                    field(
                        language,
                        N_("schedules.form.month_day"),
                        dbc.Input(
                            id=ids.SCHEDULE_MONTH_DAY,
                            type="number",
                            min=1,
                            max=store.MAX_MONTH_DAY,
                            value=1,
                        ),
                        2,
                    ),
                    field(
                        language,
                        N_("schedules.form.format"),
                        dbc.Select(
                            id=ids.SCHEDULE_FORMAT,
                            options=[{"label": f.upper(), "value": f} for f in store.FORMATS],
                            value="xlsx",
                        ),
                        2,
                    ),
                    field(
                        language,
                        N_("schedules.form.recipients"),
                        dbc.Input(id=ids.SCHEDULE_RECIPIENTS, type="text", maxLength=1000),
                        8,
                    ),
                    add_button(language, N_("schedules.form.add"), ids.SCHEDULE_ADD),
                ],
                className="g-2",
            ),
        ]
    )


def layout(services: Services, viewer: Viewer, language: str) -> html.Div:
    return page(
        language,
        N_("schedules.title"),
        N_("schedules.intro"),
        ids.SCHEDULES_NOTICE,
        ids.SCHEDULES_TABLE,
        schedules_table(services, viewer, language),
        schedule_form(viewer, language),
    )
