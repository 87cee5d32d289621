"""Phone numbers as people type them, read into the stored numbers they match."""

from __future__ import annotations

import pytest

from data_access.phones import PhoneError, PhoneSearch, parse_phone, region_of_zone

SAO_PAULO = "America/Sao_Paulo"


class TestParsePhone:
    @pytest.mark.parametrize(
        ("typed", "whole", "ending", "shown"),
        [
            # With the country code: one number, whole.
            ("+55 (11) 98765-4321", ("5511987654321",), None, "+55 11 98765-4321"),
            ("0055 11 98765 4321", ("5511987654321",), None, "+55 11 98765-4321"),
            # Mexico's retired mobile 1: both stored forms of the number.
            ("+52 1 81 5232 2984", ("528152322984", "5218152322984"), None, "+52 81 5232 2984"),
            ("+52 81 5232 2984", ("528152322984", "5218152322984"), None, "+52 81 5232 2984"),
            # Argentina's mobile 9, given or not.
            ("+54 9 11 1234 5678", ("5491112345678", "541112345678"), None, "+54 9 11 1234-5678"),
            ("+54 11 1234 5678", ("541112345678", "5491112345678"), None, "+54 11 1234-5678"),
            # Without it: an ending, and the national reading in the viewer's country.
            ("011 98765 4321", ("5511987654321",), "011987654321", "+55 11 98765-4321"),
            ("(11) 98765-4321", (), "11987654321", "11987654321"),
            ("98765-4321", (), "987654321", "987654321"),
            ("81 5232 2984", (), "8152322984", "8152322984"),
            # A trunk prefix with no reading at home: another country's national form.
            (
                "011 15 1234-5678",
                ("5491112345678", "541112345678", "381111512345678"),
                "0111512345678",
                "+54 9 11 1234-5678 / +381 11 1512345678",
            ),
            (
                "044 81 5232 2984",
                ("49448152322984", "528152322984", "5218152322984"),
                "0448152322984",
                "+49 4481 52322984 / +52 81 5232 2984",
            ),
        ],
    )
    def test_what_a_typed_number_matches(self, typed, whole, ending, shown):
        assert parse_phone(typed, SAO_PAULO) == PhoneSearch(whole, ending, shown)

    def test_the_viewer_s_country_reads_its_own_national_forms_first(self):
        assert parse_phone("11 15 1234 5678", "America/Argentina/Buenos_Aires") == PhoneSearch(
            ("5491112345678", "541112345678"), "111512345678", "+54 9 11 1234-5678"
        )
        assert parse_phone("11 15 1234 5678", SAO_PAULO) == PhoneSearch(
            (), "111512345678", "111512345678"
        )

    def test_a_leading_zero_without_a_reading_at_home_is_kept_in_the_ending(self):
        search = parse_phone("01234567", SAO_PAULO)
        assert search.ending == "01234567"
        assert "1234567" not in search.numbers

    def test_str_is_what_was_searched(self):
        assert f"{parse_phone('+55 11 98765 4321')}" == "+55 11 98765-4321"

    @pytest.mark.parametrize(
        ("typed", "code", "params"),
        [
            ("98765-43a1", "phone_character", {"value": "a"}),
            ("+55 11 98765 4321 ext", "phone_character", {"value": "e"}),
            ("٩٨٧٦٥٤٣٢١", "phone_character", {"value": "٩"}),
            ("12345", "phone_length", {"minimum": 6, "maximum": 15, "given": 5}),
            ("9" * 65, "phone_length", {"minimum": 6, "maximum": 15}),
            ("+999 1234567", "phone_invalid", {"value": "+9991234567"}),
            ("+55 123456", "phone_invalid", {"value": "+55123456"}),
        ],
    )
    def test_what_is_no_phone_number_is_refused_with_its_reason(self, typed, code, params):
        with pytest.raises(PhoneError) as raised:
            parse_phone(typed, SAO_PAULO)
        assert (raised.value.code, raised.value.params) == (code, params)


class TestRegionOfZone:
    def test_a_zone_names_its_country(self):
        assert [region_of_zone(z) for z in (SAO_PAULO, "America/Mexico_City", "UTC", None)] == [
            "BR",
            "MX",
            None,
            None,
        ]
