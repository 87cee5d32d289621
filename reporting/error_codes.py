"""What known error codes mean, in the person's language, beside the operator's own text.

WhatsApp Cloud API error codes (Meta's "Error codes" reference for the Cloud API) and the final
states of SMS delivery reports (SMPP's message states, as carriers report them). A code not
listed here shows only the operator's text, as stored.
"""

from __future__ import annotations

from reporting.i18n import N_, t

# (channel, code) -> catalog key of its meaning.
MEANINGS: dict[tuple[str, str], str] = {
    ("whatsapp", "131026"): N_("error_meaning.whatsapp.131026"),
    ("whatsapp", "131047"): N_("error_meaning.whatsapp.131047"),
    ("whatsapp", "131049"): N_("error_meaning.whatsapp.131049"),
    ("whatsapp", "131051"): N_("error_meaning.whatsapp.131051"),
    ("whatsapp", "131053"): N_("error_meaning.whatsapp.131053"),
    ("whatsapp", "130472"): N_("error_meaning.whatsapp.130472"),
    ("whatsapp", "131000"): N_("error_meaning.whatsapp.131000"),
    ("whatsapp", "132000"): N_("error_meaning.whatsapp.132000"),
    ("whatsapp", "132001"): N_("error_meaning.whatsapp.132001"),
    ("whatsapp", "368"): N_("error_meaning.whatsapp.368"),
    ("whatsapp", "470"): N_("error_meaning.whatsapp.470"),
    ("whatsapp", "130429"): N_("error_meaning.whatsapp.130429"),
    ("whatsapp", "131005"): N_("error_meaning.whatsapp.131005"),
    ("whatsapp", "131008"): N_("error_meaning.whatsapp.131008"),
    ("whatsapp", "131009"): N_("error_meaning.whatsapp.131009"),
    ("whatsapp", "131016"): N_("error_meaning.whatsapp.131016"),
    ("whatsapp", "131021"): N_("error_meaning.whatsapp.131021"),
    ("whatsapp", "131031"): N_("error_meaning.whatsapp.131031"),
    ("whatsapp", "131042"): N_("error_meaning.whatsapp.131042"),
    ("whatsapp", "131045"): N_("error_meaning.whatsapp.131045"),
    ("whatsapp", "131048"): N_("error_meaning.whatsapp.131048"),
    ("whatsapp", "131050"): N_("error_meaning.whatsapp.131050"),
    ("whatsapp", "131052"): N_("error_meaning.whatsapp.131052"),
    ("whatsapp", "131056"): N_("error_meaning.whatsapp.131056"),
    ("whatsapp", "131057"): N_("error_meaning.whatsapp.131057"),
    ("whatsapp", "132005"): N_("error_meaning.whatsapp.132005"),
    ("whatsapp", "132007"): N_("error_meaning.whatsapp.132007"),
    ("whatsapp", "132012"): N_("error_meaning.whatsapp.132012"),
    ("whatsapp", "132015"): N_("error_meaning.whatsapp.132015"),
    ("whatsapp", "132016"): N_("error_meaning.whatsapp.132016"),
    ("whatsapp", "133010"): N_("error_meaning.whatsapp.133010"),
    ("sms", "EXPIRED"): N_("error_meaning.sms.EXPIRED"),
    ("sms", "UNDELIV"): N_("error_meaning.sms.UNDELIV"),
    ("sms", "REJECTD"): N_("error_meaning.sms.REJECTD"),
    ("sms", "DELETED"): N_("error_meaning.sms.DELETED"),
    ("sms", "UNKNOWN"): N_("error_meaning.sms.UNKNOWN"),
}


def error_meaning(language: str, channel: str | None, code) -> str | None:
    """What a known code means in the language; None for a code not known on that channel
    (an SMS carrier's own numbers may look like WhatsApp's: the channel tells them apart)."""
    if code is None or channel is None:
        return None
    key = MEANINGS.get((str(channel), str(code).strip().upper()))
    return t(language, key) if key else None


def described_error(language: str, channel: str | None, code, operator_text) -> str:
    """The error as a person reads it: its meaning in their language with the operator's
    own text beside it, or whichever of the two there is."""
    meaning = error_meaning(language, channel, code)
    text = "" if operator_text is None else str(operator_text).strip()
    if text.lower() in ("nan", "none"):
        text = ""
    if meaning and text:
        return t(language, "error_meaning.with_operator_text", meaning=meaning, text=text)
    return meaning or text
