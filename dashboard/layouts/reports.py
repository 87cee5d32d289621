"""The reports screen: channel and report tabs, filter bar, export buttons and both views."""

from __future__ import annotations

from datetime import date
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import ids
from dashboard.layouts import consolidated, detailed
from dashboard.layouts.aria import aria
from dashboard.layouts.filters import STATE_FIELDS, filter_bar
from dashboard.layouts.search import search_box
from data_access.domain import CHANNELS
from data_access.filters import ReportFilter
from reporting.i18n import t
from reporting.view_state import VIEWS, ViewState


def control_values(state: ViewState, flt: ReportFilter) -> dict:
    """What the filter controls show for a state: its dates made explicit, its choices."""
    values: dict[str, str | list | None] = {
        "start": flt.start.isoformat(),
        "end": flt.end.isoformat(),
        "direction": state.direction,
    }
    for control_id, field in STATE_FIELDS.items():
        values[control_id] = list(getattr(state, field))
    return values


def sort_by_of(state: ViewState) -> list[dict]:
    """The table's sort_by for a state; the default order shows no arrow."""
    if state.sort == "created_at" and state.descending:
        return []
    column = next((col for col, key in detailed.SORTABLE.items() if key == state.sort), None)
    if column is None:
        return []
    return [{"column_id": column, "direction": "desc" if state.descending else "asc"}]


# The ZIP of sections is the consolidated view's (exports.sections): hidden on the detailed one.
ZIP_HIDDEN = {"display": "none"}


def export_buttons(language: str, view: str = "consolidated") -> html.Div:
    return html.Div(
        [
            html.Div(
                dbc.ButtonGroup(
                    [
                        dbc.Button(
                            t(language, "export.csv"),
                            id=ids.EXPORT_CSV,
                            color="secondary",
                            outline=True,
                            size="sm",
                        ),
                        dbc.Button(
                            t(language, "export.xlsx"),
                            id=ids.EXPORT_XLSX,
                            color="secondary",
                            outline=True,
                            size="sm",
                        ),
                        dbc.Button(
                            t(language, "export.zip"),
                            id=ids.EXPORT_ZIP,
                            color="secondary",
                            outline=True,
                            size="sm",
                            style=ZIP_HIDDEN if view != "consolidated" else {},
                        ),
                    ]
                ),
                role="group",
                **aria(label=t(language, "export.group")),
            ),
            html.Div(id=ids.EXPORT_NOTICE, className="export-notice", role="status"),
        ],
        className="export-area",
    )


# A live view asks for today's figures this often, while the page is visible.
LIVE_SECONDS = 30


def paused_words(language: str) -> dict[str, Any]:
    """The status's text while the page is hidden, for assets/live.js (typed Any as aria())."""
    return {"data-paused": t(language, "live.paused")}


def live_switch(language: str) -> html.Div:
    """The "live" switch: today's view again every LIVE_SECONDS while the page is visible
    (callbacks/live.py, assets/live.js); its status says when it last refreshed or why not."""
    return html.Div(
        [
            dbc.Switch(id=ids.LIVE_SWITCH, label=t(language, "live.switch"), value=False),
            html.Span(
                id=ids.LIVE_STATUS,
                className="live-status",
                role="status",
                **paused_words(language),
            ),
            dcc.Interval(id=ids.LIVE_INTERVAL, interval=LIVE_SECONDS * 1000, disabled=True),
            # The server's status of its last tick, shown unless the page went hidden meanwhile.
            dcc.Store(id=ids.LIVE_ANSWER),
        ],
        className="live-area",
    )


def zone_note(language: str, days_zone: str, times_zone: str) -> html.P:
    """Which zone the days are counted in (the account's) and which the times are shown in
    (the person's): a person in Tokyo reading a Sao Paulo account's day otherwise sees rows
    of "30/11 12:06" under the 29th."""
    if days_zone == times_zone:
        text = t(language, "zone.same", zone=days_zone)
    else:
        text = t(language, "zone.days_and_times", days=days_zone, times=times_zone)
    return html.P(text, id=ids.ZONE_NOTE, className="zone-note")


def page(
    state: ViewState,
    flt: ReportFilter,
    options: dict[str, list[dict]],
    language: str,
    today: date,
    message: str = "",
    content: dict | None = None,
    columns: tuple[str, ...] | None = None,
    zones: tuple[str, str] | None = None,
) -> html.Div:
    """The whole screen for an applied state; `message` explains a link that was not usable.

    `content` holds the data of the open view, so the first screen needs no further request;
    `columns` are the ones the person chose for the detailed table (None: the defaults);
    `zones` are the zone of the days and the zone of the times (None: the filter's for both).
    """
    days_zone, times_zone = zones or (flt.timezone, flt.timezone)
    channel_tabs = dbc.Tabs(
        [dbc.Tab(label=t(language, f"channel.{channel}"), tab_id=channel) for channel in CHANNELS],
        id=ids.CHANNEL_TABS,
        active_tab=state.channel,
        className="channel-tabs",
    )
    report_tabs = dbc.Tabs(
        [dbc.Tab(label=t(language, f"view.{view}"), tab_id=view) for view in VIEWS],
        id=ids.REPORT_TABS,
        active_tab=state.view,
        className="report-tabs",
    )
    values = control_values(state, flt)
    bar = filter_bar(values, options, language, today, message)
    return html.Div(
        [
            html.Nav(channel_tabs, className="mb-3", **aria(label=t(language, "shell.channel"))),
            bar,
            zone_note(language, days_zone, times_zone),
            html.Div(
                [
                    html.Nav(report_tabs, **aria(label=t(language, "shell.report_kind"))),
                    live_switch(language),
                    export_buttons(language, state.view),
                ],
                className="view-toolbar",
            ),
            html.Section(
                consolidated.view(language, content if state.view == "consolidated" else None),
                id=ids.CONSOLIDATED_VIEW,
                hidden=state.view != "consolidated",
                className="view-panel",
            ),
            html.Section(
                detailed.view(
                    language,
                    search_box(language, state),
                    sort_by_of(state),
                    content if state.view == "detailed" else None,
                    detailed.chosen_columns(columns),
                ),
                id=ids.DETAILED_VIEW,
                hidden=state.view != "detailed",
                className="view-panel",
            ),
        ]
    )
