"""The period boxes: the dates they show when Apply is clicked are the dates applied."""

from __future__ import annotations

import pytest
from dash import no_update
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from dashboard import ids
from dashboard.callbacks.filters import box_date, update_view
from dashboard.shell import build_app
from data_access import reports
from data_access.filters import FilterError, ReportFilter
from reporting.formatting import format_count
from reporting.view_state import ViewState
from tests.browser import ServedApp, chromium, severe_console_messages, wait_for
from tests.conftest import TIMEZONE
from tests.dashboard_data import FixedViewerServices, day, rows, viewer_for
from tests.test_dashboard_filters import pending

CARDS = ("total", "sent", "delivered", "errors", "received", "read")
# The days on the daily chart's axis, as the figure holds them.
DAILY_DAYS_JS = "return document.querySelector('#daily-chart .js-plotly-plot').data[0].x;"
# The cards and charts are drawn and no callback is pending.
READY_JS = """
const q = (s) => document.querySelector(s);
return !!q('#kpi-total .kpi-value') && !!q('#daily-chart g.trace.bars')
    && !!q('#date-range-start') && !q('[data-dash-is-loading="true"]')
    && !q('._dash-loading-callback');
"""


@pytest.fixture
def services(duckdb_engine, duckdb_settings, load_rows):
    load_rows(duckdb_engine, rows())
    return FixedViewerServices(duckdb_settings, duckdb_engine, viewer_for(duckdb_engine))


def es_date(value) -> str:
    return value.strftime("%d/%m/%Y")


def en_date(value) -> str:
    return f"{value:%b} {value.day}, {value.year}"


def apply_with_boxes(services, start_text, end_text, language=None, **controls) -> dict:
    """Apply as the page sends it: the picker's value and the text its boxes show."""
    state = ViewState(start=day(6).isoformat(), end=day(0).isoformat())
    boxes = {"clicks": 1, "start": start_text, "end": end_text}
    return update_view(
        services, ids.APPLY_FILTERS, **pending(state, language, apply=boxes, **controls)
    )


class TestBoxDate:
    def test_dr219_each_language_reads_the_picker_s_own_format(self):
        assert box_date("05/11/2025", "start", "es") == "2025-11-05"
        assert box_date("5/11/2025", "start", "pt-BR") == "2025-11-05"
        assert box_date("Nov 5, 2025", "start", "en") == "2025-11-05"
        assert box_date(" 2025-11-05 ", "end", "es") == "2025-11-05"
        assert box_date("  ", "end", "en") is None

    def test_dr220_text_that_is_not_a_date_names_itself(self):
        with pytest.raises(FilterError) as raised:
            box_date("32/11/2025", "end", "es")
        assert (raised.value.code, raised.value.field, raised.value.params) == (
            "bad_date",
            "end",
            {"value": "32/11/2025"},
        )
        # Day first in Spanish: 11/25/2025 is no date there.
        with pytest.raises(FilterError):
            box_date("11/25/2025", "start", "es")


class TestApplyReadsTheBoxes:
    def test_dr221_the_typed_range_is_applied_and_given_to_the_picker(self, services):
        out = apply_with_boxes(services, es_date(day(3)), es_date(day(2)))
        assert (out["applied"]["start"], out["applied"]["end"]) == (
            day(3).isoformat(),
            day(2).isoformat(),
        )
        assert out["search"] == f"?start={day(3).isoformat()}&end={day(2).isoformat()}"
        assert (out["start"], out["end"]) == (day(3).isoformat(), day(2).isoformat())
        assert out["consolidated_request"]["start"] == day(3).isoformat()
        assert out["error_date_range"] == ""

    def test_dr222_boxes_showing_the_picker_s_value_leave_the_picker_alone(self, services):
        out = apply_with_boxes(services, es_date(day(6)), es_date(day(0)), direction="MT")
        assert out["applied"]["direction"] == "MT"
        assert out["search"] == f"?start={day(6).isoformat()}&end={day(0).isoformat()}&direction=MT"
        assert out["start"] is no_update and out["end"] is no_update

    def test_dr223_english_boxes(self, services):
        out = apply_with_boxes(services, en_date(day(4)), en_date(day(1)), language="en")
        assert (out["applied"]["start"], out["applied"]["end"]) == (
            day(4).isoformat(),
            day(1).isoformat(),
        )

    def test_dr224_a_box_that_is_no_date_is_explained_and_nothing_applies(self, services):
        out = apply_with_boxes(services, "20/11", es_date(day(2)))
        assert out["error_date_range"] == "«20/11» no es una fecha válida."
        assert out["applied"] is no_update and out["search"] is no_update
        assert out["start"] is no_update
        out = apply_with_boxes(services, en_date(day(2)), "Nov 40, 2025", language="en")
        assert out["error_date_range"] == "“Nov 40, 2025” is not a valid date."

    def test_dr225_typed_dates_are_checked_like_any_other(self, services):
        out = apply_with_boxes(services, es_date(day(1)), es_date(day(3)), language="pt-BR")
        assert out["error_date_range"] == "A data final é anterior à inicial."
        assert out["applied"] is no_update


