"""Every page checked by axe-core (npm, node_modules/) for WCAG 2.1 AA, in the three languages.

One served app and one browser: a signed-in admin walks the pages in each language (reports,
exports, audit, alerts, schedules, profile); the sign-in page is checked before signing in.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from app import create_app
from config import PROJECT_DIR
from dashboard import ids
from reporting.languages import LANGUAGES
from tests.auth_helpers import add_account
from tests.browser import ServedApp, chromium, severe_console_messages, wait_for
from tests.dashboard_data import rows

pytestmark = pytest.mark.browser

AXE = Path(PROJECT_DIR) / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Each violation as rule id and the elements it names, short enough to read in a failure.
RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})
    .then((result) => done(result.violations.map((v) => ({
        rule: v.id,
        impact: v.impact,
        nodes: v.nodes.map((n) => n.target.join(' ') + ' :: ' + n.failureSummary),
    }))))
    .catch((error) => done([{rule: 'axe failed', impact: null, nodes: [String(error)]}]));
"""
# The calendar's month arrows and year box, named in the page's language.
CALENDAR_NAMES = {
    "es": ["Mes anterior", "Mes siguiente", "Año"],
    "pt-BR": ["Mês anterior", "Próximo mês", "Ano"],
    "en": ["Previous month", "Next month", "Year"],
}
IDLE_JS = """
return !document.querySelector('[data-dash-is-loading="true"]')
    && !document.querySelector('._dash-loading-callback');
"""


def violations(driver) -> list[dict]:
    if not driver.execute_script("return typeof axe !== 'undefined';"):
        driver.execute_script(AXE.read_text(encoding="utf-8"))
    driver.set_script_timeout(60)
    return driver.execute_async_script(RUN_AXE, WCAG_21_AA)


def calendar_names(driver) -> list[str | None]:
    """The names of the open calendar's month arrows and year box."""
    arrows = driver.find_elements(By.CSS_SELECTOR, ".dash-datepicker-month-nav")
    year = driver.find_element(
        By.CSS_SELECTOR, ".dash-datepicker-controls input.dash-input-element"
    )
    return [element.get_attribute("aria-label") for element in (*arrows, year)]


def page_language(driver) -> str:
    return driver.find_element(By.TAG_NAME, "html").get_attribute("lang")


@pytest.fixture
def browser():
    driver = chromium()
    yield driver
    driver.quit()


def test_a11y01_every_page_has_no_wcag21_aa_violation_in_each_language(
    browser, duckdb_engine, duckdb_settings, load_rows
):
    assert AXE.is_file(), "axe-core is missing: `make test` installs it (npm ci)"
    load_rows(duckdb_engine, rows())
    add_account(duckdb_engine, "root", "root-password-1", role="admin", language="es")
    served = ServedApp(create_app(duckdb_settings, duckdb_engine).server).start()
    found: dict[str, list[dict]] = {}

    def check(name: str, expected_lang: str, ready) -> None:
        wait_for(ready, 20, f"{name} to be ready")
        wait_for(lambda: browser.execute_script(IDLE_JS), 20, f"{name} to be idle")
        wait_for(lambda: page_language(browser) == expected_lang, 10, f"{name}: <html lang>")
        result = violations(browser)
        if result:
            found[name] = result

    try:
        for language in LANGUAGES:
            browser.get(served.url + f"/login?lang={language}")
            check(
                f"login {language}", language, lambda: browser.find_element(By.ID, ids.LOGIN_SUBMIT)
            )
        browser.find_element(By.ID, ids.LOGIN_USERNAME).send_keys("root")
        browser.find_element(By.ID, ids.LOGIN_PASSWORD).send_keys("root-password-1")
        browser.find_element(By.ID, ids.LOGIN_SUBMIT).click()
        # The sign-in answers (its cookie set) before another page is asked for: asked at once,
        # that page's load cancels the sign-in on a busy machine, and the top bar never comes.
        wait_for(lambda: "/login" not in browser.current_url, 20, "the sign-in to finish")
        for language in LANGUAGES:
            browser.get(served.url + "/")
            choice = wait_for(lambda: browser.find_element(By.ID, ids.LANGUAGE), 20, "the top bar")
            Select(choice).select_by_value(language)
            wait_for(
                lambda language=language: page_language(browser) == language,
                20,
                f"the page in {language}",
            )
            pages = {
                "consolidated": ("/", ids.DAILY_CHART),
                "detailed": ("/?view=detailed", ids.DETAILED_TABLE),
                "exports": ("/exports", ids.PAGE_CONTENT),
                "audit": ("/audit", ids.AUDIT_TABLE),
                "alerts": ("/alerts", ids.ALERT_NAME),
                "schedules": ("/schedules", ids.SCHEDULE_VIEW),
            }
            for name, (path, element) in pages.items():
                browser.get(served.url + path)
                check(
                    f"{name} {language}",
                    language,
                    lambda element=element: browser.find_element(By.ID, element),
                )
            # The calendar open over the consolidated page.
            browser.get(served.url + "/")
            wait_for(
                lambda: browser.find_element(By.ID, ids.DATE_RANGE_START), 20, "the date boxes"
            ).click()
            check(
                f"calendar {language}",
                language,
                lambda: browser.find_element(By.CSS_SELECTOR, ".dash-datepicker-content"),
            )
            wait_for(
                lambda language=language: calendar_names(browser) == CALENDAR_NAMES[language],
                10,
                f"the calendar's names in {language}",
            )
            browser.get(served.url + f"/profile?lang={language}")
            check(
                f"profile {language}", language, lambda: browser.find_element(By.TAG_NAME, "form")
            )
        assert not found, json.dumps(found, indent=1, ensure_ascii=False)
        assert severe_console_messages(browser) == []
    finally:
        served.stop()
