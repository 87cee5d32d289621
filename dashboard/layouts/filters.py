"""The filter bar of the reports screen and the choices of its controls."""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import cast

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import ids
from dashboard.layouts.aria import aria
from data_access.countries import UNKNOWN as UNKNOWN_COUNTRY
from data_access.filters import MAX_DAYS_BACK
from reporting.formatting import PICKER_FORMAT, country_name
from reporting.i18n import N_, label, t
from reporting.languages import normalize_language
from reporting.periods import PRESETS, calendar_bounds

# The multi-selects in the order shown: (control id, catalog key of its label).
MULTI_SELECTS = (
    (ids.FILTER_SUBACCOUNT, "filters.subaccount"),
    (ids.FILTER_USER, "filters.user"),
    (ids.FILTER_CAMPAIGN, "filters.campaign"),
    (ids.FILTER_COUNTRY, N_("filters.country")),
    (ids.FILTER_CONTENT_TYPE, "filters.content_type"),
    (ids.FILTER_STATUS, "filters.status"),
)
# The multi-selects whose values the filter checks (and explains next to the control).
CHECKED_SELECTS = (ids.FILTER_CONTENT_TYPE, ids.FILTER_STATUS)
# The direction select's value for "both directions" (a select cannot show an empty value).
ALL_DIRECTIONS = "all"
# The ViewState field each multi-select fills.
STATE_FIELDS = {
    ids.FILTER_SUBACCOUNT: "subaccounts",
    ids.FILTER_USER: "users",
    ids.FILTER_CAMPAIGN: "campaigns",
    ids.FILTER_COUNTRY: "countries",
    ids.FILTER_CONTENT_TYPE: "content_types",
    ids.FILTER_STATUS: "statuses",
}


def dropdown_options(options: dict, language: str) -> dict[str, list[dict]]:
    """Dropdown options per multi-select from the data layer's filter_options()."""

    def named(pairs) -> list[dict]:
        return [{"label": name, "value": int(ident)} for ident, name in pairs]

    def worded(kind: str, values) -> list[dict]:
        return [{"label": label(language, kind, value), "value": value} for value in values]

    return {
        ids.FILTER_SUBACCOUNT: named(options.get("subaccounts", ())),
        ids.FILTER_USER: named(options.get("users", ())),
        ids.FILTER_CAMPAIGN: named(options.get("campaigns", ())),
        ids.FILTER_COUNTRY: country_options(options.get("countries", ()), language),
        ids.FILTER_CONTENT_TYPE: worded("content_type", options.get("content_types", ())),
        ids.FILTER_STATUS: worded("status", options.get("statuses", ())),
    }


def _sort_key(name: str) -> str:
    # México sorts with the M's, not after Z.
    return "".join(
        c for c in unicodedata.normalize("NFKD", name.casefold()) if not unicodedata.combining(c)
    )


def country_options(codes, language: str) -> list[dict]:
    """Countries named in the language, in the order of their names (the unknown one last)."""
    named = [(country_name(code, language), code) for code in codes]
    named.sort(key=lambda pair: (pair[1] == UNKNOWN_COUNTRY, _sort_key(pair[0])))
    return [{"label": name, "value": code} for name, code in named]


def direction_options(language: str) -> list[dict]:
    return [
        {"label": t(language, "direction.all"), "value": ALL_DIRECTIONS},
        {"label": t(language, "direction.MT"), "value": "MT"},
        {"label": t(language, "direction.MO"), "value": "MO"},
    ]


def dropdown_labels(language: str) -> dcc.Dropdown.Labels:
    keys = (
        "select_all",
        "deselect_all",
        "selected_count",
        "search",
        "clear_search",
        "clear_selection",
        "no_options_found",
    )
    # Dash fills {num_selected} itself, so the catalog text keeps the placeholder. The keys
    # are the Labels' own (a comprehension is not inferred as the TypedDict, hence the cast).
    labels = {
        key: t(language, f"dropdown.{key}", num_selected="{num_selected}")
        if key == "selected_count"
        else t(language, f"dropdown.{key}")
        for key in keys
    }
    return cast(dcc.Dropdown.Labels, labels)


def field_error(control_id: str) -> html.Div:
    return html.Div(
        id=ids.error_for(control_id),
        className="field-error",
        role="alert",
        **aria(live="polite"),
    )


def _label(control_id: str, text: str) -> html.Label:
    return html.Label(
        text, htmlFor=control_id, id=ids.label_for(control_id), className="form-label"
    )


