"""Which page the URL asks for, built in the viewer's language, and the language switch."""

from __future__ import annotations

from dataclasses import replace

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.callbacks.common import (
    applied_state,
    language_choice,
    logger,
    viewer_and_language,
)
from dashboard.callbacks.consolidated import consolidated_content
from dashboard.callbacks.detailed import table_content
from dashboard.callbacks.narrowing import narrowed_options
from dashboard.callbacks.url_state import page_from_search, state_from_search, state_to_search
from dashboard.layouts import alerts as alerts_layout
from dashboard.layouts import audit as audit_layout
from dashboard.layouts import exports as exports_layout
from dashboard.layouts import reports, shell
from dashboard.layouts import schedules as schedules_layout
from dashboard.layouts.filters import STATE_FIELDS, dropdown_options
from dashboard.services import Services, Viewer
from data_access.domain import CONTENT_TYPES, statuses_for
from data_access.filters import FilterError, phone_search, today_in
from data_access.reports import SORT_COLUMNS
from reporting.i18n import N_, label, t
from reporting.languages import normalize_language
from reporting.view_state import ViewState

# Pages of other areas shown inside the shell: path -> layout(services, viewer, language).
OTHER_PAGES = {
    shell.EXPORTS_PATH: exports_layout.layout,
    shell.AUDIT_PATH: audit_layout.layout,
    shell.ALERTS_PATH: alerts_layout.layout,
    shell.SCHEDULES_PATH: schedules_layout.layout,
}
SEARCH_PROP = f"{ids.URL}.search"
URL_PROPS = frozenset({f"{ids.URL}.pathname", SEARCH_PROP})
URL_CHANGE_PROP = f"{ids.URL_CHANGE}.data"
# A value from a link is named in a notice; a long one is cut to this many characters.
NAMED_VALUE_LENGTH = 40


def usable_state(state: ViewState, timezone: str) -> tuple[ViewState, bool]:
    """(the state, True) when it can run, else (the default view of its channel, False)."""
    try:
        if state.phone:
            phone_search(state.phone, timezone)
        state.to_filter(timezone)
        return state, True
    except FilterError:
        channel = state.channel if state.channel in CONTENT_TYPES else ViewState().channel
        return ViewState(channel=channel, view=state.view), False


def with_known_sort(state: ViewState) -> tuple[ViewState, str | None]:
    """(the state, None) when its order is a known column, else (the state in the default
    order, the value that was dropped)."""
    if state.sort in SORT_COLUMNS:
        return state, None
    default = ViewState()
    return replace(state, sort=default.sort, descending=default.descending), state.sort


def with_known_choices(
    state: ViewState, options: dict[str, list[dict]]
) -> tuple[ViewState, tuple[int, ...]]:
    """Drop chosen ids the viewer has no name for (outside their scope, the window, or not
    existing); also returns the subaccount ids dropped, which a notice names."""
    known = {
        field: {option["value"] for option in options[control_id]}
        for control_id, field in STATE_FIELDS.items()
        if field in ("subaccounts", "users", "campaigns", "countries")
    }
    kept = ViewState.from_dict(
        {
            **state.to_dict(),
            **{
                field: [v for v in getattr(state, field) if v in allowed]
                for field, allowed in known.items()
            },
        }
    )
    dropped = tuple(v for v in state.subaccounts if v not in known["subaccounts"])
    return kept, dropped


def _named(value: str) -> str:
    return value if len(value) <= NAMED_VALUE_LENGTH else value[: NAMED_VALUE_LENGTH - 1] + "…"


