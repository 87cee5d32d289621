"""Export buttons, the exported-reports page and the download route, through the real app."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import replace
from datetime import timedelta
from urllib.parse import quote

import pytest

from app import create_app
from dashboard import ids
from dashboard.callbacks import exports as callbacks
from dashboard.layouts import exports as page
from dashboard.services import Services, Viewer
from exports import jobs
from exports.request import ExportRequest
from exports.worker import ExportPool
from reporting.formatting import format_picker_day
from tests.auth_helpers import add_account, sign_in
from tests.conftest import TIMEZONE
from tests.exports_data import day, load, scope_of


def applied(**state):
    return {"channel": "whatsapp", "view": "detailed", "start": str(day(2)), "end": str(day(1)),
            **state}  # fmt: skip


@pytest.fixture
def settings(store_settings, tmp_path):
    return replace(store_settings, export_dir=tmp_path / "exports")


@pytest.fixture
def store(engine, load_rows):
    load(engine, load_rows)
    return engine


@pytest.fixture
def services(settings, store):
    return Services(settings=settings, engine=store)


def viewer(engine, *names, role="user", user_id=7, username="bia"):
    return Viewer(user_id, username, role, scope_of(engine, *names), "en", TIMEZONE)


def flatten(component) -> list:
    """Every component of a tree, depth first."""
    found = [component]
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            found += flatten(child)
    return found


def text_of(component) -> str:
    parts = []
    for node in flatten(component):
        children = getattr(node, "children", None)
        for child in children if isinstance(children, list) else [children]:
            if isinstance(child, str):
                parts.append(child)
    return " ".join(parts)


def by_id(component, wanted):
    return next(node for node in flatten(component) if getattr(node, "id", None) == wanted)


def test_an_export_click_queues_a_job_and_says_so_at_once(services, store):
    bia = viewer(store, "Brand A")
    with services.acting_as(bia):
        notice = callbacks.request_export(services, "xlsx", applied(), "en")
        again = callbacks.request_export(services, "xlsx", applied(), "en")
    assert "Your XLSX file is being prepared." in text_of(notice)
    assert "This file is already being prepared" in text_of(again)
    listed = jobs.list_jobs(store, jobs.Requester.of(bia))
    assert [(job.format, job.status, job.username) for job in listed] == [("xlsx", "queued", "bia")]
    assert listed[0].subaccount_ids == tuple(sorted(bia.scope.subaccount_ids))


def test_an_export_of_an_unusable_view_explains_why(services, store):
    with services.acting_as(viewer(store, "Brand A")):
        notice = callbacks.request_export(services, "csv", applied(start="2000-01-01"), "en")
    assert "Reports reach back 90 days" in text_of(notice)
    assert jobs.list_jobs(store, jobs.Requester.of(viewer(store, role="admin"))) == []


def test_the_page_lists_jobs_newest_first_and_refreshes_while_running(services, store):
    bia = viewer(store, "Brand A")
    request = ExportRequest.build(applied(), "csv", "en", TIMEZONE)
    first, _ = jobs.create_job(store, jobs.Requester.of(bia), request)
    second, _ = jobs.create_job(
        store, jobs.Requester.of(bia), ExportRequest.build(applied(), "xlsx", "en", TIMEZONE)
    )
    layout = page.layout(services, bia, "en")
    table = by_id(layout, ids.EXPORTS_TABLE)
    rows = flatten(table.children[1])
    row_ids = [node.id for node in rows if str(getattr(node, "id", "")).startswith("export-row")]
    assert row_ids == [f"export-row-{second.id}", f"export-row-{first.id}"]
    assert by_id(layout, ids.EXPORTS_INTERVAL).disabled is False
    assert "Queued" in text_of(table) and "Brand A" in text_of(table)
    assert f"{format_picker_day(day(2), 'en')} – {format_picker_day(day(1), 'en')}" in text_of(
        table
    )

    ExportPool(store, services.settings, workers=1).run_pending()
    with services.acting_as(bia):
        children, stop = callbacks.refresh_table(services, "en")
    assert stop is True
    links = [node for node in flatten(children[1]) if getattr(node, "href", None)]
    assert sorted(link.href for link in links) == sorted(
        f"/exports/download/{job.id}" for job in (first, second)
    )
    assert "Ready" in text_of(children[1]) and "Download" in text_of(children[1])


def test_a_running_job_shows_its_progress(services, store):
    bia = viewer(store, "Brand A")
    jobs.create_job(
        store, jobs.Requester.of(bia), ExportRequest.build(applied(), "csv", "en", TIMEZONE)
    )
    claimed = jobs.claim_next(store, "w")
    jobs.record_progress(store, claimed.id, "w", 1_250, 5_000)
    layout = page.layout(services, bia, "es")
    table = by_id(layout, ids.EXPORTS_TABLE)
    progress = [node for node in flatten(table) if type(node).__name__ == "Progress"]
    assert [(bar.value, bar.label) for bar in progress] == [(25, "25%")]
    assert "Procesando" in text_of(table) and "1.250 de 5.000 filas" in text_of(table)
    assert by_id(layout, ids.EXPORTS_INTERVAL).disabled is False


def test_a_failed_job_shows_its_error_and_runs_again(services, store):
    bia = viewer(store, "Brand A")
    job, _ = jobs.create_job(
        store, jobs.Requester.of(bia), ExportRequest.build(applied(), "csv", "en", TIMEZONE)
    )
    claimed = jobs.claim_next(store, "w")
    jobs.mark_error(store, claimed.id, "w", "interrupted")
    table = by_id(page.layout(services, bia, "pt-BR"), ids.EXPORTS_TABLE)
    assert "Interrompido por uma reinicialização do servidor." in text_of(table)
    assert any(getattr(n, "id", None) == ids.export_rerun(job.id) for n in flatten(table))
    with services.acting_as(bia):
        notice, children, stop = callbacks.run_again(services, job.id, "en")
    assert "Your CSV file is being prepared." in text_of(notice)
    assert stop is False
    listed = jobs.list_jobs(store, jobs.Requester.of(bia))
    assert [j.status for j in listed] == ["queued", "error"]
    assert listed[0].filters == listed[1].filters
    # Someone who may not see the job cannot run it again.
    with services.acting_as(viewer(store, "Brand B", username="bruno", user_id=8)):
        notice, _, _ = callbacks.run_again(services, job.id, "en")
    assert "You cannot export this view." in text_of(notice)


def test_content_disposition_names_the_file_for_every_browser():
    header = callbacks.content_disposition("detalhado_sms_ção.xlsx")
    assert header == (
        'attachment; filename="detalhado_sms_cao.xlsx"; '
        "filename*=UTF-8''" + quote("detalhado_sms_ção.xlsx", safe="")
    )


# ---- through the real app: sign-in, the callback endpoint, the download route ----


@pytest.fixture
def app(settings, store):
    add_account(store, "root", "root-password-1", role="admin")
    add_account(store, "bia", "bia-password-1", subaccount_names=("Brand B",))
    return create_app(settings, store)


def browser(app, username=None, password=None):
    client = app.server.test_client()
    if username:
        assert sign_in(client, username, password).status_code == 302
    return client


def click(client, button, state):
    return client.post(
        "/_dash-update-component",
        json={
            "output": f"{ids.EXPORT_NOTICE}.children",
            "outputs": {"id": ids.EXPORT_NOTICE, "property": "children"},
            "inputs": [
                {
                    "id": ids.EXPORT_CSV,
                    "property": "n_clicks",
                    "value": 1 if button == ids.EXPORT_CSV else None,
                },
                {
                    "id": ids.EXPORT_XLSX,
                    "property": "n_clicks",
                    "value": 1 if button == ids.EXPORT_XLSX else None,
                },
            ],  # fmt: skip
            "changedPropIds": [f"{button}.n_clicks"],
            "state": [
                {"id": ids.APPLIED_FILTERS, "property": "data", "value": state},
                {"id": ids.LANGUAGE_STORE, "property": "data", "value": "en"},
            ],
        },
    )


def test_a_double_click_through_the_callback_endpoint_makes_one_job(app, store):
    client = browser(app, "bia", "bia-password-1")
    first = click(client, ids.EXPORT_CSV, applied())
    second = click(client, ids.EXPORT_CSV, applied())
    assert first.status_code == second.status_code == 200
    assert "being prepared" in first.get_data(as_text=True)
    assert "already being prepared" in second.get_data(as_text=True)
    listed = jobs.list_jobs(store, jobs.Requester(None, "root", True, scope_of(store)))
    assert [(job.username, job.format) for job in listed] == [("bia", "csv")]
    assert listed[0].subaccount_ids == tuple(scope_of(store, "Brand B").subaccount_ids)


def test_downloads_go_only_to_people_who_may_see_the_job(app, store, settings):
    root = jobs.Requester(1, "root", True, scope_of(store))
    request = ExportRequest.build(applied(), "csv", "en", TIMEZONE)
    everything, _ = jobs.create_job(store, root, request)
    brand_b, _ = jobs.create_job(
        store,
        root,
        ExportRequest.build(
            applied(subaccounts=sorted(scope_of(store, "Brand B").subaccount_ids)),
            "csv",
            "en",
            TIMEZONE,
        ),
    )
    ExportPool(store, settings, workers=1).run_pending()
    admin = browser(app, "root", "root-password-1")
    bia = browser(app, "bia", "bia-password-1")
    anonymous = browser(app)

    response = admin.get(f"/exports/download/{everything.id}")
    assert response.status_code == 200
    assert response.data == (settings.exports_path / f"{everything.id}.csv").read_bytes()
    assert response.headers["Content-Disposition"] == callbacks.content_disposition(
        everything.file_name
    )
    assert "filename*=UTF-8''detailed_whatsapp_" in response.headers["Content-Disposition"]
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"

    # bia sees Brand B only: the whole-account file is not hers, the Brand B one is.
    assert bia.get(f"/exports/download/{everything.id}").status_code == 404
    assert bia.get(f"/exports/download/{brand_b.id}").status_code == 200
    assert anonymous.get(f"/exports/download/{brand_b.id}").status_code in (302, 401)
    for forged in ("0" * 32, everything.id + ".csv", everything.id[:-1] + ".", "secret"):
        assert admin.get(f"/exports/download/{forged}").status_code == 404
    # An expired file is gone for everyone.
    jobs.expire_files(store, settings.exports_path, jobs.utcnow() + timedelta(days=8))
    assert admin.get(f"/exports/download/{everything.id}").status_code == 404


def test_the_exports_page_is_served_in_the_shell(app):
    client = browser(app, "root", "root-password-1")
    layout = client.post(
        "/_dash-update-component",
        json={
            "output": (
                f"..{ids.PAGE_CONTENT}.children...{ids.APPLIED_FILTERS}.data"
                f"...{ids.APPLIED_SEARCH}.data.."
            ),
            "outputs": [
                {"id": ids.PAGE_CONTENT, "property": "children"},
                {"id": ids.APPLIED_FILTERS, "property": "data"},
                {"id": ids.APPLIED_SEARCH, "property": "data"},
            ],
            "inputs": [
                {
                    "id": ids.URL_CHANGE,
                    "property": "data",
                    "value": {"changed": [f"{ids.URL}.pathname"]},
                },
                {"id": ids.LANGUAGE_STORE, "property": "data", "value": "es"},
            ],
            "changedPropIds": [f"{ids.URL_CHANGE}.data"],
            "state": [
                {"id": ids.URL, "property": "pathname", "value": "/exports"},
                {"id": ids.URL, "property": "search", "value": ""},
                {"id": ids.APPLIED_FILTERS, "property": "data", "value": None},
                {"id": ids.APPLIED_SEARCH, "property": "data", "value": None},
            ],
        },
    )
    body = json.dumps(layout.get_json(), ensure_ascii=False)
    assert layout.status_code == 200
    assert ids.EXPORTS_TABLE in body and "Reportes exportados" in body
    assert "Todavía no hay exportaciones" in body


def test_the_page_writes_a_jobs_filters_as_the_filter_bar_does(store):
    brand_a, brand_b = sorted(scope_of(store).subaccount_ids)
    state = applied(direction="MT", subaccounts=[brand_a], users=[1, 2], statuses=["error", "read"],
                    content_types=["template"], countries=["ZZ", "MX"],
                    phone="+55 11 98765-4321")  # fmt: skip
    job, _ = jobs.create_job(
        store,
        jobs.Requester.of(viewer(store, role="admin")),
        ExportRequest.build(state, "csv", "es", TIMEZONE),
    )
    names = jobs.subaccount_names(store, job.subaccount_ids)
    start, end = day(2).strftime("%d/%m/%Y"), day(1).strftime("%d/%m/%Y")
    assert page.filter_summary(job, "es", names) == (
        f"{start} – {end} · Enviados (MT) · Subcuenta: {names[brand_a]} · "
        "Usuario: 2 seleccionados · País: México, País desconocido · "
        "Tipo de contenido: Plantilla · Estado: Error, Leído · "
        "Teléfono: +55 11 98765-4321"
    )
    english = page.filter_summary(job, "en", names)
    assert english.startswith(f"{day(2).strftime('%b')} {day(2).day}, {day(2).year} – ")
    # Countries by the names the filter bar gives them, in the page's language.
    assert " · Country: Mexico, Unknown country · " in english
    assert " · País: México, País desconhecido · " in page.filter_summary(job, "pt-BR", names)
    assert job.subaccount_ids == (brand_a,) and brand_b not in names


def test_the_consolidated_zip_is_queued_written_and_downloaded(app, store, settings, services):
    bia = viewer(store, "Brand B")
    with services.acting_as(bia):
        notice = callbacks.request_export(services, "zip", applied(view="consolidated"), "en")
        refused = callbacks.request_export(services, "zip", applied(), "en")
    assert "Your ZIP file is being prepared." in text_of(notice)
    # The detailed view has no sections: nothing queued, a notice instead.
    assert "being prepared" not in text_of(refused)
    (job,) = jobs.list_jobs(store, jobs.Requester.of(bia))
    assert (job.format, job.view) == ("zip", "consolidated")
    ExportPool(store, settings, workers=1).run_pending()
    response = browser(app, "bia", "bia-password-1").get(f"/exports/download/{job.id}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert job.file_name.endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        names = archive.namelist()
    stem = job.file_name.removesuffix(".zip")
    # No operator is known in this store: no operators file, as the view shows none.
    assert names == [f"{stem}.csv", f"{stem}_previous_period.csv", f"{stem}_error_reasons.csv",
                     f"{stem}_delivery_time.csv", f"{stem}_campaigns.csv",
                     f"{stem}_whatsapp_templates.csv", f"{stem}_countries.csv"]  # fmt: skip


def test_the_zip_button_shows_on_the_consolidated_view_only():
    from dashboard.layouts.reports import ZIP_HIDDEN, export_buttons

    assert by_id(export_buttons("es", "consolidated"), ids.EXPORT_ZIP).style == {}
    assert by_id(export_buttons("es", "detailed"), ids.EXPORT_ZIP).style == ZIP_HIDDEN
    assert by_id(export_buttons("pt-BR"), ids.EXPORT_ZIP).children == "Exportar CSV + seções (ZIP)"
