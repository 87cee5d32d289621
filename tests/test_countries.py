"""Country, operator and template: worked out when a message is written, kept in the daily
roll-up, counted per country, operator and template, and the country filter; on a hand-built
message set (both stores)."""

from __future__ import annotations

import csv

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from dashboard.callbacks.consolidated import update_consolidated
from dashboard.callbacks.url_state import state_from_search, state_to_search
from dashboard.layouts.filters import country_options
from data_access import reports
from data_access.countries import countries_of, country_of
from data_access.filters import AccessScope, FilterError, ReportFilter
from data_access.loader import load_files
from data_access.tables import contacts, messages
from reporting.view_state import ViewState
from tests.conftest import TIMEZONE
from tests.dashboard_data import (
    FixedViewerServices,
    as_json,
    at,
    day,
    subaccount_ids,
    texts,
    viewer_for,
)
from tests.test_rollup import assert_rollup_matches

WA = {"channel": "whatsapp", "direction": "MT", "content_type": "text"}
TEMPLATE = {**WA, "content_type": "template"}
UNDELIVERABLE = {"status": "error", "error_code": "131026", "error_description": "Undeliverable"}


def rows() -> list[dict]:
    """Yesterday's messages. Brand A: Mexico's old mobile form and its new one, Argentina's
    mobile form and a landline; Brand B: Brazil, a number of no country, Colombia, and a
    message received from Mexico; Brand C (outside a Brand A viewer's scope): Chile."""
    sent, delivered, read = at(1, 10, 1), at(1, 10, 2), at(1, 11)
    return [
        {**TEMPLATE, "message_id": "c1", "subaccount": "Brand A", "phone": "+52 1 55 1234 5678",
         "status": "delivered", "created_at": at(1, 10), "sent_at": sent,
         "delivered_at": delivered, "template": "pedido_enviado", "operator": "Telcel"},
        {**TEMPLATE, "message_id": "c2", "subaccount": "Brand A", "phone": "+525512345678",
         "status": "read", "created_at": at(1, 10), "read_at": read,
         "template": "pedido_enviado"},
        {**TEMPLATE, **UNDELIVERABLE, "message_id": "c3", "subaccount": "Brand A",
         "phone": "+54 9 11 2345-6789", "created_at": at(1, 12), "template": "black_friday",
         "operator": "Personal"},
        {**WA, **UNDELIVERABLE, "message_id": "c4", "subaccount": "Brand A",
         "phone": "+541143210000", "created_at": at(1, 12)},
        {**TEMPLATE, "message_id": "c5", "subaccount": "Brand B", "phone": "+5511987654321",
         "status": "delivered", "created_at": at(1, 9), "delivered_at": delivered,
         "template": "black_friday", "operator": "Vivo"},
        {**WA, "message_id": "c6", "subaccount": "Brand B", "phone": "+999123456789",
         "status": "sent", "created_at": at(1, 9), "sent_at": sent},
        {**WA, "message_id": "c7", "subaccount": "Brand B", "phone": "+573001234567",
         "status": "error", "error_code": "131047", "error_description": "Re-engagement",
         "created_at": at(1, 9)},
        {**WA, "message_id": "c8", "direction": "MO", "subaccount": "Brand B",
         "phone": "+5215512345678", "status": "received", "created_at": at(1, 13)},
        {**TEMPLATE, "message_id": "c9", "subaccount": "Brand C", "phone": "+56912345678",
         "status": "delivered", "created_at": at(1, 9), "delivered_at": delivered,
         "template": "secret_template", "operator": "Entel"},
        {"channel": "sms", "direction": "MT", "content_type": "text", "message_id": "s1",
         "subaccount": "Brand A", "phone": "+5215512345678", "status": "delivered",
         "created_at": at(1, 10), "delivered_at": delivered, "operator": "Telcel"},
    ]  # fmt: skip


@pytest.fixture
def loaded(engine, store_settings, load_rows):
    load_rows(engine, rows())
    return engine, store_settings


def scope_of(engine, *names) -> AccessScope:
    ids = subaccount_ids(engine)
    return AccessScope.of(ids[name] for name in names)


def flt(channel: str = "whatsapp", **fields) -> ReportFilter:
    return ReportFilter.build(channel, day(6), day(0), timezone=TIMEZONE, **fields)


FIGURES = ["total", "sent", "delivered", "read", "errors", "delivered_pct", "read_pct",
           "error_pct", "top_error_code", "top_error_count"]  # fmt: skip