def reports_page(services: Services, viewer: Viewer, language: str, search: str | None):
    """The reports screen for the view in the query string, and the state it applies."""
    timezone = viewer.timezone
    message = ""
    try:
        state = state_from_search(search)
    except FilterError:
        state = ViewState()
        message = t(language, "filter_error.url")
    state, usable = usable_state(state, timezone)
    notices = []
    if not usable:
        message = t(language, "filter_error.url")
    state, dropped_sort = with_known_sort(state)
    if dropped_sort is not None:
        notices.append(t(language, "filter_error.url_sort", value=_named(dropped_sort)))
    raw_options = services.filter_options(viewer.scope, state.channel, timezone)
    options = dropdown_options(raw_options, language)
    state, dropped_subaccounts = with_known_choices(state, options)
    if dropped_subaccounts:
        values = ", ".join(str(v) for v in dropped_subaccounts)
        notices.append(t(language, "filter_error.url_subaccounts", values=values))
    message = " ".join(text for text in (message, *notices) if text)
    if state.subaccounts:
        chosen = {ids.FILTER_USER: list(state.users), ids.FILTER_CAMPAIGN: list(state.campaigns)}
        options.update(narrowed_options(services, viewer, state.channel, state.subaccounts, chosen))
    # A chosen status or content type that merely has no messages yet stays choosable.
    for control_id, field, kind, valid in (
        (ids.FILTER_STATUS, "statuses", "status", statuses_for(state.channel)),
        (ids.FILTER_CONTENT_TYPE, "content_types", "content_type", CONTENT_TYPES[state.channel]),
    ):
        present = {option["value"] for option in options[control_id]}
        options[control_id] = options[control_id] + [
            {"label": label(language, kind, value), "value": value}
            for value in getattr(state, field)
            if value in valid and value not in present
        ]
    flt = state.to_filter(timezone)
    if state.view == "consolidated":
        content = consolidated_content(services, viewer, language, state)
    else:
        content = table_content(services, viewer, language, state, page_from_search(search))
    columns = services.table_columns(viewer)
    page = reports.page(
        state,
        flt,
        options,
        language,
        today_in(timezone),
        message,
        content,
        columns,
        zones=(services.settings.account_timezone, timezone),
    )
    return page, state


def render_page(
    services: Services,
    pathname: str | None,
    search: str | None,
    stored_language: str | None,
    applied: dict | None,
    triggers: frozenset[str] = frozenset(),
    applied_search: str | None = None,
):
    """(page, applied state dict) for the URL; a URL change that is only the applied view's own
    query string (written by Apply, tabs, search or the table's pages: `applied_search`)
    changes nothing."""
    path = (pathname if isinstance(pathname, str) else "/").rstrip("/") or "/"
    if path == "/" and triggers == {SEARCH_PROP} and applied is not None:
        try:
            if state_from_search(search) == applied_state(applied) and page_from_search(
                search
            ) == page_from_search(applied_search):
                raise PreventUpdate
        except FilterError:
            pass
    try:
        viewer, language = viewer_and_language(services, stored_language)
    except Exception:
        # Without a viewer there is no frame to show: only the notice, in the browser's choice.
        logger.exception("no viewer for page %s", path)
        fallback = stored_language.get("language") if isinstance(stored_language, dict) else None
        return shell.bare_notice(normalize_language(fallback), "error.generic"), no_update
    try:
        if path == "/":
            page, state = reports_page(services, viewer, language, search)
            return shell.frame(viewer, language, path, page), state.to_dict()
        if path in OTHER_PAGES:
            body = OTHER_PAGES[path](services, viewer, language)
            back = shell.REPORTS_PATH + _search_of(applied)
            return shell.frame(viewer, language, path, body, back), no_update
        body = shell.notice_page(language, N_("page.not_found"))
    except Exception:
        # Logged here with the cause; the page only says that something went wrong.
        logger.exception("page %s could not be built", path)
        body = shell.notice_page(language, N_("error.generic"))
    return shell.frame(viewer, language, path, body), no_update


def _search_of(applied: dict | None, page_number: int = 0) -> str:
    """The query string of the last applied view, to return to it from another page."""
    try:
        return state_to_search(applied_state(applied), page_number) if applied else ""
    except FilterError:
        return ""


