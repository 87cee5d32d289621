"""Exports in a real browser: click Export, see the notice, watch the job finish on /exports."""

from __future__ import annotations

from dataclasses import replace

import pytest
from selenium.webdriver.common.by import By

from dashboard import ids
from dashboard.shell import build_app
from exports import jobs
from exports.worker import ExportPool
from tests.browser import ServedApp, chromium, severe_console_messages, wait_for
from tests.dashboard_data import FixedViewerServices, viewer_for
from tests.exports_data import load

pytestmark = pytest.mark.browser


@pytest.fixture
def browser():
    driver = chromium()
    yield driver
    driver.quit()


def test_ex501_export_from_the_view_and_download_from_the_history(
    browser, duckdb_engine, duckdb_settings, load_rows, tmp_path
):
    load(duckdb_engine, load_rows)
    settings = replace(duckdb_settings, export_dir=tmp_path / "exports")
    viewer = viewer_for(duckdb_engine, language="en")
    served = ServedApp(build_app(FixedViewerServices(settings, duckdb_engine, viewer)).server)
    served.start()
    pool = None
    try:
        browser.get(served.url + "/?view=detailed")
        button = wait_for(lambda: browser.find_element(By.ID, ids.EXPORT_XLSX), 20, "the button")
        wait_for(lambda: button.is_enabled(), 20, "the page to be ready")
        button.click()
        button.click()  # a double click makes one job
        notice = wait_for(
            lambda: browser.find_element(By.ID, ids.EXPORT_NOTICE).text, 15, "the notice"
        )
        # The notice answers the last click: the job was queued, or it already was.
        assert notice.startswith(
            ("Your XLSX file is being prepared.", "This file is already being prepared;")
        )
        requester = jobs.Requester.of(viewer)
        listed = wait_for(lambda: jobs.list_jobs(duckdb_engine, requester), 10, "the job")
        assert [(job.format, job.status) for job in listed] == [("xlsx", "queued")]

        browser.find_element(By.ID, ids.EXPORTS_LINK).click()
        table = wait_for(lambda: browser.find_element(By.ID, ids.EXPORTS_TABLE), 15, "the table")
        assert "Queued" in table.text
        # The page refreshes by itself once the worker has written the file.
        pool = ExportPool(duckdb_engine, settings, workers=1, poll_seconds=0.1).start()
        link = wait_for(
            lambda: browser.find_element(
                By.CSS_SELECTOR, f"#{ids.EXPORTS_TABLE} a[href^='/exports/download/']"
            ),
            30,
            "the download link",
        )
        assert link.get_attribute("href").endswith(f"/exports/download/{listed[0].id}")
        assert len(browser.find_elements(By.CSS_SELECTOR, f"#{ids.EXPORTS_TABLE} tbody tr")) == 1
        assert "Ready" in browser.find_element(By.ID, ids.EXPORTS_TABLE).text
        browser.save_screenshot(str(tmp_path / "exports.png"))
        assert severe_console_messages(browser) == []
    finally:
        if pool is not None:
            pool.stop()
        served.stop()


def test_ex502_the_zip_of_sections_from_the_consolidated_view_only(
    browser, duckdb_engine, duckdb_settings, load_rows, tmp_path
):
    load(duckdb_engine, load_rows)
    settings = replace(duckdb_settings, export_dir=tmp_path / "exports")
    viewer = viewer_for(duckdb_engine, language="es")
    served = ServedApp(build_app(FixedViewerServices(settings, duckdb_engine, viewer)).server)
    served.start()
    try:
        browser.get(served.url + "/?view=consolidated")
        button = wait_for(lambda: browser.find_element(By.ID, ids.EXPORT_ZIP), 20, "the button")
        wait_for(lambda: button.is_displayed() and button.is_enabled(), 20, "the page")
        assert button.text == "Exportar CSV + secciones (ZIP)"
        button.click()
        notice = wait_for(
            lambda: browser.find_element(By.ID, ids.EXPORT_NOTICE).text, 15, "the notice"
        )
        assert notice.startswith("Estamos preparando tu archivo ZIP.")
        listed = jobs.list_jobs(duckdb_engine, jobs.Requester.of(viewer))
        assert [(job.format, job.view) for job in listed] == [("zip", "consolidated")]
        # The detailed view has no sections: the button goes with the consolidated view.
        browser.find_element(
            By.XPATH, f"//*[@id='{ids.REPORT_TABS}']//a[normalize-space()='Detallado']"
        ).click()
        wait_for(lambda: not button.is_displayed(), 10, "the button to hide")
        assert browser.find_element(By.ID, ids.EXPORT_CSV).is_displayed()
        assert severe_console_messages(browser) == []
    finally:
        served.stop()