def table_rows(frame: pd.DataFrame, keys: list[str]) -> list[list]:
    return [
        [
            None if value is None or (isinstance(value, float) and pd.isna(value)) else value
            for value in (row[c] for c in [*keys, *FIGURES])
        ]
        for _, row in frame.iterrows()
    ]


# --- the country of a number -------------------------------------------------------------------


def test_cty001_the_country_of_a_number_from_its_calling_code():
    assert [
        country_of(digits)
        for digits in (
            "5215512345678",  # Mexico's old mobile form (+52 1)
            "525512345678",
            "5491123456789",  # Argentina's mobile form (+54 9)
            "541143210000",
            "5511987654321",
            "12025550123",  # +1: the United States, Canada and the Caribbean share it
            "16135550123",
            "18095551234",
            "79161234567",  # +7: Russia and Kazakhstan
            "77011234567",
            "999123456789",  # no country has +999
            "8005550000",  # +800: no country's
            "0119876543",  # a national number, no calling code
        )
    ] == ["MX", "MX", "AR", "AR", "BR", "US", "CA", "DO", "RU", "KZ", "ZZ", "ZZ", "ZZ"]
    assert countries_of(["5511987654321", "999123456789", "5511987654321"]) == ["BR", "ZZ", "BR"]


# Numbers of one country's code, of shared ones (+1, +7, +44), of no country's and of none,
# with a few that are not digits at all or are shorter than a code.
_LEADS = ["55", "52", "54", "1", "7", "44", "800", "999", "0", "", "+", "x"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(_LEADS), st.text(alphabet="0123456789", max_size=12)),
        max_size=40,
    )
)
def test_cty006_countries_of_many_numbers_equals_each_ones_country(parts):
    phones = [lead + rest for lead, rest in parts]
    assert countries_of(phones) == [country_of(phone) for phone in phones]


def test_cty002_written_once_with_the_contact_and_copied_to_its_messages(loaded):
    engine, _ = loaded
    with engine.connect() as conn:
        found = dict(conn.execute(select(contacts.c.phone, contacts.c.country)).all())
        written = dict(
            conn.execute(
                select(messages.c.message_id, messages.c.country).order_by(messages.c.message_id)
            ).all()
        )
        kept = conn.execute(
            select(messages.c.message_id, messages.c.operator, messages.c.template)
            .where(messages.c.operator.is_not(None) | messages.c.template.is_not(None))
            .order_by(messages.c.message_id)
        ).all()
    assert found == {
        "5215512345678": "MX",
        "525512345678": "MX",
        "5491123456789": "AR",
        "541143210000": "AR",
        "5511987654321": "BR",
        "999123456789": "ZZ",
        "573001234567": "CO",
        "56912345678": "CL",
    }
    assert written == {
        "c1": "MX", "c2": "MX", "c3": "AR", "c4": "AR", "c5": "BR", "c6": "ZZ", "c7": "CO",
        "c8": "MX", "c9": "CL", "s1": "MX",
    }  # fmt: skip
    assert [tuple(r) for r in kept] == [
        ("c1", "Telcel", "pedido_enviado"),
        ("c2", None, "pedido_enviado"),
        ("c3", "Personal", "black_friday"),
        ("c5", "Vivo", "black_friday"),
        ("c9", "Entel", "secret_template"),
        ("s1", "Telcel", None),
    ]
    # The roll-up keeps the three as keys and still equals counting the messages.
    assert_rollup_matches(engine)


def test_cty005_a_part_of_many_numbers_works_out_the_new_ones_only(engine, monkeypatch):
    # Over merge.KEYED_LOOKUP_MAX numbers the stored ones are told apart in the engine: 1,000
    # Brazilian numbers stored first, then 3,000 messages naming them and 2,000 new ones
    # (1,000 Argentine, 1,000 Chilean). Every number has one contact with its country, and
    # only the 2,000 new ones had it worked out.
    from data_access import merge
    from data_access.writes import WriteScope, write
    from ingest.merge import merge_rows

    def message(index: int, phone: str) -> dict:
        return {**WA, "message_id": f"m{index}", "subaccount": "Brand A", "phone": phone,
                "status": "sent", "created_at": at(1, 10)}  # fmt: skip

    brazil = [f"+55119{n:08d}" for n in range(1_000)]
    argentina = [f"+54911{n:08d}" for n in range(1_000)]
    chile = [f"+569{n:08d}" for n in range(1_000)]
    scope = WriteScope.account("test")

    def merge_all(batch: list[dict]) -> None:
        merged, problems = write(engine, lambda tx: merge_rows(tx, batch, TIMEZONE, scope, "api"))
        assert (merged, problems) == (len(batch), {})

    merge_all([message(i, p) for i, p in enumerate(brazil)])
    worked_out: list[str] = []

    def counted(phones):
        phones = list(phones)
        worked_out.extend(phones)
        return countries_of(phones)

    monkeypatch.setattr(merge, "countries_of", counted)
    merge_all([message(1_000 + i, p) for i, p in enumerate(brazil + argentina + chile)])
    assert len(worked_out) == 2_000
    with engine.connect() as conn:
        found = conn.execute(
            select(contacts.c.country, func.count(), func.count(func.distinct(contacts.c.phone)))
            .group_by(contacts.c.country)
            .order_by(contacts.c.country)
        ).all()
    assert [tuple(row) for row in found] == [
        ("AR", 1_000, 1_000), ("BR", 1_000, 1_000), ("CL", 1_000, 1_000)
    ]  # fmt: skip


