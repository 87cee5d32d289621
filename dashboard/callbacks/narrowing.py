"""The user and campaign lists narrowed to the chosen subaccounts, inside the person's scope."""

from __future__ import annotations

from dash import Input, Output, State

from dashboard import ids
from dashboard.services import Services, Viewer
from data_access.filters import AccessScope

# The lists that follow the chosen subaccounts, with their filter_options() kind.
NARROWED = {ids.FILTER_USER: "users", ids.FILTER_CAMPAIGN: "campaigns"}


def _subaccount_ids(values) -> list[int]:
    out = []
    for value in values or ():
        try:
            out.append(int(value))
        except (TypeError, ValueError):
            continue  # not an id: the browser sent something else, and it narrows nothing
    return out


def _values(chosen) -> list[int]:
    """The ids a list's value holds: a list of them, or one alone; anything else a forged
    request sends holds none."""
    values = chosen if isinstance(chosen, list) else [chosen]
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]


def narrowed_options(
    services: Services, viewer: Viewer, channel: str, subaccounts, chosen: dict | None = None
) -> dict[str, list[dict]]:
    """Options of the user and campaign lists: those with messages in the chosen subaccounts
    the viewer may see (all the viewer's subaccounts when none is chosen). A choice already
    made stays listed (and chosen) after its subaccount is taken out, so the list never drops
    a value silently; its name comes only from the viewer's own scope."""
    wanted = [i for i in _subaccount_ids(subaccounts) if viewer.scope.allows(i)]
    scope = AccessScope.of(wanted) if wanted else viewer.scope
    present = services.filter_options(scope, channel, viewer.timezone)
    everyone = services.filter_options(viewer.scope, channel, viewer.timezone)
    out = {}
    for control, kind in NARROWED.items():
        options = [{"label": name, "value": int(ident)} for ident, name in present[kind]]
        listed = {option["value"] for option in options}
        names = {int(ident): name for ident, name in everyone[kind]}
        for value in _values((chosen or {}).get(control)):
            if value not in listed and value in names:
                options.append({"label": names[value], "value": value})
        out[control] = options
    return out


def narrow(services: Services, subaccounts, channel, users, campaigns):
    viewer = services.current_viewer()
    chosen = {ids.FILTER_USER: users, ids.FILTER_CAMPAIGN: campaigns}
    options = narrowed_options(services, viewer, channel or "whatsapp", subaccounts, chosen)
    return options[ids.FILTER_USER], options[ids.FILTER_CAMPAIGN]


def register_callbacks(app, services: Services) -> None:
    app.callback(
        Output(ids.FILTER_USER, "options", allow_duplicate=True),
        Output(ids.FILTER_CAMPAIGN, "options", allow_duplicate=True),
        Input(ids.FILTER_SUBACCOUNT, "value"),
        State(ids.CHANNEL_TABS, "active_tab"),
        State(ids.FILTER_USER, "value"),
        State(ids.FILTER_CAMPAIGN, "value"),
        prevent_initial_call=True,
    )(
        lambda subaccounts, channel, users, campaigns: narrow(
            services, subaccounts, channel, users, campaigns
        )
    )
