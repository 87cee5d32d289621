"""The user and campaign lists narrowed to the chosen subaccounts, inside the viewer's scope."""

from __future__ import annotations

import pytest

from dashboard import ids
from dashboard.callbacks.narrowing import narrowed_options
from tests.dashboard_data import FixedViewerServices, rows, subaccount_ids, viewer_for


@pytest.fixture
def loaded(duckdb_engine, duckdb_settings, load_rows):
    load_rows(duckdb_engine, rows())
    return duckdb_engine, duckdb_settings


def names(options: dict) -> dict:
    return {control: [o["label"] for o in listed] for control, listed in options.items()}


def user_value(services, viewer, label: str) -> int:
    """The value the user list gives the user `label` when no subaccount is chosen."""
    listed = narrowed_options(services, viewer, "whatsapp", [])[ids.FILTER_USER]
    return next(o["value"] for o in listed if o["label"] == label)


def test_lists_follow_the_chosen_subaccounts(loaded):
    engine, settings = loaded
    admin = viewer_for(engine)
    services = FixedViewerServices(settings, engine, admin)
    known = subaccount_ids(engine)
    assert names(narrowed_options(services, admin, "whatsapp", [])) == {
        ids.FILTER_USER: ["ana", "bruno"],
        ids.FILTER_CAMPAIGN: ["Black Friday"],
    }
    assert names(narrowed_options(services, admin, "whatsapp", [known["Brand B"]])) == {
        ids.FILTER_USER: ["bruno"],
        ids.FILTER_CAMPAIGN: [],
    }


def test_a_subaccount_outside_the_scope_narrows_nothing_and_reveals_nothing(loaded):
    engine, settings = loaded
    limited = viewer_for(engine, ["Brand A"])
    services = FixedViewerServices(settings, engine, limited)
    known = subaccount_ids(engine)
    # Brand B is not theirs: the lists stay those of their own scope, without Brand B's user,
    # even when the browser claims Brand B's user as chosen.
    admin = viewer_for(engine)
    bruno = user_value(FixedViewerServices(settings, engine, admin), admin, "bruno")
    options = narrowed_options(
        services, limited, "whatsapp", [known["Brand B"], "x"], {ids.FILTER_USER: [bruno]}
    )
    assert names(options) == {ids.FILTER_USER: ["ana"], ids.FILTER_CAMPAIGN: ["Black Friday"]}


def test_a_choice_made_stays_listed_after_its_subaccount_goes(loaded):
    # Chosen as a list or as one id alone. A forged request sent True (which equals 1) as the
    # chosen users: neither a traceback nor a user listed by a boolean.
    engine, settings = loaded
    admin = viewer_for(engine)
    services = FixedViewerServices(settings, engine, admin)
    known = subaccount_ids(engine)
    ana = user_value(services, admin, "ana")
    for chosen, listed in (
        ([ana], ["bruno", "ana"]),
        (True, ["bruno"]),
        ([True, "x", None], ["bruno"]),
        (ana, ["bruno", "ana"]),
    ):
        options = narrowed_options(
            services, admin, "whatsapp", [known["Brand B"]], {ids.FILTER_USER: chosen}
        )
        assert names(options)[ids.FILTER_USER] == listed