def filter_bar(
    values: dict, options: dict[str, list[dict]], language: str, today: date, message: str = ""
) -> html.Section:
    """The controls, set to `values` (start, end, direction and each multi-select's list).

    `message` is shown under the bar (a link whose filters could not be used).
    """
    language = normalize_language(language)
    bounds = calendar_bounds(today)
    date_control = html.Div(
        [
            html.Span(
                t(language, "filters.date_range"),
                id=ids.label_for(ids.DATE_RANGE),
                className="form-label d-block",
            ),
            html.Label(
                t(language, "filters.start"),
                htmlFor=ids.DATE_RANGE_START,
                className="visually-hidden",
            ),
            html.Label(
                t(language, "filters.end"), htmlFor=ids.DATE_RANGE_END, className="visually-hidden"
            ),
            dcc.DatePickerRange(
                id=ids.DATE_RANGE,
                start_date=values["start"],
                end_date=values["end"],
                min_date_allowed=bounds.first_allowed.isoformat(),
                max_date_allowed=bounds.latest.isoformat(),
                disabled_days=[day.isoformat() for day in bounds.disabled],
                initial_visible_month=bounds.first_month_shown.isoformat(),
                display_format=PICKER_FORMAT[language],
                start_date_id=ids.DATE_RANGE_START,
                end_date_id=ids.DATE_RANGE_END,
                start_date_placeholder_text=t(language, "filters.start"),
                end_date_placeholder_text=t(language, "filters.end"),
                first_day_of_week=0 if language == "en" else 1,
                updatemode="bothdates",
                className="date-range",
            ),
            html.Label(
                t(language, "filters.preset"), htmlFor=ids.DATE_PRESET, className="visually-hidden"
            ),
            dbc.Select(
                id=ids.DATE_PRESET,
                options=[
                    {"label": t(language, key), "value": name} for name, key in PRESETS.items()
                ],
                value="",
                placeholder=t(language, "filters.preset"),
                size="sm",
                className="date-preset mt-1",
            ),
            html.Small(
                t(language, "filters.range_hint", days=MAX_DAYS_BACK),
                className="text-muted d-block",
            ),
            field_error(ids.DATE_RANGE),
            dcc.Store(id=ids.DATE_RANGE_TEXT),
        ]
    )
    direction_control = html.Div(
        [
            _label(ids.FILTER_DIRECTION, t(language, "filters.direction")),
            dbc.Select(
                id=ids.FILTER_DIRECTION,
                options=direction_options(language),
                value=values["direction"] or ALL_DIRECTIONS,
            ),
            field_error(ids.FILTER_DIRECTION),
        ]
    )
    labels = dropdown_labels(language)
    selects = []
    for control_id, label_key in MULTI_SELECTS:
        selects.append(
            dbc.Col(
                [
                    _label(control_id, t(language, label_key)),
                    dcc.Dropdown(
                        id=control_id,
                        options=options[control_id],
                        value=list(values[control_id]),
                        multi=True,
                        placeholder=t(language, "filters.all"),
                        labels=labels,
                        className="filter-select",
                    ),
                    *([field_error(control_id)] if control_id in CHECKED_SELECTS else []),
                ],
                xs=12,
                md=6,
                xl=True,
                className="mb-2",
            )
        )
    buttons = html.Div(
        [
            dbc.Button(
                t(language, "filters.apply"),
                id=ids.APPLY_FILTERS,
                color="primary",
                className="me-2",
            ),
            dbc.Button(
                t(language, "filters.reset"), id=ids.RESET_FILTERS, color="secondary", outline=True
            ),
        ],
        className="filter-buttons",
    )
    return html.Section(
        [
            html.H2(t(language, "filters.title"), className="visually-hidden"),
            dbc.Row(
                [
                    dbc.Col(date_control, xs=12, md=7, lg=5, xl=4, className="mb-2"),
                    dbc.Col(direction_control, xs=12, md=5, lg=3, xl=2, className="mb-2"),
                ]
                + selects[:1],
                className="g-2",
            ),
            dbc.Row(
                selects[1:] + [dbc.Col(buttons, xs=12, xl="auto", className="mb-2")],
                className="g-2 align-items-end",
            ),
            html.Div(message, id=ids.FILTER_MESSAGE, className="field-error", role="alert"),
        ],
        className="filter-bar card card-body mb-3",
        **aria(label=t(language, "filters.title")),
    )
