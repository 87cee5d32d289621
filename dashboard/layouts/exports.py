"""The exported-reports page: every export the viewer may see, newest first, with its file."""

from __future__ import annotations

from datetime import date

import dash_bootstrap_components as dbc
from babel.numbers import format_decimal
from dash import dcc, html

from dashboard import ids
from dashboard.services import Services, Viewer
from exports import jobs
from reporting.formatting import (
    babel_locale,
    country_name,
    format_count,
    format_datetime,
    format_picker_day,
)
from reporting.i18n import N_, label, t, tn

DOWNLOAD_PATH = "/exports/download/"
REFRESH_MS = 1500
NAMES_SHOWN = 3
STATUS_COLORS = {
    jobs.QUEUED: "secondary",
    jobs.PROCESSING: "info",
    jobs.READY: "success",
    jobs.ERROR: "danger",
    jobs.EXPIRED: "light",
}


def download_href(job_id: str) -> str:
    return DOWNLOAD_PATH + job_id


def any_running(job_list: list[jobs.Job]) -> bool:
    return any(job.status in jobs.RUNNING for job in job_list)


def file_size(size: int | None, language: str) -> str:
    if size is None:
        return "—"
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            value = format_decimal(size / scale, format="#,##0.0", locale=babel_locale(language))
            return f"{value} {unit}"
    return f"{format_count(size, language)} B"


def _capped(listed: list[str], language: str) -> str:
    if not listed:
        return "—"
    shown = ", ".join(listed[:NAMES_SHOWN])
    if len(listed) > NAMES_SHOWN:
        shown += " " + t(language, "more", count=len(listed) - NAMES_SHOWN)
    return shown


def _names(job: jobs.Job, names: dict[int, str], language: str) -> str:
    return _capped(sorted(names.get(i, f"#{i}") for i in job.subaccount_ids), language)


def _day(value, language: str) -> str:
    """A stored ISO day as the period boxes write it; anything else as it is."""
    try:
        return format_picker_day(date.fromisoformat(str(value)), language)
    except ValueError:
        return str(value)


def filter_summary(job: jobs.Job, language: str, names: dict[int, str] | None = None) -> str:
    """The filters of a job in one line, in the words and forms the filter bar shows: period,
    direction, subaccounts by name, how many users and campaigns, countries by their names,
    content types and statuses by their labels, the phone or id searched."""
    filters = job.filters
    names = names or {}
    parts = [f"{_day(filters.get('start'), language)} – {_day(filters.get('end'), language)}"]
    if filters.get("direction"):
        parts.append(t(language, f"direction.{filters['direction']}"))
    chosen = {
        # Only the names the job's own subaccounts give: an id it holds no rows of stays an id.
        "subaccounts": [names.get(i, f"#{i}") for i in filters.get("subaccounts") or []],
        # Users and campaigns are counted, as the filter bar's lists count them: naming them
        # would need the store's names, which the page does not read for every job.
        "users": filters.get("users") or [],
        "campaigns": filters.get("campaigns") or [],
        "countries": [country_name(v, language) for v in filters.get("countries") or []],
        "content_types": [
            label(language, "content_type", v) for v in filters.get("content_types") or []
        ],
        "statuses": [label(language, "status", v) for v in filters.get("statuses") or []],
    }
    for key, title in (
        ("subaccounts", N_("filters.subaccount")),
        ("users", N_("filters.user")),
        ("campaigns", N_("filters.campaign")),
        ("countries", N_("filters.country")),
        ("content_types", N_("filters.content_type")),
        ("statuses", N_("filters.status")),
    ):
        values = chosen[key]
        if not values:
            continue
        if key in ("users", "campaigns"):
            shown = t(language, "dropdown.selected_count", num_selected=len(values))
        else:
            shown = _capped([str(v) for v in values], language)
        parts.append(f"{t(language, title)}: {shown}")
    if filters.get("error_codes"):
        codes = ", ".join(filters["error_codes"])
        parts.append(f"{t(language, 'info.error_codes')}: {codes}")
    for key, title in (
        ("phone", N_("column.phone")),
        ("message_id", N_("info.message_id")),
        ("correlation_id", N_("info.correlation_id")),
    ):
        if filters.get(key):
            parts.append(f"{t(language, title)}: {filters[key]}")
    return " · ".join(parts)