def choose_language(services: Services, value: str | None) -> dict:
    return language_choice(value, services.current_viewer())


def url_triggers(change: dict | None, triggered: list[str]) -> frozenset[str]:
    """The URL and language props that changed, with the URL's own as the browser listed them
    in its URL_CHANGE message (see URL_GATE)."""
    props: set[str] = set()
    for prop in triggered:
        if prop == URL_CHANGE_PROP:
            changed = change.get("changed") if isinstance(change, dict) else None
            props.update(p for p in changed or () if p in URL_PROPS)
        else:
            props.add(prop)
    return frozenset(props)


def page_and_state(
    services: Services,
    change: dict | None,
    stored_language,
    pathname: str | None,
    search: str | None,
    applied: dict | None,
    triggered: list[str],
    applied_search: str | None = None,
):
    """render_page's outputs, and the query string of the state it applied with the table's
    page (URL_GATE compares the URL with it)."""
    page, state = render_page(
        services,
        pathname,
        search,
        stored_language,
        applied,
        url_triggers(change, triggered),
        applied_search,
    )
    if state is no_update:
        return page, state, no_update
    return page, state, _search_of(state, page_from_search(search))


# In the browser: a URL change is passed on to the page callback unless it is the query string
# Apply, the tabs or the phone search just wrote for the view the page already shows. Those
# are most URL changes, and asking the server would only hear that nothing changes.
URL_GATE = r"""function(pathname, search, appliedSearch) {
    const changed = window.dash_clientside.callback_context.triggered.map(
        function (item) { return item.prop_id; }
    );
    const path = (pathname || '/').replace(/\/+$/, '') || '/';
    if (changed.length === 1 && changed[0] === 'SEARCH_PROP' && path === '/'
            && search === appliedSearch) {
        return window.dash_clientside.no_update;
    }
    return {changed: changed};
}""".replace("SEARCH_PROP", SEARCH_PROP)


def register_callbacks(app, services: Services) -> None:
    app.clientside_callback(
        URL_GATE,
        Output(ids.URL_CHANGE, "data"),
        Input(ids.URL, "pathname"),
        Input(ids.URL, "search"),
        State(ids.APPLIED_SEARCH, "data"),
    )
    app.callback(
        Output(ids.PAGE_CONTENT, "children"),
        Output(ids.APPLIED_FILTERS, "data"),
        Output(ids.APPLIED_SEARCH, "data"),
        Input(ids.URL_CHANGE, "data"),
        Input(ids.LANGUAGE_STORE, "data"),
        State(ids.URL, "pathname"),
        State(ids.URL, "search"),
        State(ids.APPLIED_FILTERS, "data"),
        State(ids.APPLIED_SEARCH, "data"),
    )(
        lambda change, language, pathname, search, applied, applied_search: page_and_state(
            services,
            change,
            language,
            pathname,
            search,
            applied,
            list(ctx.triggered_prop_ids),
            applied_search,
        )
    )
    app.callback(
        Output(ids.LANGUAGE_STORE, "data"),
        Input(ids.LANGUAGE, "value"),
        prevent_initial_call=True,
    )(lambda value: choose_language(services, value))
    # The browser tab's title follows the language of the page's brand name, and <html>'s
    # `lang` the language of the page's frame.
    app.clientside_callback(
        """function(children) {
            // After the new page is drawn, so its brand name is the one read.
            window.setTimeout(function () {
                const brand = document.querySelector('.brand');
                if (brand) { document.title = brand.textContent; }
                const framed = document.querySelector('#PAGE_CONTENT [lang]');
                if (framed) { document.documentElement.lang = framed.getAttribute('lang'); }
            }, 0);
            return window.dash_clientside.no_update;
        }""".replace("PAGE_CONTENT", ids.PAGE_CONTENT),
        Output(ids.DOCUMENT_TITLE, "data"),
        Input(ids.PAGE_CONTENT, "children"),
    )
