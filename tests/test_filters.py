"""ReportFilter and detailed-page validation: each bad request raises FilterError with its code."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from data_access import reports
from data_access.filters import AccessScope, FilterError, ReportFilter, today_in
from data_access.phones import PhoneSearch
from tests.conftest import TIMEZONE

TODAY = date(2026, 11, 25)


def build(channel: str = "whatsapp", start=None, end=None, **kwargs) -> ReportFilter:
    return ReportFilter.build(channel, start, end, today=TODAY, **kwargs)


def error_of(**kwargs) -> FilterError:
    with pytest.raises(FilterError) as caught:
        build(**kwargs)
    return caught.value


# --------------------------------------------------------------------------- dates


def test_default_is_the_last_seven_days_including_today():
    flt = build()
    assert (flt.start, flt.end) == (date(2026, 11, 19), date(2026, 11, 25))
    assert flt.days == [date(2026, 11, d) for d in range(19, 26)]
    assert (flt.direction, flt.subaccounts, flt.statuses, flt.phone) == (None, (), (), None)


def test_default_today_is_taken_in_the_account_time_zone():
    flt = ReportFilter.build("sms", timezone=TIMEZONE)
    today = today_in(TIMEZONE)
    assert (flt.start, flt.end) == (today - timedelta(days=6), today)


def test_end_alone_gives_the_seven_days_ending_there():
    flt = build(end="2026-11-10")
    assert (flt.start, flt.end) == (date(2026, 11, 4), date(2026, 11, 10))


def test_ninety_days_back_and_a_ninety_day_span_are_allowed():
    flt = build(start="2026-08-27", end="2026-11-24")
    assert flt.start == TODAY - timedelta(days=90)
    assert len(flt.days) == 90


def test_span_over_ninety_days():
    error = error_of(start="2026-08-27", end="2026-11-25")
    assert (error.code, error.field, error.params["days"]) == ("span_too_long", "start", 90)


def test_start_older_than_ninety_days_before_today():
    error = error_of(start="2026-08-26", end="2026-09-01")
    assert (error.code, error.field) == ("start_too_old", "start")
    assert error.params["earliest"] == date(2026, 8, 27)
    assert "2026-08-27" in str(error)


def test_end_before_start():
    error = error_of(start="2026-11-20", end="2026-11-19")
    assert (error.code, error.field) == ("end_before_start", "end")


def test_end_after_today():
    error = error_of(start="2026-11-20", end="2026-11-26")
    assert (error.code, error.field) == ("end_in_future", "end")


@pytest.mark.parametrize("text", ["2026-02-30", "25/11/2026", "yesterday", "2026-1-5"])
@pytest.mark.parametrize("which", ["start", "end"])
def test_invalid_date_string(which, text):
    error = error_of(**{which: text})
    assert (error.code, error.field, error.params["value"]) == ("bad_date", which, text)


# --------------------------------------------------------------------------- choices


def test_unknown_channel():
    error = error_of(channel="telegram")
    assert (error.code, error.field, error.params["value"]) == (
        "unknown_channel",
        "channel",
        "telegram",
    )


def test_unknown_direction():
    assert error_of(direction="inbound").code == "unknown_direction"


@pytest.mark.parametrize(
    ("channel", "status"),
    [("whatsapp", "lost"), ("whatsapp", "Delivered"), ("sms", "read")],
)
def test_unknown_status(channel, status):
    error = error_of(channel=channel, statuses=["sent", status])
    assert (error.code, error.field, error.params["value"]) == ("unknown_status", "status", status)


@pytest.mark.parametrize(("channel", "content_type"), [("whatsapp", "gif"), ("sms", "image")])
def test_unknown_content_type(channel, content_type):
    error = error_of(channel=channel, content_types=[content_type])
    assert (error.code, error.field) == ("unknown_content_type", "content_type")


def test_ids_that_are_not_numbers():
    assert error_of(subaccounts=["1", "Brand A"]).code == "bad_id"


def test_choices_are_normalised():
    flt = build(
        direction="",
        subaccounts=["3", 1, 3],
        users=[7],
        statuses=["sent", "error", "sent"],
        content_types=["text", "image"],
    )
    assert flt.direction is None
    assert flt.subaccounts == (1, 3)
    assert flt.users == (7,)
    assert flt.statuses == ("error", "sent")
    assert flt.content_types == ("image", "text")


# --------------------------------------------------------------------------- phone


@pytest.mark.parametrize(
    ("typed", "search"),
    [
        ("+55 (11) 98765-4321", PhoneSearch(("5511987654321",), None, "+55 11 98765-4321")),
        ("011 98765 4321", PhoneSearch(("5511987654321",), "011987654321", "+55 11 98765-4321")),
        ("0055 11 98765-4321", PhoneSearch(("5511987654321",), None, "+55 11 98765-4321")),
        ("98765-4321", PhoneSearch((), "987654321", "987654321")),
        ("654321", PhoneSearch((), "654321", "654321")),
        ("123456789012345", PhoneSearch((), "123456789012345", "123456789012345")),
    ],
)
def test_phone_is_read_into_the_numbers_it_matches(typed, search):
    assert build(phone=typed, timezone=TIMEZONE).phone == search


@pytest.mark.parametrize(
    ("typed", "character"),
    [
        ("5511987654321'; DROP TABLE messages; --", "'"),
        ("%98765_4321%", "%"),
        ("98765-432l", "l"),
        ("+55 11 +98765", "+"),
    ],
)
def test_a_character_no_phone_has_is_named_not_dropped(typed, character):
    error = error_of(phone=typed)
    assert (error.code, error.field, error.params) == (
        "phone_character",
        "phone",
        {"value": character},
    )


def test_a_number_with_its_country_code_that_cannot_exist_is_refused():
    error = error_of(phone="+999 1234567")
    assert (error.code, error.field, error.params) == (
        "phone_invalid",
        "phone",
        {"value": "+9991234567"},
    )


@pytest.mark.parametrize(
    ("typed", "given"),
    [("12345", 5), ("+1 (234) 5", 5), ("1234567890123456", 16), ("() - ", 0), ("+", 0)],
)
def test_phone_with_too_few_or_too_many_digits(typed, given):
    error = error_of(phone=typed)
    assert (error.code, error.field) == ("phone_length", "phone")
    assert (error.params["minimum"], error.params["maximum"], error.params["given"]) == (
        6,
        15,
        given,
    )


def test_ten_kilobyte_phone_is_refused():
    error = error_of(phone="9" * 10_240)
    assert (error.code, error.field) == ("phone_length", "phone")
    assert len(str(error)) < 100


def test_date_with_trailing_text_is_refused():
    error = error_of(start="2026-11-20xyz")
    assert (error.code, error.field) == ("bad_date", "start")


def test_empty_phone_means_no_phone_filter():
    assert build(phone="").phone is None


# --------------------------------------------------------------------------- detailed page


@pytest.mark.parametrize(
    ("kwargs", "code", "field"),
    [
        ({"sort": "content; DROP TABLE messages"}, "unknown_sort", "sort"),
        ({"sort": "password_hash"}, "unknown_sort", "sort"),
        ({"offset": -1}, "bad_offset", "offset"),
        ({"limit": 10_000_000}, "bad_page_size", "limit"),
        ({"limit": 0}, "bad_page_size", "limit"),
        ({"limit": 501}, "bad_page_size", "limit"),
    ],
)
def test_detailed_page_arguments(duckdb_engine, kwargs, code, field):
    with pytest.raises(FilterError) as caught:
        reports.detailed_page(duckdb_engine, AccessScope.of([1]), build(), **kwargs)
    assert (caught.value.code, caught.value.field) == (code, field)


def test_largest_page_is_accepted(duckdb_engine):
    page = reports.detailed_page(duckdb_engine, AccessScope.of([1]), build(), limit=500)
    assert (page.total, page.limit, len(page.rows)) == (0, 500, 0)
