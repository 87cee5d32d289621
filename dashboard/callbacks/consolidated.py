"""The consolidated view's data: KPI cards, daily charts and top error reasons for the view."""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.callbacks import drill
from dashboard.callbacks.common import applied_state, viewer_and_language
from dashboard.layouts import consolidated, delivery_time
from dashboard.services import Services, Viewer
from data_access import reports as report_data
from data_access.filters import FilterError, ReportFilter
from reporting.i18n import filter_error_text
from reporting.view_state import ViewState

OUTPUTS = {
    **{f"kpi_{key}": Output(card_id, "children") for card_id, key, *_ in consolidated.KPI_CARDS},
    "daily": Output(ids.DAILY_CHART, "figure"),
    "pct": Output(ids.DAILY_PCT_CHART, "figure"),
    "top_errors": Output(ids.TOP_ERRORS, "children"),
    "campaigns": Output(ids.CAMPAIGNS, "children"),
    "campaigns_hidden": Output(ids.CAMPAIGNS_CARD, "hidden"),
    "delivery_time": Output(ids.DELIVERY_TIME, "children"),
    "countries": Output(ids.COUNTRIES, "children"),
    "countries_chart": Output(ids.COUNTRIES_CHART, "figure"),
    "countries_hidden": Output(ids.COUNTRIES_CARD, "hidden"),
    "operators": Output(ids.OPERATORS, "children"),
    "operators_hidden": Output(ids.OPERATORS_CARD, "hidden"),
    "templates": Output(ids.TEMPLATES, "children"),
    "templates_hidden": Output(ids.TEMPLATES_CARD, "hidden"),
    "body_hidden": Output(ids.CONSOLIDATED_BODY, "hidden"),
    "body_class": Output(ids.CONSOLIDATED_BODY, "className"),
    "empty_hidden": Output(ids.CONSOLIDATED_EMPTY, "hidden"),
    "empty": Output(ids.CONSOLIDATED_EMPTY, "children"),
    "message": Output(ids.CONSOLIDATED_MESSAGE, "children"),
    "shown": Output(ids.CONSOLIDATED_SHOWN, "data"),
}
INPUTS = {
    # Written by the filter bar only when this view is the one to show (filters.py), so
    # applying a state to the other view sends no request here.
    "applied": Input(ids.CONSOLIDATED_REQUEST, "data"),
    "shown": State(ids.CONSOLIDATED_SHOWN, "data"),
    "language": State(ids.LANGUAGE_STORE, "data"),
}


def already_shown(applied: dict | None, shown: dict | None) -> bool:
    """Whether the view shows `applied` already (its `shown` store), so nothing need run."""
    return applied is not None and applied == shown


def consolidated_content(
    services: Services, viewer: Viewer, language: str, state: ViewState
) -> dict:
    """Every part of the consolidated view for a state (FilterError if it cannot run)."""
    flt = state.to_filter(viewer.timezone)
    if flt.direction != "MO":
        # Every read of the sections below at once; they then come from the cache.
        services.prefetch(viewer.scope, sent_reads(flt))
    daily = services.daily_series(viewer.scope, flt)
    totals = report_data.range_totals(daily, flt.channel)
    empty = totals["total"] == 0 and totals["received"] == 0
    if flt.direction == "MO":
        # Received messages are neither delivered nor failed: their own cards and chart.
        cards = consolidated.mo_kpis(daily, language)
        content: dict[str, Any] = {
            f"kpi_{key}": cards[card_id] for card_id, key, *_ in consolidated.KPI_CARDS
        }
        content.update(
            daily=consolidated.received_figure(daily, language),
            pct=consolidated.EMPTY_FIGURE,
            top_errors=[],
            campaigns=[],
            campaigns_hidden=True,
            # Received messages have no delivery time: said, not an empty chart.
            delivery_time=delivery_time.section(None, language, flt.channel, flt.direction),
            **consolidated.NO_BREAKDOWNS,
            body_class=consolidated.MO_BODY_CLASS,
        )
    else:
        top = services.top_errors(viewer.scope, flt)
        # The previous period of the same length, in the same scope and filters: one more
        # roll-up query (cached like the view's own).
        previous = report_data.range_totals(
            services.daily_series(viewer.scope, report_data.previous_filter(flt)), flt.channel
        )
        changes = report_data.period_changes(totals, previous)
        previous_empty = previous["total"] == 0 and previous["received"] == 0
        content = {
            f"kpi_{key}": consolidated.kpi_content(
                key,
                totals,
                flt.channel,
                language,
                change=changes[key],
                previous_empty=previous_empty,
                href=drill.card_href(state, key),
            )
            for _card_id, key, _title, _colour in consolidated.KPI_CARDS
        }
        content.update(
            daily=consolidated.daily_figure(daily, language),
            pct=consolidated.pct_figure(daily, language),
            top_errors=consolidated.top_errors_table(
                top, language, flt.channel, href=lambda code: drill.error_href(state, code)
            ),
            campaigns=consolidated.campaigns_table(
                services.campaign_table(viewer.scope, flt), language, flt.channel
            ),
            campaigns_hidden=False,
            delivery_time=delivery_time.section(
                services.delivery_times(viewer.scope, flt), language, flt.channel, flt.direction
            ),
            **breakdowns(services, viewer, language, flt),
            body_class=consolidated.BODY_CLASS,
        )
    content.update(
        body_hidden=empty,
        empty_hidden=not empty,
        empty=consolidated.empty_state(language) if empty else [],
        message="",
        shown=state.to_dict(),
    )
    return content