class TestHalfARange:
    def test_dr226_a_start_without_an_end_is_explained_in_each_language(self, services):
        outs = {
            language: apply_with_boxes(services, start, "", language=language)
            for language, start in (
                ("es", es_date(day(3))),
                ("pt-BR", es_date(day(3))),
                ("en", en_date(day(3))),
            )
        }
        assert {language: out["error_date_range"] for language, out in outs.items()} == {
            "es": "Falta la fecha final del período: elígela y vuelve a aplicar.",
            "pt-BR": "Falta a data final do período: escolha-a e aplique de novo.",
            "en": "The date range has no end date: choose one and apply again.",
        }
        for out in outs.values():
            assert out["applied"] is no_update and out["search"] is no_update
            assert out["consolidated_request"] is no_update and out["start"] is no_update

    def test_dr227_an_end_without_a_start_is_explained_in_each_language(self, services):
        texts = {
            language: apply_with_boxes(services, "", end, language=language)["error_date_range"]
            for language, end in (
                ("es", es_date(day(2))),
                ("pt-BR", es_date(day(2))),
                ("en", en_date(day(2))),
            )
        }
        assert texts == {
            "es": "Falta la fecha inicial del período: elígela y vuelve a aplicar.",
            "pt-BR": "Falta a data inicial do período: escolha-a e aplique de novo.",
            "en": "The date range has no start date: choose one and apply again.",
        }

    def test_dr228_half_a_range_in_the_picker_s_value_is_refused_too(self, services):
        state = ViewState()
        out = update_view(
            services, ids.APPLY_FILTERS, **pending(state, start=day(3).isoformat(), end=None)
        )
        assert out["error_date_range"] == (
            "Falta la fecha final del período: elígela y vuelve a aplicar."
        )
        assert out["applied"] is no_update

    def test_dr229_two_empty_boxes_apply_the_default_range_and_show_it(self, services):
        state = ViewState(start=day(3).isoformat(), end=day(2).isoformat())
        boxes = {"clicks": 2, "start": "", "end": " "}
        out = update_view(services, ids.APPLY_FILTERS, **pending(state, apply=boxes))
        assert out["error_date_range"] == ""
        assert (out["applied"]["start"], out["applied"]["end"]) == (None, None)
        assert (out["start"], out["end"]) == (day(6).isoformat(), day(0).isoformat())


@pytest.fixture
def browser():
    driver = chromium()
    yield driver
    driver.quit()


@pytest.fixture
def served(duckdb_engine, duckdb_settings, load_rows):
    load_rows(duckdb_engine, rows())
    app = build_app(FixedViewerServices(duckdb_settings, duckdb_engine, viewer_for(duckdb_engine)))
    served = ServedApp(app.server).start()
    yield served
    served.stop()


def type_into(driver, box_id: str, text: str) -> None:
    """Replace a box's text the way a person does: click, select all, type (no Enter, no Tab)."""
    box = driver.find_element(By.ID, box_id)
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(text) if text else box.send_keys(Keys.BACKSPACE)


def box_text(driver, box_id: str) -> str:
    return driver.find_element(By.ID, box_id).get_attribute("value")


def wait_ready(driver) -> None:
    wait_for(lambda: driver.execute_script(READY_JS), 20, "the page to be ready")


def kpi(driver, card_id: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, f"#{card_id} .kpi-value").text


def expected_cards(engine, flt: ReportFilter) -> dict[str, str]:
    """The cards' numbers in Spanish, from the data layer."""
    scope = viewer_for(engine).scope
    totals = reports.range_totals(reports.daily_series(engine, scope, flt), flt.channel)
    return {key: format_count(totals[key], "es") for key in CARDS}


