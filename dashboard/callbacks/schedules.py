"""The scheduled-reports page: schedule a view from its address, pause or resume a schedule."""

from __future__ import annotations

from urllib.parse import urlsplit

import dash_bootstrap_components as dbc

from clock import utcnow
from dashboard import ids
from dashboard.callbacks import managed_list
from dashboard.callbacks.common import viewer_and_language
from dashboard.layouts import schedules as page
from dashboard.services import Services
from data_access import schedules as store
from data_access.filters import FilterError, today_in
from exports.request import ExportError, ExportRequest
from notify.schedules import run_state
from reporting.i18n import N_, filter_error_text, has, t
from reporting.url_query import MAX_QUERY_LENGTH

# The words of ScheduleError codes (data_access/schedules.py) the form can meet.
ERROR_KEYS = (
    N_("schedules.error.recipients"),
    N_("schedules.error.hour"),
    N_("schedules.error.weekday"),
    N_("schedules.error.month_day"),
    N_("schedules.error.frequency"),
    N_("schedules.error.format"),
)


def query_of(address: str) -> str:
    """The query string of a pasted address, or of a bare query string."""
    text = (address or "").strip()[:MAX_QUERY_LENGTH]
    if "?" in text or "://" in text or text.startswith("/"):
        return urlsplit(text).query
    return text


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def add_schedule(services: Services, stored_language, values: dict):
    """(notice, table) after scheduling the view at the address given, for the viewer."""
    viewer, language = viewer_and_language(services, stored_language)

    def refused(text: str):
        return dbc.Alert(text, color="warning"), page.schedules_table(services, viewer, language)

    if viewer.user_id is None:
        return refused(t(language, "schedules.error.no_account"))
    search = query_of(str(values.get("view") or ""))
    hour = _int(values.get("hour"))
    frequency = str(values.get("every") or "")
    try:
        # The view is checked now, as a run today would check it.
        today = today_in(viewer.timezone)
        ExportRequest.build(run_state(search, today), "csv", language, viewer.timezone, today)
        with services.engine.begin() as conn:
            store.create_schedule(
                conn,
                owner_id=viewer.user_id,
                owner=viewer.username,
                search=search,
                format=str(values.get("format") or ""),
                frequency=frequency,
                hour=hour if hour is not None else -1,
                weekday=_int(values.get("weekday")),
                month_day=_int(values.get("month_day")),
                timezone=viewer.timezone,
                language=language,
                recipients=str(values.get("recipients") or ""),
                now=utcnow(),
            )
    except FilterError as error:
        return refused(filter_error_text(language, error))
    except ExportError:
        return refused(t(language, "schedules.error.view"))
    except store.ScheduleError as error:
        key = f"schedules.error.{error.code}"
        return refused(t(language, key) if has(key) else str(error))
    return (
        dbc.Alert(t(language, "schedules.added"), color="success"),
        page.schedules_table(services, viewer, language),
    )


def toggle_schedule(services: Services, stored_language, schedule_id: int):
    """(notice, table) after pausing or resuming a schedule the viewer may manage."""
    viewer, language = viewer_and_language(services, stored_language)
    owner = page.owner_filter(viewer)
    with services.engine.begin() as conn:
        schedule = store.get_schedule(conn, schedule_id)
        if schedule is None or (owner is not None and schedule.owner_id != owner):
            return (
                dbc.Alert(t(language, "schedules.not_found"), color="warning"),
                page.schedules_table(services, viewer, language),
            )
        store.set_active(conn, schedule.id, not schedule.active)
    if schedule.active:
        notice = t(language, "schedules.paused_notice")
    else:
        notice = t(language, "schedules.resumed_notice")
    return dbc.Alert(notice, color="info"), page.schedules_table(services, viewer, language)


FORM_FIELDS = {
    "view": ids.SCHEDULE_VIEW,
    "every": ids.SCHEDULE_EVERY,
    "hour": ids.SCHEDULE_HOUR,
    "weekday": ids.SCHEDULE_WEEKDAY,
    "month_day": ids.SCHEDULE_MONTH_DAY,
    "format": ids.SCHEDULE_FORMAT,
    "recipients": ids.SCHEDULE_RECIPIENTS,
}


def register_callbacks(app, services: Services) -> None:
    managed_list.register(
        app,
        notice=ids.SCHEDULES_NOTICE,
        table=ids.SCHEDULES_TABLE,
        add_button=ids.SCHEDULE_ADD,
        form_fields=FORM_FIELDS,
        toggle_type=ids.SCHEDULE_TOGGLE,
        row_key="schedule",
        add=lambda language, values: add_schedule(services, language, values),
        toggle=lambda language, schedule_id: toggle_schedule(services, language, schedule_id),
    )