def sent_reads(flt: ReportFilter) -> list[tuple[str, ReportFilter]]:
    """The cached reads the view of sent messages makes (Services.prefetch's names)."""
    return [
        ("daily_series", flt),
        ("daily_series", report_data.previous_filter(flt)),
        ("top_errors", flt),
        ("delivery_times", flt),
        # The campaigns, countries, operators and templates tables, read together.
        ("breakdowns", flt),
    ]


def breakdowns(services: Services, viewer: Viewer, language: str, flt: ReportFilter) -> dict:
    """The sent messages by country (a table and a bar chart), by operator where operators
    are known, and by WhatsApp template; each read in the viewer's scope."""
    countries = services.country_table(viewer.scope, flt)
    operators = services.operator_table(viewer.scope, flt)
    templates = None if flt.channel == "sms" else services.template_table(viewer.scope, flt)
    return {
        "countries": consolidated.countries_table(countries, language, flt.channel),
        "countries_chart": consolidated.countries_figure(countries, language),
        "countries_hidden": False,
        "operators": consolidated.operators_table(operators, language, flt.channel),
        # Shown where some operator is known (or where the store cannot say yet).
        "operators_hidden": operators is not None and operators.empty,
        "templates": consolidated.templates_table(templates, language),
        # SMS has no templates.
        "templates_hidden": flt.channel == "sms",
    }


def update_consolidated(
    services: Services, applied: dict | None, language: str | None, shown: dict | None = None
) -> dict:
    """The consolidated view for the applied state, in the viewer's scope.

    `shown` is the state the page already shows (the page is built with its data), so
    an unchanged state costs no query.
    """
    if already_shown(applied, shown):
        raise PreventUpdate
    viewer, language = viewer_and_language(services, language)
    try:
        state = applied_state(applied)
        if state.view != "consolidated":
            raise PreventUpdate
        return consolidated_content(services, viewer, language, state)
    except FilterError as error:
        out: dict[str, Any] = {key: no_update for key in OUTPUTS}
        out["message"] = filter_error_text(language, error)
        return out


def register_callbacks(app, services: Services) -> None:
    # The page is built with its view's data, so nothing runs when a page appears.
    app.callback(output=OUTPUTS, inputs=INPUTS, prevent_initial_call=True)(
        lambda applied, shown, language: update_consolidated(services, applied, language, shown)
    )
    # A click on a day of either daily chart opens the detailed view of that day (drill.py).
    app.callback(
        Output(ids.URL, "search", allow_duplicate=True),
        Input(ids.DAILY_CHART, "clickData"),
        Input(ids.DAILY_PCT_CHART, "clickData"),
        State(ids.APPLIED_FILTERS, "data"),
        State(ids.LANGUAGE_STORE, "data"),
        prevent_initial_call=True,
    )(
        lambda daily, pct, applied, language: drill.day_search(
            services, applied, ctx.triggered[0]["value"] if ctx.triggered else None, language
        )
    )