def card_texts(driver) -> dict[str, str]:
    return {key: kpi(driver, f"kpi-{key}") for key in CARDS}


@pytest.mark.browser
def test_dr404_dates_typed_in_the_boxes_are_applied_on_apply(browser, served, duckdb_engine):
    browser.get(served.url + "/")
    wait_ready(browser)
    default = ReportFilter.build("whatsapp", timezone=TIMEZONE)
    assert box_text(browser, ids.DATE_RANGE_START) == es_date(default.start)
    assert kpi(browser, ids.KPI_TOTAL) == "8"

    type_into(browser, ids.DATE_RANGE_START, es_date(day(3)))
    type_into(browser, ids.DATE_RANGE_END, es_date(day(2)))
    browser.find_element(By.ID, ids.APPLY_FILTERS).click()

    wait_for(
        lambda: f"start={day(3).isoformat()}&end={day(2).isoformat()}" in browser.current_url,
        15,
        "the typed range in the URL",
    )
    typed = ReportFilter.build("whatsapp", start=day(3), end=day(2), timezone=TIMEZONE)
    expected = expected_cards(duckdb_engine, typed)
    assert expected["total"] == "3"
    wait_for(lambda: kpi(browser, ids.KPI_TOTAL) == "3", 15, "the cards of the typed range")
    wait_ready(browser)
    assert card_texts(browser) == expected
    assert browser.execute_script(DAILY_DAYS_JS) == [day(3).isoformat(), day(2).isoformat()]
    assert box_text(browser, ids.DATE_RANGE_START) == es_date(day(3))
    assert box_text(browser, ids.DATE_RANGE_END) == es_date(day(2))
    assert browser.find_element(By.ID, ids.error_for(ids.DATE_RANGE)).text == ""
    assert severe_console_messages(browser) == []


@pytest.mark.browser
def test_dr405_half_a_range_is_explained_and_not_applied(browser, served):
    browser.get(served.url + "/")
    wait_ready(browser)
    url = browser.current_url
    cards = card_texts(browser)
    message = browser.find_element(By.ID, ids.error_for(ids.DATE_RANGE))

    # A day chosen in the calendar starts a new range: the end box empties. Today is in the
    # second month shown (the calendar opens on last month and this one).
    browser.find_element(By.ID, ids.DATE_RANGE_START).click()
    today = wait_for(
        lambda: [
            cell
            for cell in browser.find_elements(
                By.CSS_SELECTOR,
                ".dash-datepicker-calendar:last-of-type td.dash-datepicker-calendar-date-inside"
                ":not(.dash-datepicker-calendar-date-disabled)",
            )
            if cell.text == str(day(0).day)
        ],
        10,
        "today in the calendar",
    )[0]
    today.click()
    wait_for(lambda: box_text(browser, ids.DATE_RANGE_END) == "", 10, "the end box to empty")
    assert box_text(browser, ids.DATE_RANGE_START) == es_date(day(0))
    browser.find_element(By.ID, ids.APPLY_FILTERS).click()
    wait_for(
        lambda: message.text == "Falta la fecha final del período: elígela y vuelve a aplicar.",
        10,
        "the missing end to be explained",
    )
    wait_ready(browser)
    assert browser.current_url == url and card_texts(browser) == cards

    # An end without a start.
    type_into(browser, ids.DATE_RANGE_END, es_date(day(1)))
    type_into(browser, ids.DATE_RANGE_START, "")
    browser.find_element(By.ID, ids.APPLY_FILTERS).click()
    wait_for(
        lambda: message.text == "Falta la fecha inicial del período: elígela y vuelve a aplicar.",
        10,
        "the missing start to be explained",
    )
    wait_ready(browser)
    assert browser.current_url == url and card_texts(browser) == cards

    # Both dates: the message goes and the range applies.
    type_into(browser, ids.DATE_RANGE_START, es_date(day(2)))
    browser.find_element(By.ID, ids.APPLY_FILTERS).click()
    wait_for(
        lambda: f"start={day(2).isoformat()}&end={day(1).isoformat()}" in browser.current_url,
        15,
        "the whole range in the URL",
    )
    wait_for(lambda: message.text == "", 10, "the message to go")
    assert severe_console_messages(browser) == []
