"""Export buttons, the exported-reports page's refresh and "run again", and the download route."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, dcc
from dash.exceptions import PreventUpdate
from flask import abort, has_request_context, request, send_file

from dashboard import ids
from dashboard.callbacks.common import language_of, logger, viewer_and_language
from dashboard.layouts import exports as page
from dashboard.services import NotSignedInError, Services
from data_access import audit
from data_access.filters import FilterError
from exports import jobs
from exports.request import MEDIA_TYPES, ExportError, ExportRequest
from reporting.i18n import filter_error_text, t

DOWNLOAD_RULE = page.DOWNLOAD_PATH + "<job_id>"
FORMAT_OF_BUTTON = {ids.EXPORT_CSV: "csv", ids.EXPORT_XLSX: "xlsx", ids.EXPORT_ZIP: "zip"}


def _notice(message: str, language: str, color: str = "info") -> dbc.Alert:
    return dbc.Alert(
        [message, " ", dcc.Link(t(language, "notice.open_exports"), href="/exports")],
        color=color,
        dismissable=True,
        className="py-2 mb-0",
    )


def _audit(services: Services, viewer, action: str, job: jobs.Job) -> None:
    """One audit row for an export of the viewer's, from the request's client address."""
    filters = job.filters
    detail = (
        f"job {job.id}: {job.format} of the {job.view} {job.channel} report, "
        f"{filters.get('start')} to {filters.get('end')}"
    )
    only = job.subaccount_ids[0] if len(job.subaccount_ids) == 1 else None
    with services.engine.begin() as conn:
        audit.record(
            conn,
            actor=viewer.username,
            action=action,
            detail=detail,
            address=request.remote_addr if has_request_context() else None,
            subaccount_id=only,
        )


def _queue(services: Services, viewer, language: str, request_of) -> tuple[dbc.Alert, bool]:
    """Create a job from `request_of()`; the notice to show and whether a job was queued."""
    try:
        request = request_of()
    except FilterError as error:
        return dbc.Alert(filter_error_text(language, error), color="warning"), False
    except ExportError:
        return dbc.Alert(t(language, "notice.failed"), color="warning"), False
    job, created = jobs.create_job(services.engine, jobs.Requester.of(viewer), request)
    if not created:
        return _notice(t(language, "notice.duplicate"), language), False
    _audit(services, viewer, audit.EXPORT_REQUESTED, job)
    return _notice(t(language, "notice.queued", format=job.format.upper()), language), True


def request_export(services: Services, fmt: str, applied: dict | None, stored_language):
    """Queue an export of the view the page shows; returns the notice at once."""
    viewer, language = viewer_and_language(services, stored_language)
    notice, _ = _queue(
        services,
        viewer,
        language,
        lambda: ExportRequest.build(applied or {}, fmt, language, viewer.timezone),
    )
    return notice


def refresh_table(services: Services, stored_language):
    """The history table again, and whether the refresh timer should stop."""
    viewer, language = viewer_and_language(services, stored_language)
    children, running = page.table_children(services, viewer, language)
    return children, not running


def run_again(services: Services, job_id: str, stored_language):
    """Queue the same export again for the viewer; (notice, table, timer disabled)."""
    viewer, language = viewer_and_language(services, stored_language)
    job = jobs.visible_job(services.engine, job_id, jobs.Requester.of(viewer))
    if job is None:
        notice = dbc.Alert(t(language, "notice.not_allowed"), color="warning")
    else:
        notice, _ = _queue(
            services,
            viewer,
            language,
            lambda: ExportRequest.build(job.filters, job.format, job.language, job.timezone),
        )
    children, running = page.table_children(services, viewer, language)
    return notice, children, not running


def content_disposition(file_name: str) -> str:
    """`attachment` with an ASCII fallback name and the exact name per RFC 5987 / 6266."""
    ascii_name = unicodedata.normalize("NFKD", file_name).encode("ascii", "ignore").decode()
    ascii_name = "".join(ch for ch in ascii_name if ch.isprintable() and ch not in '"\\/') or (
        "export"
    )
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name, safe='')}"


def download(services: Services, job_id: str):
    """Send a ready file to a viewer who may see its job; 404 for anything else."""
    try:
        viewer = services.current_viewer()
    except NotSignedInError:
        abort(401)
    job = jobs.visible_job(services.engine, job_id, jobs.Requester.of(viewer))
    if job is None or job.status != jobs.READY:
        abort(404)
    path = job.path(services.settings.exports_path)
    if not path.is_file():
        abort(404)
    response = send_file(
        path, mimetype=MEDIA_TYPES[job.format], as_attachment=True, download_name=job.file_name
    )
    response.headers["Content-Disposition"] = content_disposition(job.file_name)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # The whole file sent; a HEAD, a revalidation or a byte range is no download of its own.
    if request.method == "GET" and response.status_code == 200:
        _audit(services, viewer, audit.EXPORT_DOWNLOADED, job)
    return response


def _on_export_click(services: Services):
    def callback(_csv, _xlsx, applied, stored_language):
        button = ctx.triggered_id
        if button not in FORMAT_OF_BUTTON or not (ctx.triggered and ctx.triggered[0]["value"]):
            raise PreventUpdate
        try:
            return request_export(services, FORMAT_OF_BUTTON[button], applied, stored_language)
        except NotSignedInError:
            raise
        except Exception:
            logger.exception("export request failed")
            viewer = services.current_viewer()
            return dbc.Alert(
                t(language_of(stored_language, viewer), "notice.failed"), color="danger"
            )

    return callback


def _on_zip_click(services: Services):
    """The ZIP button has a callback of its own, so the CSV and Excel buttons' requests keep
    their shape."""
    csv_and_xlsx = _on_export_click(services)

    def callback(clicks, applied, stored_language):
        if not clicks:
            raise PreventUpdate
        return csv_and_xlsx(None, None, applied, stored_language)

    return callback


def _on_rerun_click(services: Services):
    def callback(clicks, stored_language):
        button = ctx.triggered_id
        if not isinstance(button, dict) or not any(clicks or ()):
            raise PreventUpdate
        if not (ctx.triggered and ctx.triggered[0]["value"]):
            raise PreventUpdate
        return run_again(services, str(button.get("job", "")), stored_language)

    return callback


def register_callbacks(app, services: Services) -> None:
    app.callback(
        Output(ids.EXPORT_NOTICE, "children"),
        Input(ids.EXPORT_CSV, "n_clicks"),
        Input(ids.EXPORT_XLSX, "n_clicks"),
        State(ids.APPLIED_FILTERS, "data"),
        State(ids.LANGUAGE_STORE, "data"),
        prevent_initial_call=True,
    )(_on_export_click(services))
    app.callback(
        Output(ids.EXPORT_NOTICE, "children", allow_duplicate=True),
        Input(ids.EXPORT_ZIP, "n_clicks"),
        State(ids.APPLIED_FILTERS, "data"),
        State(ids.LANGUAGE_STORE, "data"),
        prevent_initial_call=True,
    )(_on_zip_click(services))
    app.callback(
        Output(ids.EXPORTS_TABLE, "children"),
        Output(ids.EXPORTS_INTERVAL, "disabled"),
        Input(ids.EXPORTS_INTERVAL, "n_intervals"),
        State(ids.LANGUAGE_STORE, "data"),
        prevent_initial_call=True,
    )(lambda _n, stored_language: refresh_table(services, stored_language))
    app.callback(
        Output(ids.EXPORTS_PAGE_NOTICE, "children"),
        Output(ids.EXPORTS_TABLE, "children", allow_duplicate=True),
        Output(ids.EXPORTS_INTERVAL, "disabled", allow_duplicate=True),
        Input({"type": ids.EXPORT_RERUN, "job": ALL}, "n_clicks"),
        State(ids.LANGUAGE_STORE, "data"),
        prevent_initial_call=True,
    )(_on_rerun_click(services))
    app.server.add_url_rule(
        DOWNLOAD_RULE,
        endpoint="export_download",
        view_func=lambda job_id: download(services, job_id),
    )
