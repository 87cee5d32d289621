"""The audit-trail page in a real browser: an admin opens it from the top bar and filters it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from sqlalchemy import insert

from dashboard import ids
from dashboard.shell import build_app
from data_access import audit
from data_access.tables import audit_log
from tests.browser import ServedApp, chromium, severe_console_messages, wait_for
from tests.dashboard_data import FixedViewerServices, viewer_for

pytestmark = pytest.mark.browser


@pytest.fixture
def browser():
    driver = chromium()
    yield driver
    driver.quit()


def test_au601_an_admin_reads_and_filters_the_audit_trail(
    browser, duckdb_engine, duckdb_settings, tmp_path
):
    now = datetime.utcnow()
    with duckdb_engine.begin() as conn:
        for actor, action, days in (("ana", audit.SIGN_IN, 3), ("bia", audit.SIGN_IN_FAILED, 1)):
            conn.execute(
                insert(audit_log).values(
                    at=now - timedelta(days=days),
                    actor=actor,
                    action=action,
                    detail="wrong password" if actor == "bia" else "password",
                    address="192.0.2.9",
                )
            )
    viewer = viewer_for(duckdb_engine, language="en")
    served = ServedApp(
        build_app(FixedViewerServices(duckdb_settings, duckdb_engine, viewer)).server
    )
    served.start()
    try:
        browser.get(served.url + "/")
        link = wait_for(lambda: browser.find_element(By.ID, ids.AUDIT_LINK), 20, "the link")
        link.click()
        table = wait_for(lambda: browser.find_element(By.ID, ids.AUDIT_TABLE), 15, "the table")
        assert "Failed sign-in" in table.text and "Sign-in" in table.text
        box = browser.find_element(By.ID, ids.AUDIT_USER)
        box.send_keys("bia", Keys.ENTER)
        row_selector = f"#{ids.AUDIT_TABLE} tbody tr"
        wait_for(
            lambda: len(browser.find_elements(By.CSS_SELECTOR, row_selector)) == 1,
            15,
            "the filtered table",
        )
        [row] = browser.find_elements(By.CSS_SELECTOR, row_selector)
        assert "bia" in row.text and "wrong password" in row.text
        browser.save_screenshot(str(tmp_path / "audit.png"))
        assert severe_console_messages(browser) == []
    finally:
        served.stop()
