"""Reading a phone number as people type it into the search box (with Google's libphonenumber).

Stored numbers are digits with their country code (`5511987654321`). What a person types is
read one of two ways:

- With its country code (`+55 (11) 98765-4321`, or `0055 ...`): that one number, matched whole.
- Without it: the digits match every stored number that ends with them (`98765-4321` finds the
  contact whatever the country), as typed, leading zeros kept (`01234567` is not `1234567`).
  Where the digits also read as a complete national number, a trunk prefix or a national
  mobile form being taken off (`011 98765 4321` in Brazil, `011 15 1234-5678` in Argentina,
  `044 81 5232 2984` in Mexico), that number matches whole too. The viewer's own country (that
  of their time zone) is asked first; other countries only for digits that start with a
  trunk prefix `0` and have no reading in it (a local number is no other country's).

Two national forms name one number twice: Mexico's old mobile `1` after the country code
(`+52 1 81 ...`, still in WhatsApp's ids) and Argentina's mobile `9` (`+54 9 11 ...`, left out
by some SMS carriers). A number of either country matches in both of its forms.

Anything but digits, spaces and `( ) - . /` (and one leading `+`) is refused with the
character named, never dropped: a letter typed by mistake would otherwise search another
number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from babel.core import get_global
from phonenumbers import NumberParseException, PhoneNumberFormat

PHONE_MIN_DIGITS = 6
PHONE_MAX_DIGITS = 15
MAX_TYPED = 64
# Shown when a national form reads as a number in more countries than this: the first ones.
MAX_SHOWN_READINGS = 3
# The characters people put between digits.
SEPARATORS = " \t()-./"
MEXICO, ARGENTINA = 52, 54
# Mexico's dialling prefixes before its 10-digit numbers, retired in 2019 but still typed:
# 044/045 (mobile, local/long distance), 01 (long distance), 1 (mobile, after +52).
MEXICO_PREFIXES = ("044", "045", "01", "1")


class PhoneError(ValueError):
    """A search text that is no phone number; `code` and `params` name the reason."""

    def __init__(self, code: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class PhoneSearch:
    """What a phone search matches: stored numbers equal to one of `whole`, or ending with
    `ending`; `shown` says it back to the person (str() of the search is `shown`).
    Once the store has been asked, `contact_ids` are the stored contacts it matched and
    `day_mask` the bits of the days their messages fall on (data_access/contact_days.py; None
    when not known)."""

    whole: tuple[str, ...] = ()
    ending: str | None = None
    shown: str = ""
    contact_ids: tuple[int, ...] | None = None
    day_mask: int | None = None

    def __str__(self) -> str:
        return self.shown

    @property
    def numbers(self) -> tuple[str, ...]:
        """Every digit string the search compares with (whole numbers and the ending)."""
        return self.whole + ((self.ending,) if self.ending else ())


def region_of_zone(timezone: str | None) -> str | None:
    """The country (ISO 3166 code) of an IANA time zone, if it belongs to one."""
    if not timezone:
        return None
    return get_global("zone_territories").get(timezone)


def _length_error(count: int | None = None) -> PhoneError:
    params = {"minimum": PHONE_MIN_DIGITS, "maximum": PHONE_MAX_DIGITS}
    if count is not None:
        params["given"] = count
    return PhoneError(
        "phone_length",
        f"A phone number has {PHONE_MIN_DIGITS} to {PHONE_MAX_DIGITS} digits.",
        **params,
    )


def _digits_of(text: str) -> tuple[str, bool]:
    """(the digits, whether a country code was given with `+` or `00`); refuses any other
    character, naming it."""
    body = text.strip()
    international = body.startswith("+")
    if international:
        body = body[1:]
    for character in body:
        if not (character.isascii() and character.isdigit()) and character not in SEPARATORS:
            raise PhoneError(
                "phone_character",
                f"{character!r} cannot be part of a phone number.",
                value=character,
            )
    digits = re.sub(r"\D", "", body)
    if not international and digits.startswith("00"):
        # The international call prefix most of the world dials.
        digits, international = digits[2:], True
    return digits, international


def _variants(parsed: phonenumbers.PhoneNumber) -> list[str]:
    """The stored forms of one number: Mexico's and Argentina's mobiles have two."""
    country_code, national = parsed.country_code, _national_digits(parsed)
    assert country_code is not None  # a parsed number always has one
    number = f"{country_code}{national}"
    if country_code == MEXICO and len(national) == 10:
        return [number, f"{MEXICO}1{national}"]
    if country_code == ARGENTINA and national.startswith("9") and len(national) == 11:
        return [number, f"{ARGENTINA}{national[1:]}"]
    if country_code == ARGENTINA and len(national) == 10:
        return [number, f"{ARGENTINA}9{national}"]
    return [number]


def _national_digits(number: phonenumbers.PhoneNumber) -> str:
    zeros = "0" * (number.number_of_leading_zeros or 1) if number.italian_leading_zero else ""
    return f"{zeros}{number.national_number}"


def _mexican(national: str) -> str | None:
    """A Mexican 10-digit number behind one of the retired prefixes, if the digits hold one."""
    for prefix in MEXICO_PREFIXES:
        rest = national[len(prefix) :]
        if national.startswith(prefix) and len(rest) == 10:
            number = phonenumbers.parse(f"+{MEXICO}{rest}")
            if phonenumbers.is_valid_number(number):
                return rest
    return None


def _international(digits: str) -> PhoneSearch:
    try:
        number = phonenumbers.parse(f"+{digits}")
    except NumberParseException:
        number = None
    if number is not None and number.country_code == MEXICO:
        national = _national_digits(number)
        rest = _mexican(national) if national.startswith("1") else None
        if rest is not None:
            number = phonenumbers.parse(f"+{MEXICO}{rest}")
    if number is None or not phonenumbers.is_possible_number(number):
        raise PhoneError(
            "phone_invalid", f"+{digits} is not a possible phone number.", value=f"+{digits}"
        )
    shown = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    return PhoneSearch(whole=tuple(_variants(number)), shown=shown)


def _reading_in(digits: str, region: str) -> phonenumbers.PhoneNumber | None:
    """The complete number the digits are in `region` once a national prefix is taken off or
    a national form rewritten; None when they read as themselves or as nothing valid."""
    if region == "MX":
        rest = _mexican(digits)
        return phonenumbers.parse(f"+{MEXICO}{rest}") if rest else None
    try:
        number = phonenumbers.parse(digits, region)
    except NumberParseException:
        return None
    if _national_digits(number) == digits or not phonenumbers.is_valid_number(number):
        return None
    return number


@lru_cache(maxsize=1)
def _regions_with_prefixes() -> tuple[str, ...]:
    """The countries whose numbers have a national form to take off (their metadata says how),
    and Mexico."""
    regions = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if metadata is not None and (
            metadata.national_prefix_for_parsing or metadata.national_prefix
        ):
            regions.append(region)
    return tuple(sorted({*regions, "MX"}))


def _national(digits: str, home: str | None) -> PhoneSearch:
    readings = [number] if home and (number := _reading_in(digits, home)) else []
    if not readings and digits.startswith("0"):
        readings = [
            number
            for region in _regions_with_prefixes()
            if region != home and (number := _reading_in(digits, region)) is not None
        ]
    whole: list[str] = []
    shown: list[str] = []
    for number in readings:
        for form in _variants(number):
            if form not in whole:
                whole.append(form)
        text = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
        if text not in shown:
            shown.append(text)
    if len(shown) > MAX_SHOWN_READINGS:
        shown = shown[:MAX_SHOWN_READINGS] + ["…"]
    # The digits as typed still match as an ending; a reading, when there is one, is named.
    return PhoneSearch(whole=tuple(whole), ending=digits, shown=" / ".join(shown) or digits)


@lru_cache(maxsize=512)
def _parse(text: str, home: str | None) -> PhoneSearch:
    digits, international = _digits_of(text)
    if not PHONE_MIN_DIGITS <= len(digits) <= PHONE_MAX_DIGITS:
        raise _length_error(len(digits))
    return _international(digits) if international else _national(digits, home)


def parse_phone(text: str, timezone: str | None = None) -> PhoneSearch:
    """The search a typed phone number asks for; `timezone` (the viewer's) names the country
    whose national forms are tried first. Raises PhoneError with a reason a person can act on."""
    text = str(text)
    if len(text) > MAX_TYPED:
        raise _length_error()
    return _parse(text, region_of_zone(timezone))