# --- the loader's new optional columns ---------------------------------------------------------

OLD_COLUMNS = (
    "message_id, channel, direction, subaccount, user, campaign, content_type, phone, "
    "contact_name, content, status, error_code, error_description, created_at, sent_at, "
    "delivered_at, read_at, correlation_id"
).split(", ")


def test_cty003_files_without_the_new_columns_still_load(engine, tmp_path):
    path = tmp_path / "old.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=OLD_COLUMNS)
        writer.writeheader()
        for row in rows()[:2]:
            writer.writerow({name: row.get(name, "") for name in OLD_COLUMNS})
    report = load_files(engine, [path], TIMEZONE)
    assert (report.rows_loaded, report.rows_rejected) == (2, 0)
    with engine.connect() as conn:
        found = conn.execute(
            select(m.message_id, m.country, m.operator, m.template).order_by(m.message_id)
        ).all()
    assert [tuple(r) for r in found] == [("c1", "MX", None, None), ("c2", "MX", None, None)]
    # A later file naming the template and operator fills them in; the first one named stays.
    later = tmp_path / "later.csv"
    with later.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*OLD_COLUMNS, "operator", "template"])
        writer.writeheader()
        for row, operator in zip(rows()[:2], ("Telcel", "Movistar"), strict=True):
            writer.writerow(
                {**{name: row.get(name, "") for name in OLD_COLUMNS}, "operator": operator,
                 "template": row["template"]}
            )  # fmt: skip
    load_files(engine, [later], TIMEZONE)
    with engine.connect() as conn:
        found = conn.execute(select(m.message_id, m.operator, m.template).order_by(m.message_id))
        assert [tuple(r) for r in found] == [
            ("c1", "Telcel", "pedido_enviado"),
            ("c2", "Movistar", "pedido_enviado"),
        ]
    assert_rollup_matches(engine)


def test_cty004_an_operator_or_template_too_long_is_a_problem(engine, load_rows):
    from data_access.validation import LoadError

    with pytest.raises(LoadError) as raised:
        load_rows(engine, [{**rows()[0], "operator": "x" * 101, "template": "t" * 513}])
    assert [(p.column, p.reason) for p in raised.value.problems] == [
        ("operator", "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…' is longer than 100 characters"),
        ("template", "'ttttttttttttttttttttttttttttttttttttttt…' is longer than 512 characters"),
    ]


m = messages.c


# --- per country, operator and template --------------------------------------------------------


def test_cty010_country_table(loaded):
    engine, _ = loaded
    frame = reports.country_table(engine, scope_of(engine, "Brand A", "Brand B", "Brand C"), flt())
    assert list(frame.columns) == list(reports.COUNTRY_COLUMNS)
    # Most messages first, then by code, the unknown country last. Argentina and Colombia
    # delivered nothing; the message received from Mexico is not a sent one.
    assert table_rows(frame, ["country"]) == [
        ["AR", 2, 0, 0, 0, 2, 0.0, 0.0, 100.0, "131026", 2],
        ["MX", 2, 2, 2, 1, 0, 100.0, 50.0, 0.0, None, 0],
        ["BR", 1, 1, 1, 0, 0, 100.0, 0.0, 0.0, None, 0],
        ["CL", 1, 1, 1, 0, 0, 100.0, 0.0, 0.0, None, 0],
        ["CO", 1, 0, 0, 0, 1, 0.0, 0.0, 100.0, "131047", 1],
        ["ZZ", 1, 1, 0, 0, 0, 0.0, 0.0, 0.0, None, 0],
    ]
    sms = reports.country_table(engine, scope_of(engine, "Brand A"), flt("sms"))
    assert table_rows(sms, ["country"]) == [["MX", 1, 1, 1, 0, 0, 100.0, None, 0.0, None, 0]]


