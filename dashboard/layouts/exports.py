"""The exported-reports page: every export the viewer may see, newest first, with its file."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from babel.numbers import format_decimal
from dash import dcc, html

from dashboard import ids
from dashboard.formatting import babel_locale, format_count, format_datetime
from dashboard.services import Services, Viewer
from exports import jobs
from exports.catalog import text

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


def _names(job: jobs.Job, names: dict[int, str], language: str) -> str:
    listed = sorted(names.get(i, f"#{i}") for i in job.subaccount_ids)
    if not listed:
        return "—"
    shown = ", ".join(listed[:NAMES_SHOWN])
    if len(listed) > NAMES_SHOWN:
        shown += " " + text(language, "more", count=len(listed) - NAMES_SHOWN)
    return shown


def filter_summary(job: jobs.Job, language: str) -> str:
    """The filters of a job in one line: range, direction, chosen values, phone."""
    filters = job.filters
    parts = [f"{filters.get('start')} – {filters.get('end')}"]
    if filters.get("direction"):
        parts.append(text(language, f"direction.{filters['direction']}"))
    for key, label in (
        ("subaccounts", "filters.subaccount"),
        ("users", "filters.user"),
        ("campaigns", "filters.campaign"),
        ("content_types", "filters.content_type"),
        ("statuses", "filters.status"),
    ):
        values = filters.get(key) or []
        if values:
            shown = (
                ", ".join(str(v) for v in values)
                if key in ("content_types", "statuses")
                else str(len(values))
            )
            parts.append(f"{text(language, label)}: {shown}")
    if filters.get("phone"):
        parts.append(f"{text(language, 'column.phone')}: {filters['phone']}")
    return " · ".join(parts)


def status_cell(job: jobs.Job, language: str) -> list:
    cell = [
        dbc.Badge(
            text(language, f"status.{job.status}"),
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
                    text(language, "progress.rows", done=done, total=format_count(total, language)),
                    className="small muted",
                )
            )
    if job.status == jobs.ERROR and job.error:
        code = job.error if job.error in jobs.ERROR_CODES else "failed"
        cell.append(html.Div(text(language, f"error.{code}"), className="small text-danger"))
    return cell


def actions_cell(job: jobs.Job, language: str) -> list:
    cell = []
    if job.status == jobs.READY:
        cell.append(
            html.A(
                text(language, "action.download"),
                href=download_href(job.id),
                className="btn btn-sm btn-primary me-1",
                title=job.file_name,
            )
        )
    if job.status not in jobs.RUNNING:
        cell.append(
            dbc.Button(
                text(language, "action.run_again"),
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
            text(language, f"channel.{job.channel}"),
            text(language, f"view.{job.view}"),
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
            html.Td(filter_summary(job, language), className="small"),
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
                html.Th(text(language, key), scope="col")
                for key in (
                    "table.requested",
                    "table.requester",
                    "table.report",
                    "table.filters",
                    "table.status",
                    "table.rows",
                    "table.size",
                    "table.expires",
                    "table.actions",
                )
            ]
        )
    )
    if job_list:
        body = [job_row(job, names, language, viewer.timezone) for job in job_list]
    else:
        body = [html.Tr(html.Td(text(language, "page.empty"), colSpan=9, className="muted"))]
    return [head, html.Tbody(body)], any_running(job_list)


def layout(services: Services, viewer: Viewer, language: str) -> html.Div:
    children, running = table_children(services, viewer, language)
    return html.Div(
        [
            html.H1(text(language, "page.title"), className="h3 mt-3"),
            html.P(
                text(language, "page.intro", days=services.settings.export_expiry_days),
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
            dcc.Link(text(language, "page.back"), href="/"),
        ],
        className="exports-page",
    )
