"""Insights in headless Chromium: a day's bar opens the detailed view of that day, Back returns,
a KPI card is a link reached with the keyboard, and the cards read their previous-period
changes in Spanish, English and Brazilian Portuguese."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from dashboard import ids
from dashboard.shell import build_app
from tests.browser import ServedApp, severe_console_messages, wait_for
from tests.dashboard_data import FixedViewerServices, day, rows, viewer_for
from tests.test_browser_dashboard import browser, serve, wait_ready, wait_text  # noqa: F401

pytestmark = pytest.mark.browser

MINUS = "\u2212"

# Yesterday against the day before, worked out by hand on tests/dashboard_data.py: 4 sent
# (1 delivered, 2 errors) against 3 (2 delivered, 1 error); shares 25 % against 66.7 % delivered
# and 50 % against 33.3 % errors; each card's line as a screen reader reads it, the verdict
# in words (a hidden span) after the line the card shows.
CHANGES = {
    "es": {
        ids.KPI_TOTAL: ("+1 vs. período anterior", "neutral"),
        ids.KPI_DELIVERED: (f"{MINUS}1 ({MINUS}41,7 p.p.) vs. período anterior (peor)", "worse"),
        ids.KPI_ERRORS: ("+1 (+16,7 p.p.) vs. período anterior (peor)", "worse"),
    },
    "en": {
        ids.KPI_TOTAL: ("+1 vs previous period", "neutral"),
        ids.KPI_DELIVERED: (f"{MINUS}1 ({MINUS}41.7 pts) vs previous period (worse)", "worse"),
        ids.KPI_ERRORS: ("+1 (+16.7 pts) vs previous period (worse)", "worse"),
    },
    "pt-BR": {
        ids.KPI_TOTAL: ("+1 vs. período anterior", "neutral"),
        ids.KPI_DELIVERED: (f"{MINUS}1 ({MINUS}41,7 p.p.) vs. período anterior (pior)", "worse"),
        ids.KPI_ERRORS: ("+1 (+16,7 p.p.) vs. período anterior (pior)", "worse"),
    },
}


def change_text(driver, card_id: str) -> str:
    # textContent: the verdict said to a screen reader is part of the line.
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e && e.textContent;",
        f"#{card_id} .kpi-change",
    )


def test_ins401_a_bar_opens_its_day_back_returns_and_a_card_opens_its_errors(
    browser,  # noqa: F811
    duckdb_engine,
    duckdb_settings,
    load_rows,
):
    load_rows(duckdb_engine, rows())
    served = serve(duckdb_engine, duckdb_settings)
    try:
        # Yesterday against the day before: one delivered fewer, 41.7 points down (worse).
        yesterday = day(1).isoformat()
        browser.get(f"{served.url}/?start={yesterday}&end={yesterday}")
        wait_ready(browser)
        wait_for(
            lambda: (
                change_text(browser, ids.KPI_DELIVERED)
                == f"{MINUS}1 ({MINUS}41,7 p.p.) vs. período anterior (peor)"
            ),
            10,
            "the delivered card's change",
        )

        # The default view (last 7 days); two days ago's bar opens the detailed view of that
        # day: its 3 sent messages (w1, w2, w3).
        browser.get(served.url + "/")
        wait_ready(browser)
        bars = browser.find_elements(By.CSS_SELECTOR, f"#{ids.DAILY_CHART} g.trace.bars")
        target = bars[0].find_elements(By.CSS_SELECTOR, "g.point path")[4]
        ActionChains(browser).move_to_element(target).click().perform()
        two_days_ago = day(2).isoformat()
        wait_for(
            lambda: f"start={two_days_ago}&end={two_days_ago}" in browser.current_url,
            10,
            "the day in the URL",
        )
        assert "view=detailed" in browser.current_url
        wait_text(browser, f"#{ids.DETAILED_COUNT}", "3 mensajes")

        # Back returns to the consolidated view of the last 7 days.
        browser.back()
        wait_for(lambda: "view=detailed" not in browser.current_url, 10, "the URL before")
        wait_text(browser, f"#{ids.KPI_TOTAL} .kpi-value", "8")

        # The error card is a link (an anchor with its href, so in the tab order): focused,
        # Enter opens the 3 errors of the range.
        link = browser.find_element(By.CSS_SELECTOR, f"#{ids.KPI_ERRORS} a.kpi-link")
        assert link.get_attribute("href").endswith("/?view=detailed&direction=MT&status=error")
        browser.execute_script("arguments[0].focus();", link)
        assert browser.switch_to.active_element == link
        link.send_keys(Keys.ENTER)
        wait_for(lambda: "status=error" in browser.current_url, 10, "the status in the URL")
        wait_text(browser, f"#{ids.DETAILED_COUNT}", "3 mensajes")

        # Back again; an error reason's code opens its failed messages (w3 and w6).
        browser.back()
        wait_for(lambda: "view=detailed" not in browser.current_url, 10, "the URL before")
        code = wait_for(
            lambda: browser.find_elements(By.CSS_SELECTOR, f"#{ids.TOP_ERRORS} a.error-code-link"),
            10,
            "the error reasons' links",
        )[0]
        assert code.text == "131026"
        browser.execute_script(
            "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", code
        )
        code.click()
        wait_for(lambda: "error_code=131026" in browser.current_url, 10, "the code in the URL")
        wait_text(
            browser,
            f"#{ids.DETAILED_COUNT}",
            "2 mensajes · Solo los mensajes con el error 131026.",
        )
        assert severe_console_messages(browser) == []
    finally:
        served.stop()


def change_class(driver, card_id: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, f"#{card_id} .kpi-change").get_attribute("class")


@pytest.mark.parametrize("language", ["es", "en", "pt-BR"])
def test_ins402_the_cards_read_their_previous_period_change_in_each_language(
    browser,  # noqa: F811
    duckdb_engine,
    duckdb_settings,
    load_rows,
    language,
):
    load_rows(duckdb_engine, rows())
    services = FixedViewerServices(
        duckdb_settings, duckdb_engine, viewer_for(duckdb_engine, language=language)
    )
    served = ServedApp(build_app(services).server).start()
    try:
        yesterday = day(1).isoformat()
        browser.get(f"{served.url}/?start={yesterday}&end={yesterday}")
        wait_ready(browser)
        expected = CHANGES[language]
        wait_for(
            lambda: (
                {card: change_text(browser, card) for card in expected}
                == {card: text for card, (text, _) in expected.items()}
            ),
            10,
            "the cards' changes",
        )
        # Coloured by the verdict: a volume is neither better nor worse.
        assert {card: change_class(browser, card) for card in expected} == {
            card: f"kpi-change {verdict}" for card, (_, verdict) in expected.items()
        }
        # The verdict is said to a screen reader (visually hidden), the colour shows it.
        said = browser.find_element(
            By.CSS_SELECTOR, f"#{ids.KPI_DELIVERED} .kpi-change .visually-hidden"
        ).get_attribute("textContent")
        assert said == " " + expected[ids.KPI_DELIVERED][0].rsplit(" ", 1)[1]
        assert severe_console_messages(browser) == []
    finally:
        served.stop()