def test_cty011_operator_table_only_where_operators_are_known(loaded):
    engine, _ = loaded
    frame = reports.operator_table(engine, scope_of(engine, "Brand A", "Brand B"), flt())
    assert table_rows(frame, ["country", "operator"]) == [
        ["AR", "Personal", 1, 0, 0, 0, 1, 0.0, 0.0, 100.0, "131026", 1],
        ["BR", "Vivo", 1, 1, 1, 0, 0, 100.0, 0.0, 0.0, None, 0],
        ["MX", "Telcel", 1, 1, 1, 0, 0, 100.0, 0.0, 0.0, None, 0],
    ]
    assert reports.operator_table(engine, scope_of(engine, "Brand B"), flt(countries=("CO",))).empty


def test_cty012_template_table(loaded):
    engine, _ = loaded
    frame = reports.template_table(engine, scope_of(engine, "Brand A", "Brand B"), flt())
    assert list(frame.columns) == list(reports.TEMPLATE_COLUMNS)
    # black_friday: c3 undeliverable, c5 delivered; pedido_enviado: c1 delivered, c2 read.
    # Brand C's secret_template is outside the scope.
    assert table_rows(frame, ["template"]) == [
        ["black_friday", 2, 1, 1, 0, 1, 50.0, 0.0, 50.0, "131026", 1],
        ["pedido_enviado", 2, 2, 2, 1, 0, 100.0, 50.0, 0.0, None, 0],
    ]
    assert reports.template_table(engine, AccessScope.of([]), flt()).empty


def test_cty013_the_country_filter(loaded):
    engine, _ = loaded
    scope = scope_of(engine, "Brand A", "Brand B", "Brand C")
    totals = {
        countries: reports.range_totals(
            reports.daily_series(engine, scope, flt(countries=countries)), "whatsapp"
        )
        for countries in (("MX",), ("AR", "CO"), ("ZZ",), ("PE",))
    }
    # Mexico: c1, c2 sent and c8 received; Argentina and Colombia: three errors.
    assert [(t["total"], t["delivered"], t["errors"], t["received"]) for t in totals.values()] == [
        (2, 2, 0, 1),
        (3, 0, 3, 0),
        (1, 0, 0, 0),
        (0, 0, 0, 0),
    ]
    errors = reports.top_errors(engine, scope, flt(countries=("AR", "CO")))
    assert [(r.error_code, r.count) for r in errors.itertuples()] == [("131026", 2), ("131047", 1)]
    # Read from the messages when a search needs them: the same rows.
    assert reports.detailed_count(engine, scope, flt(countries=("AR",))) == 2
    phone = flt(countries=("MX",), phone="5512345678")
    assert reports.detailed_count(engine, scope, phone) == 3
    assert reports.detailed_count(engine, scope, flt(countries=("AR",), phone="5512345678")) == 0
    options = reports.filter_options(engine, scope_of(engine, "Brand A"), "whatsapp", TIMEZONE)
    assert options["countries"] == ["AR", "MX"]
    with pytest.raises(FilterError) as raised:
        flt(countries=("mx",))
    assert (raised.value.code, raised.value.field) == ("unknown_country", "country")


def test_cty014_the_country_in_the_address():
    state = state_from_search("?country=MX&country=ZZ&channel=sms")
    assert (state.channel, state.countries) == ("sms", ("MX", "ZZ"))
    assert state_to_search(state) == "?channel=sms&country=MX&country=ZZ"
    assert state.to_filter(TIMEZONE).countries == ("MX", "ZZ")


def test_cty015_country_choices_named_in_each_language():
    codes = ["AR", "BR", "MX", "US", "ZZ"]
    assert [o["label"] for o in country_options(codes, "es")] == [
        "Argentina", "Brasil", "Estados Unidos", "México", "País desconocido",
    ]  # fmt: skip
    assert [o["label"] for o in country_options(codes, "pt-BR")] == [
        "Argentina", "Brasil", "Estados Unidos", "México", "País desconhecido",
    ]  # fmt: skip
    assert [o["label"] for o in country_options(codes, "en")] == [
        "Argentina", "Brazil", "Mexico", "United States", "Unknown country",
    ]  # fmt: skip
    assert [o["value"] for o in country_options(codes, "en")] == ["AR", "BR", "MX", "US", "ZZ"]


# --- the consolidated view's sections ----------------------------------------------------------


def services_for(loaded, names=None, language="es"):
    engine, settings = loaded
    return FixedViewerServices(settings, engine, viewer_for(engine, names, language))


def grid(out: dict, name: str) -> dict:
    return as_json(out[name])["props"]


