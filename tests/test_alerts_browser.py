"""The alerts and scheduled-reports pages in a real browser: opened from the top bar, a rule
disabled and one added, a view scheduled and paused."""

from __future__ import annotations

from dataclasses import replace

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from dashboard import ids
from dashboard.shell import build_app
from data_access import alerts
from data_access import schedules as store
from data_access.outbound_tables import ensure_tables
from demo.accounts import DEMO_RULE, create_demo_accounts
from ingest.keys import subaccount_id
from tests.auth_helpers import add_account
from tests.browser import ServedApp, chromium, severe_console_messages, wait_for
from tests.dashboard_data import FixedViewerServices, viewer_for

pytestmark = pytest.mark.browser


@pytest.fixture
def browser():
    driver = chromium()
    yield driver
    driver.quit()


def test_al701_an_admin_disables_the_sample_rule_and_adds_one(
    browser, duckdb_engine, duckdb_settings, tmp_path
):
    ensure_tables(duckdb_engine)
    with duckdb_engine.begin() as conn:
        for name in ("Alpha Bank", "Zeta Shop"):
            subaccount_id(conn, name, create=True)
        create_demo_accounts(conn)
    viewer = viewer_for(duckdb_engine, language="en")
    served = ServedApp(
        build_app(FixedViewerServices(duckdb_settings, duckdb_engine, viewer)).server
    )
    served.start()
    try:
        browser.get(served.url + "/")
        link = wait_for(lambda: browser.find_element(By.ID, ids.ALERTS_LINK), 20, "the link")
        assert link.text == "Alerts"
        link.click()
        table = wait_for(lambda: browser.find_element(By.ID, ids.ALERTS_TABLE), 15, "the table")
        assert DEMO_RULE in table.text and "OK" in table.text
        assert "Delivered % < 85.0% in the last 60 min, with at least 50 sent" in table.text
        table.find_element(By.TAG_NAME, "button").click()
        wait_for(
            lambda: "Disabled" in browser.find_element(By.ID, ids.ALERTS_TABLE).text,
            15,
            "the rule disabled",
        )
        assert browser.find_element(By.ID, ids.ALERTS_NOTICE).text == (
            f"Rule “{DEMO_RULE}” is disabled."
        )
        browser.find_element(By.ID, ids.ALERT_NAME).send_keys("Undeliverable")
        Select(browser.find_element(By.ID, ids.ALERT_METRIC)).select_by_value("error_code_count")
        browser.find_element(By.ID, ids.ALERT_ERROR_CODE).send_keys("131026")
        Select(browser.find_element(By.ID, ids.ALERT_COMPARISON)).select_by_value(">=")
        threshold = browser.find_element(By.ID, ids.ALERT_THRESHOLD)
        threshold.clear()
        threshold.send_keys("25")
        browser.find_element(By.ID, ids.ALERT_TARGET).send_keys("ops@example.com")
        browser.find_element(By.ID, ids.ALERT_ADD).click()
        wait_for(
            lambda: "Undeliverable" in browser.find_element(By.ID, ids.ALERTS_TABLE).text,
            15,
            "the new rule",
        )
        assert browser.find_element(By.ID, ids.ALERTS_NOTICE).text == (
            "Rule “Undeliverable” added."
        )
        browser.save_screenshot(str(tmp_path / "alerts.png"))
        assert severe_console_messages(browser) == []
    finally:
        served.stop()
    with duckdb_engine.connect() as conn:
        found = alerts.list_rules(conn)
    assert [(r.name, r.active, r.metric, r.error_code, r.threshold) for r in found] == [
        (DEMO_RULE, False, "delivered_pct", None, 85.0),
        ("Undeliverable", True, "error_code_count", "131026", 25.0),
    ]
    assert len(found[1].subaccount_ids) == 2


def test_al702_a_user_schedules_a_view_and_pauses_it(
    browser, duckdb_engine, duckdb_settings, tmp_path
):
    ensure_tables(duckdb_engine)
    with duckdb_engine.begin() as conn:
        subaccount_id(conn, "Alpha Bank", create=True)
    account = add_account(duckdb_engine, "bea", "bea-password-1", subaccount_names=("Alpha Bank",))
    viewer = replace(viewer_for(duckdb_engine, ["Alpha Bank"], language="en"), user_id=account.id)
    served = ServedApp(
        build_app(FixedViewerServices(duckdb_settings, duckdb_engine, viewer)).server
    )
    served.start()
    try:
        browser.get(served.url + "/")
        link = wait_for(lambda: browser.find_element(By.ID, ids.SCHEDULES_LINK), 20, "the link")
        assert link.text == "Scheduled reports"
        link.click()
        table = wait_for(lambda: browser.find_element(By.ID, ids.SCHEDULES_TABLE), 15, "table")
        assert "No scheduled reports yet." in table.text
        browser.find_element(By.ID, ids.SCHEDULE_VIEW).send_keys(
            served.url + "/?channel=sms&status=error"
        )
        Select(browser.find_element(By.ID, ids.SCHEDULE_EVERY)).select_by_value("monthly")
        day = browser.find_element(By.ID, ids.SCHEDULE_MONTH_DAY)
        day.clear()
        day.send_keys("5")
        browser.find_element(By.ID, ids.SCHEDULE_RECIPIENTS).send_keys("bea@example.com")
        browser.find_element(By.ID, ids.SCHEDULE_ADD).click()
        wait_for(
            lambda: (
                "On day 5 of each month at 08:00"
                in browser.find_element(By.ID, ids.SCHEDULES_TABLE).text
            ),
            15,
            "the new schedule",
        )
        browser.find_element(By.ID, ids.SCHEDULES_TABLE).find_element(By.TAG_NAME, "button").click()
        wait_for(
            lambda: "Paused" in browser.find_element(By.ID, ids.SCHEDULES_TABLE).text,
            15,
            "the schedule paused",
        )
        browser.save_screenshot(str(tmp_path / "schedules.png"))
        assert severe_console_messages(browser) == []
    finally:
        served.stop()
    with duckdb_engine.connect() as conn:
        (made,) = store.list_schedules(conn)
    assert (made.owner, made.search, made.frequency, made.month_day, made.active) == (
        "bea",
        "channel=sms&status=error",
        "monthly",
        5,
        False,
    )
