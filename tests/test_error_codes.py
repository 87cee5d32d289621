"""Known error codes read in the person's language, beside the operator's own text."""

from __future__ import annotations

import pytest

from reporting.error_codes import MEANINGS, described_error, error_meaning
from reporting.languages import LANGUAGES


def test_a_whatsapp_code_in_each_language_keeps_the_operators_text():
    operator = "Message undeliverable"
    assert [described_error(lang, "whatsapp", "131026", operator) for lang in LANGUAGES] == [
        "Mensaje no entregable: el número puede no tener WhatsApp o una versión antigua "
        "(operador: «Message undeliverable»)",
        "Mensagem não entregável: o número pode não ter WhatsApp ou ter uma versão antiga "
        "(operadora: “Message undeliverable”)",
        "Message undeliverable: the number may not be on WhatsApp or may run an old version "
        "(operator: “Message undeliverable”)",
    ]


def test_an_sms_final_state_is_read_by_its_channel_whatever_its_case():
    assert described_error("es", "sms", "undeliv", "") == "El operador no pudo entregarlo"
    assert error_meaning("pt-BR", "sms", "REJECTD") == "A operadora rejeitou"
    # WhatsApp's codes mean nothing on SMS, where carriers number their own errors.
    assert error_meaning("en", "sms", "131026") is None


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        ("999999", "Carrier says no", "Carrier says no"),  # unknown: the operator's text
        (None, None, ""),
        (
            "131047",
            None,
            "More than 24 hours since the customer last wrote: only a template can be sent",
        ),
        (
            "131047",
            "nan",
            "More than 24 hours since the customer last wrote: only a template can be sent",
        ),
    ],
)
def test_what_is_known_and_what_is_not(code, text, expected):
    assert described_error("en", "whatsapp", code, text) == expected


def test_every_code_of_the_domain_notes_is_known():
    whatsapp = {"131026", "131047", "131049", "131051", "131053", "130472", "131000", "132000"}
    whatsapp |= {"132001", "368"}
    sms = {"EXPIRED", "UNDELIV", "REJECTD", "DELETED", "UNKNOWN"}
    assert {("whatsapp", c) for c in whatsapp} | {("sms", c) for c in sms} <= set(MEANINGS)