def test_cty020_country_and_template_tables_in_spanish(loaded):
    out = update_consolidated(services_for(loaded), ViewState().to_dict(), None)
    countries = grid(out, "countries")
    assert [c["headerName"] for c in countries["columnDefs"]] == [
        "País", "Enviados", "% entregados", "% errores", "Error más frecuente",
    ]  # fmt: skip
    assert [
        (r["country"], r["total_text"], r["delivered_pct_text"], r["error_pct_text"])
        for r in countries["rowData"]
    ] == [
        ("Argentina", "2", "0,0\u00a0%", "100,0\u00a0%"),
        ("México", "2", "100,0\u00a0%", "0,0\u00a0%"),
        ("Brasil", "1", "100,0\u00a0%", "0,0\u00a0%"),
        ("Chile", "1", "100,0\u00a0%", "0,0\u00a0%"),
        ("Colombia", "1", "0,0\u00a0%", "100,0\u00a0%"),
        ("País desconocido", "1", "0,0\u00a0%", "0,0\u00a0%"),
    ]
    assert countries["rowData"][0]["top_error"].startswith("131026 · ")
    chart = out["countries_chart"]
    # The biggest country on top (a horizontal chart draws its first category at the bottom).
    assert chart["data"][0]["y"] == [
        "País desconocido", "Colombia", "Chile", "Brasil", "México", "Argentina",
    ]  # fmt: skip
    assert [bar["x"] for bar in chart["data"]] == [
        [0, 0, 1, 1, 2, 0],  # delivered
        [0, 1, 0, 0, 0, 2],  # errors
        [1, 0, 0, 0, 0, 0],  # not delivered yet
    ]
    templates = grid(out, "templates")
    assert [c["headerName"] for c in templates["columnDefs"]] == [
        "Plantilla", "Enviados", "% entregados", "% leídos", "% errores", "Error más frecuente",
    ]  # fmt: skip
    assert [(r["template"], r["total"], r["read_pct_text"]) for r in templates["rowData"]] == [
        ("black_friday", 2, "0,0\u00a0%"),
        ("pedido_enviado", 2, "50,0\u00a0%"),
        ("secret_template", 1, "0,0\u00a0%"),
    ]
    operators = grid(out, "operators")
    assert [(r["country"], r["operator"]) for r in operators["rowData"]] == [
        ("Argentina", "Personal"),
        ("Brasil", "Vivo"),
        ("Chile", "Entel"),
        ("México", "Telcel"),
    ]
    assert (out["countries_hidden"], out["operators_hidden"], out["templates_hidden"]) == (
        False,
        False,
        False,
    )


def test_cty021_english_sms_and_received(loaded):
    services = services_for(loaded, ["Brand A"], language="en")
    sms = update_consolidated(services, ViewState(channel="sms").to_dict(), "en")
    assert [r["country"] for r in grid(sms, "countries")["rowData"]] == ["Mexico"]
    # SMS has no templates.
    assert sms["templates_hidden"] is True
    received = update_consolidated(services, ViewState(direction="MO").to_dict(), "en")
    assert (received["countries_hidden"], received["operators_hidden"]) == (True, True)


def test_cty022_the_sections_keep_the_scope_against_forged_requests(loaded):
    engine, _ = loaded
    ids = subaccount_ids(engine)
    services = services_for(loaded, ["Brand A"])
    out = update_consolidated(services, ViewState().to_dict(), None)
    assert [r["country"] for r in grid(out, "countries")["rowData"]] == ["Argentina", "México"]
    # pedido_enviado: c1, c2; black_friday: c3 (Brand B's c5 is outside the scope).
    assert [(r["template"], r["total"]) for r in grid(out, "templates")["rowData"]] == [
        ("pedido_enviado", 2),
        ("black_friday", 1),
    ]
    # Another subaccount's messages, asked for by id or by their country: nothing.
    forged = update_consolidated(services, ViewState(subaccounts=(ids["Brand C"],)).to_dict(), None)
    assert forged["body_hidden"] is True
    assert texts(forged["countries"]) == ["No hay mensajes enviados en este período."]
    assert texts(forged["templates"]) == ["No se enviaron plantillas en este período."]
    chile = update_consolidated(services, ViewState(countries=("CL",)).to_dict(), None)
    assert chile["body_hidden"] is True
    assert texts(chile["operators"]) == ["No se informó la operadora de estos mensajes."]
    # A country that is no code is refused, in the language.
    bad = update_consolidated(services, {**ViewState().to_dict(), "countries": ["<b>"]}, None)
    assert bad["message"] == "El país «<b>» no es un código de país."
