"""A restricted user signs in through the real page in headless Chromium and sees their scope."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from app import create_app
from dashboard import ids
from dashboard.layouts.detailed import count_text
from data_access import reports
from data_access.filters import AccessScope, ReportFilter
from reporting.i18n import t as tr
from tests.auth_helpers import ROWS_A, add_account, subaccount_ids, two_brand_rows
from tests.browser import ServedApp, chromium, severe_console_messages, wait_for
from tests.conftest import TIMEZONE

pytestmark = pytest.mark.browser


@pytest.fixture
def browser():
    driver = chromium()
    yield driver
    driver.quit()


def test_au001_a_restricted_user_signs_in_and_sees_only_their_numbers(
    browser, duckdb_engine, duckdb_settings, load_rows
):
    load_rows(duckdb_engine, two_brand_rows())
    add_account(duckdb_engine, "bia", "bia-password-1", subaccount_names=("Brand A",))
    scope = AccessScope.of([subaccount_ids(duckdb_engine)["Brand A"]])
    flt = ReportFilter.build("whatsapp", timezone=TIMEZONE)
    expected = reports.range_totals(reports.daily_series(duckdb_engine, scope, flt), "whatsapp")
    assert (expected["total"], expected["delivered"], expected["errors"]) == (ROWS_A, ROWS_A, 0)

    served = ServedApp(create_app(duckdb_settings, duckdb_engine).server).start()
    try:
        browser.get(served.url + "/")
        wait_for(lambda: "/login" in browser.current_url, what="the sign-in page")
        browser.find_element(By.ID, ids.LOGIN_USERNAME).send_keys("bia")
        browser.find_element(By.ID, ids.LOGIN_PASSWORD).send_keys("wrong-password")
        browser.find_element(By.ID, ids.LOGIN_SUBMIT).click()
        error = wait_for(lambda: browser.find_element(By.ID, ids.LOGIN_ERROR).text)
        # The page speaks the browser's language (Accept-Language) before sign-in.
        language = browser.find_element(By.TAG_NAME, "html").get_attribute("lang")
        assert error == tr(language, "sign_in.bad_credentials")
        browser.find_element(By.ID, ids.LOGIN_PASSWORD).send_keys("bia-password-1")
        browser.find_element(By.ID, ids.LOGIN_SUBMIT).click()

        def kpi(card_id: str) -> str:
            return browser.find_element(By.CSS_SELECTOR, f"#{card_id} .kpi-value").text

        # The cards fill in once the page's callbacks have answered.
        wait_for(lambda: kpi(ids.KPI_TOTAL) == str(expected["total"]), 20, "the KPI total")
        assert kpi(ids.KPI_TOTAL) == str(expected["total"])
        assert kpi(ids.KPI_DELIVERED) == str(expected["delivered"])
        assert kpi(ids.KPI_ERRORS) == str(expected["errors"])
        # The subaccount filter offers the user's own subaccount and nothing else.
        browser.find_element(By.ID, ids.FILTER_SUBACCOUNT).click()
        menu = wait_for(
            lambda: (
                browser.find_element(By.ID, ids.FILTER_SUBACCOUNT).text
                if "Brand A" in browser.page_source
                else None
            ),
            10,
            "the subaccount choices",
        )
        assert menu
        assert "Brand B" not in browser.page_source
        # The page ran under the content security policy without a single violation.
        assert severe_console_messages(browser) == []

        browser.get(served.url + "/logout")
        browser.find_element(By.ID, ids.LOGOUT_SUBMIT).click()
        wait_for(lambda: "signed_out=1" in browser.current_url, what="the signed-out page")
        browser.get(served.url + "/")
        wait_for(lambda: "/login" in browser.current_url, what="the sign-in page again")
        assert severe_console_messages(browser) == []
    finally:
        served.stop()


def test_au002_the_profile_speaks_the_language_chosen_in_the_top_bar(
    browser, duckdb_engine, duckdb_settings, load_rows
):
    load_rows(duckdb_engine, two_brand_rows())
    add_account(duckdb_engine, "bia", "bia-password-1", subaccount_names=("Brand A",))
    served = ServedApp(create_app(duckdb_settings, duckdb_engine).server).start()
    try:
        browser.get(served.url + "/")
        wait_for(lambda: "/login" in browser.current_url, what="the sign-in page")
        browser.find_element(By.ID, ids.LOGIN_USERNAME).send_keys("bia")
        browser.find_element(By.ID, ids.LOGIN_PASSWORD).send_keys("bia-password-1")
        browser.find_element(By.ID, ids.LOGIN_SUBMIT).click()
        # The account says Spanish; English is chosen in the top bar.
        wait_for(lambda: browser.find_elements(By.ID, ids.LANGUAGE), 20, "the top bar")
        Select(browser.find_element(By.ID, ids.LANGUAGE)).select_by_value("en")
        link = wait_for(
            lambda: browser.find_element(By.LINK_TEXT, "My profile"), 20, "the English top bar"
        )
        link.click()
        wait_for(lambda: "/profile" in browser.current_url, what="the profile page")
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
        assert "Visible subaccounts" in browser.page_source
        assert severe_console_messages(browser) == []
    finally:
        served.stop()


def test_au003_a_link_with_an_unknown_sort_and_a_foreign_subaccount_names_both(
    browser, duckdb_engine, duckdb_settings, load_rows
):
    load_rows(duckdb_engine, two_brand_rows())
    add_account(duckdb_engine, "bia", "bia-password-1", subaccount_names=("Brand A",))
    foreign = subaccount_ids(duckdb_engine)["Brand B"]
    served = ServedApp(create_app(duckdb_settings, duckdb_engine).server).start()
    try:
        link = f"/?view=detailed&sort=password_hash&subaccount={foreign}"
        browser.get(served.url + link)
        wait_for(lambda: "/login" in browser.current_url, what="the sign-in page")
        browser.find_element(By.ID, ids.LOGIN_USERNAME).send_keys("bia")
        browser.find_element(By.ID, ids.LOGIN_PASSWORD).send_keys("bia-password-1")
        browser.find_element(By.ID, ids.LOGIN_SUBMIT).click()
        notice = wait_for(
            lambda: browser.find_element(By.ID, ids.FILTER_MESSAGE).text, 20, "the notice"
        )
        assert notice == (
            "El enlace pedía ordenar por «password_hash», que no existe; se muestra el orden "
            "predeterminado. El enlace tenía subcuentas que no puedes ver o que no existen "
            f"({foreign}); se muestra la vista sin ellas."
        )
        # The table of the viewer's own messages, in the default order.
        expected = count_text(ROWS_A, None, "es")
        wait_for(
            lambda: browser.find_element(By.ID, ids.DETAILED_COUNT).text == expected,
            20,
            "the table's count",
        )
        assert severe_console_messages(browser) == []
    finally:
        served.stop()