def status_cell(job: jobs.Job, language: str) -> list:
    cell = [
        dbc.Badge(
            t(language, f"export_status.{job.status}"),
            color=STATUS_COLORS[job.status],
            text_color="dark" if job.status == jobs.EXPIRED else None,
            className="export-status",
        )
    ]
    if job.status == jobs.PROCESSING:
        total = job.rows_total or 0
        percent = min(100, int(100 * job.rows_written / total)) if total else 0
        cell.append(dbc.Progress(value=percent, label=f"{percent}%", className="mt-1"))
        if total:
            done = format_count(job.rows_written, language)
            cell.append(
                html.Div(
                    t(language, "progress.rows", done=done, total=format_count(total, language)),
                    className="small muted",
                )
            )
    if job.status == jobs.ERROR and job.error:
        code = job.error if job.error in jobs.ERROR_CODES else "failed"
        cell.append(html.Div(t(language, f"error.{code}"), className="small text-danger"))
    return cell


def actions_cell(job: jobs.Job, language: str) -> list:
    cell = []
    if job.status == jobs.READY:
        cell.append(
            html.A(
                t(language, "action.download"),
                href=download_href(job.id),
                className="btn btn-sm btn-primary me-1",
                title=job.file_name,
            )
        )
    if job.status not in jobs.RUNNING:
        cell.append(
            dbc.Button(
                t(language, "action.run_again"),
                id=ids.export_rerun(job.id),
                size="sm",
                color="secondary",
                outline=True,
            )
        )
    return cell


def job_row(job: jobs.Job, names: dict[int, str], language: str, timezone: str) -> html.Tr:
    report = " · ".join(
        (
            t(language, f"channel.{job.channel}"),
            t(language, f"view.{job.view}"),
            job.format.upper(),
        )
    )
    rows = format_count(job.rows_written, language) if job.status != jobs.QUEUED else "—"
    expires = format_datetime(job.expires_at, language, timezone) if job.expires_at else "—"
    return html.Tr(
        [
            html.Td(format_datetime(job.requested_at, language, timezone)),
            html.Td(
                [
                    html.Div(job.username, className="fw-semibold"),
                    html.Div(_names(job, names, language), className="small muted"),
                ]
            ),
            html.Td(report),
            html.Td(filter_summary(job, language, names), className="small"),
            html.Td(status_cell(job, language)),
            html.Td(rows, className="text-end"),
            html.Td(file_size(job.file_size, language), className="text-end"),
            html.Td(expires),
            html.Td(actions_cell(job, language)),
        ],
        id=f"export-row-{job.id}",
    )


def table_children(services: Services, viewer: Viewer, language: str) -> tuple[list, bool]:
    """The table's header and rows for the viewer, and whether any job is still running."""
    job_list = jobs.list_jobs(services.engine, jobs.Requester.of(viewer))
    names = jobs.subaccount_names(
        services.engine, {i for job in job_list for i in job.subaccount_ids}
    )
    head = html.Thead(
        html.Tr(
            [
                html.Th(t(language, key), scope="col")
                for key in (
                    N_("table.requested"),
                    N_("table.requester"),
                    N_("table.report"),
                    N_("table.filters"),
                    N_("table.status"),
                    N_("table.rows"),
                    N_("table.size"),
                    N_("table.expires"),
                    N_("table.actions"),
                )
            ]
        )
    )
    if job_list:
        body = [job_row(job, names, language, viewer.timezone) for job in job_list]
    else:
        body = [html.Tr(html.Td(t(language, "page.empty"), colSpan=9, className="muted"))]
    return [head, html.Tbody(body)], any_running(job_list)


def layout(services: Services, viewer: Viewer, language: str) -> html.Div:
    children, running = table_children(services, viewer, language)
    return html.Div(
        [
            html.H1(t(language, "page.title"), className="h3 mt-3"),
            html.P(
                tn(
                    language,
                    "page.intro",
                    services.settings.export_expiry_days,
                    days=services.settings.export_expiry_days,
                ),
                className="muted",
            ),
            html.Div(id=ids.EXPORTS_PAGE_NOTICE, role="status"),
            # Ticks only while something is queued or running; the table refresh turns it off.
            dcc.Interval(id=ids.EXPORTS_INTERVAL, interval=REFRESH_MS, disabled=not running),
            html.Div(
                dbc.Table(
                    children,
                    id=ids.EXPORTS_TABLE,
                    hover=True,
                    responsive=False,
                    size="sm",
                    className="exports-table align-middle",
                ),
                className="table-responsive",
            ),
            dcc.Link(t(language, "page.back"), href="/"),
        ],
        className="exports-page",
    )
