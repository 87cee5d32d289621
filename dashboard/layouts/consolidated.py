"""The consolidated view: KPI cards, daily charts and top error reasons, built from report data."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
from babel.numbers import format_decimal, format_percent, get_decimal_symbol, get_group_symbol
from dash import dcc, html

from dashboard import ids
from dashboard.layouts.aria import aria
from data_access.reports import Change
from reporting.error_codes import described_error
from reporting.formatting import (
    babel_locale,
    country_name,
    format_axis_day,
    format_count,
    format_date,
    format_pct,
)
from reporting.i18n import N_, t

# Okabe-Ito colours: told apart with every common colour-vision deficiency.
DELIVERED_COLOUR = "#0072B2"
ERROR_COLOUR = "#D55E00"
READ_COLOUR = "#56B4E9"
SENT_COLOUR = "#6C757D"
RECEIVED_COLOUR = "#009E73"
TOTAL_COLOUR = "#212529"
GRID_COLOUR = "#e9ecef"

# kpi id -> (totals key, catalog key, accent colour)
KPI_CARDS = (
    (ids.KPI_TOTAL, "total", N_("kpi.total"), TOTAL_COLOUR),
    (ids.KPI_SENT, "sent", N_("kpi.sent"), SENT_COLOUR),
    (ids.KPI_DELIVERED, "delivered", N_("kpi.delivered"), DELIVERED_COLOUR),
    (ids.KPI_READ, "read", N_("kpi.read"), READ_COLOUR),
    (ids.KPI_ERRORS, "errors", N_("kpi.errors"), ERROR_COLOUR),
    (ids.KPI_RECEIVED, "received", N_("kpi.received"), RECEIVED_COLOUR),
)
# With direction MO, the first cards tell the received messages: (card id, catalog key).
MO_CARDS = (
    (ids.KPI_TOTAL, N_("kpi.mo.received")),
    (ids.KPI_SENT, N_("kpi.mo.per_day")),
    (ids.KPI_DELIVERED, N_("kpi.mo.busiest_day")),
    (ids.KPI_READ, N_("kpi.mo.active_days")),
)
# The consolidated body's class for each kind of view: received messages have no delivery.
BODY_CLASS = "consolidated-body"
MO_BODY_CLASS = "consolidated-body received-only"
MAX_AXIS_LABELS = 12
GRAPH_CONFIG: dcc.Graph.Config = {"displayModeBar": False, "responsive": True}
# What a chart shows before its data arrives: no axes, no "undefined" title.
EMPTY_FIGURE = {
    "data": [],
    "layout": {"xaxis": {"visible": False}, "yaxis": {"visible": False}, "height": 340},
}


# A change's colour by its verdict (reports.Change): dark enough for text on white (AA).
CHANGE_COLOURS = {"better": "#146C43", "worse": "#B02A37", "same": "#495057", "neutral": "#495057"}
MINUS = "\u2212"
# What a screen reader hears after a coloured change.
VERDICT_WORDS = {"better": N_("kpi.change.better"), "worse": N_("kpi.change.worse")}


def _signed(text: str, negative: bool, zero: bool) -> str:
    return text if zero else (MINUS if negative else "+") + text


def change_text(change: Change, language: str) -> str:
    """'+1 (−41,7 p.p.) vs. período anterior': the count's change and, where the card has a
    share of the total, the share's change in percentage points."""
    count = _signed(
        format_count(abs(change.count or 0), language), (change.count or 0) < 0, not change.count
    )
    if change.points is None:
        return t(language, "kpi.change.count", count=count)
    rounded = round(change.points, 1)
    points = format_decimal(abs(rounded), format="#,##0.0", locale=babel_locale(language))
    return t(
        language,
        "kpi.change.points",
        count=count,
        points=_signed(points, rounded < 0, rounded == 0),
    )


def change_line(change: Change | None, previous_empty: bool, language: str):
    """The card's line comparing it with the previous period, coloured by its verdict; the
    verdict is also said in words to a screen reader."""
    if change is None or change.count is None:
        return None
    if previous_empty:
        return html.Div(t(language, "kpi.change.none"), className="kpi-change neutral")
    words: list = [change_text(change, language)]
    if change.verdict in VERDICT_WORDS:
        hidden = " " + t(language, VERDICT_WORDS[change.verdict])
        words.append(html.Span(hidden, className="visually-hidden"))
    return html.Div(
        words,
        className=f"kpi-change {change.verdict}",
        style={"color": CHANGE_COLOURS[change.verdict]},
    )


def kpi_content(
    key: str,
    totals: dict,
    channel: str,
    language: str,
    change: Change | None = None,
    previous_empty: bool = False,
    href: str | None = None,
) -> list:
    """The inside of one KPI card: title, count, its share of the total and its change from
    the previous period; with `href`, the card is a link to the messages it counts."""
    title = html.Div(t(language, f"kpi.{key}"), className="kpi-title")
    if key == "read" and channel == "sms":
        return [
            title,
            html.Div(t(language, "kpi.not_available"), className="kpi-value kpi-na"),
            html.Div(t(language, "kpi.no_read_receipts"), className="kpi-sub"),
        ]
    count = totals.get(key) or 0
    if key == "received":
        sub = t(language, "kpi.inbound")
    elif totals.get("total"):
        sub = t(language, "kpi.of_total", pct=format_pct(count * 100.0 / totals["total"], language))
    else:
        sub = t(language, "empty_value")
    parts: list = [
        title,
        html.Div(format_count(count, language), className="kpi-value"),
        html.Div(sub, className="kpi-sub"),
    ]
    line = change_line(change, previous_empty, language)
    if line is not None:
        parts.append(line)
    if href is not None:
        # Bootstrap's stretched-link makes the whole card the link (kpi_row's cards are its
        # containing block); Tab reaches it and Enter opens the messages.
        parts.append(
            dcc.Link(
                t(language, "kpi.drill"),
                href=href,
                className="stretched-link kpi-link",
                title=t(language, "kpi.drill_title", kpi=t(language, f"kpi.{key}")),
            )
        )
    return parts


def mo_kpis(daily: pd.DataFrame, language: str) -> dict[str, list]:
    """The cards of received (MO) messages, by card id: how many, per day on average, the
    busiest day and on how many days any arrived; the other cards are left empty."""
    received = [int(v) for v in daily["received"]]
    days = list(daily["date"])
    total = sum(received)
    busiest = max(range(len(days)), key=lambda i: (received[i], days[i]), default=0)
    active = sum(1 for count in received if count)
    per_day = total / len(days) if days else 0.0
    values = {
        "kpi.mo.received": (format_count(total, language), t(language, "kpi.inbound")),
        "kpi.mo.per_day": (
            format_decimal(round(per_day, 1), format="#,##0.0", locale=babel_locale(language)),
            t(language, "kpi.mo.per_day_sub", days=format_count(len(days), language)),
        ),
        "kpi.mo.busiest_day": (
            format_count(received[busiest], language) if total else t(language, "empty_value"),
            format_date(days[busiest], language) if total else t(language, "empty_value"),
        ),
        "kpi.mo.active_days": (
            format_count(active, language),
            t(language, "kpi.mo.active_days_sub", days=format_count(len(days), language)),
        ),
    }
    content: dict[str, list] = {card_id: [] for card_id, *_ in KPI_CARDS}
    for card_id, key in MO_CARDS:
        value, sub = values[key]
        content[card_id] = [
            html.Div(t(language, key), className="kpi-title"),
            html.Div(value, className="kpi-value"),
            html.Div(sub, className="kpi-sub"),
        ]
    return content


def received_figure(daily: pd.DataFrame, language: str) -> dict:
    """Received (MO) messages per day; hovering a day shows it and its count."""
    days = list(daily["date"])
    customdata = [
        [format_date(day, language), format_count(count, language)]
        for day, count in zip(days, daily["received"], strict=True)
    ]
    bars = {
        "type": "bar",
        "name": t(language, "chart.received"),
        "x": [day.isoformat() for day in days],
        "y": [int(v) for v in daily["received"]],
        "marker": {"color": RECEIVED_COLOUR},
        "customdata": customdata,
        "hovertemplate": "<b>%{customdata[0]}</b><br>"
        + t(language, "chart.received")
        + ": %{customdata[1]}<extra></extra>",
    }
    layout = {
        **_base_layout(t(language, "chart.received_title"), language),
        "showlegend": False,
        "xaxis": _axis(days, language),
        "yaxis": {
            "title": {"text": t(language, "chart.messages")},
            "rangemode": "tozero",
            "fixedrange": True,
            "gridcolor": GRID_COLOUR,
            "zerolinecolor": "#adb5bd",
        },
    }
    return {"data": [bars], "layout": layout}


def kpi_row(language: str, content: dict) -> dbc.Row:
    """The KPI cards, filled from `content` or left for the consolidated callback."""
    return dbc.Row(
        [
            dbc.Col(
                html.Div(
                    content.get(f"kpi_{key}"),
                    id=card_id,
                    className="kpi-card",
                    # position: the containing block of a card's stretched link.
                    style={"borderTopColor": colour, "position": "relative"},
                    role="group",
                    **aria(live="polite"),
                ),
                xs=6,
                md=4,
                xl=2,
            )
            for card_id, key, _title, colour in KPI_CARDS
        ],
        className="g-3 mb-3 kpi-row",
    )


def _separators(language: str) -> str:
    locale = babel_locale(language)
    return get_decimal_symbol(locale) + get_group_symbol(locale)


def _percent_suffix(language: str) -> str:
    text = format_percent(0, locale=babel_locale(language))
    return text[text.index("0") + 1 :]


def _axis(days: list, language: str) -> dict:
    step = max(1, math.ceil(len(days) / MAX_AXIS_LABELS))
    ticks = days[::step]
    return {
        "tickvals": [day.isoformat() for day in ticks],
        "ticktext": [format_axis_day(day, language) for day in ticks],
        # Room for the day labels, turned when a narrow chart needs it, then the axis title
        # below them: never on top of each other.
        "title": {"text": t(language, "chart.day"), "standoff": 12},
        "automargin": True,
        "type": "category",
        "fixedrange": True,
        "showgrid": False,
        "linecolor": "#adb5bd",
    }


def _base_layout(title: str, language: str) -> dict:
    return {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 16}},
        "plot_bgcolor": "white",
        "paper_bgcolor": "white",
        "font": {
            "family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
            "color": "#212529",
        },
        "separators": _separators(language),
        "margin": {"l": 56, "r": 16, "t": 72, "b": 48},
        "legend": {"orientation": "h", "x": 0, "y": 1.12, "xanchor": "left"},
        "hoverlabel": {"bgcolor": "white", "font": {"size": 13}},
        # A day's numbers show wherever the pointer is in its column, not only over a bar.
        "hovermode": "x unified",
        "height": 340,
    }


def daily_figure(daily: pd.DataFrame, language: str) -> dict:
    """Delivered and errors per day; hovering a day shows day, delivered, errors and total."""
    days = list(daily["date"])
    x = [day.isoformat() for day in days]
    customdata = [
        [
            format_date(day, language),
            format_count(delivered, language),
            format_count(errors, language),
            format_count(total, language),
        ]
        for day, delivered, errors, total in zip(
            days, daily["delivered"], daily["errors"], daily["total"], strict=True
        )
    ]
    hover = (
        "<b>%{customdata[0]}</b><br>"
        + t(language, "chart.delivered")
        + ": %{customdata[1]}<br>"
        + t(language, "chart.errors")
        + ": %{customdata[2]}<br>"
        + t(language, "chart.total")
        + ": %{customdata[3]}<extra></extra>"
    )
    bars = [
        {
            "type": "bar",
            "name": t(language, "chart.delivered"),
            "x": x,
            "y": [int(v) for v in daily["delivered"]],
            "marker": {"color": DELIVERED_COLOUR},
            "customdata": customdata,
            "hovertemplate": hover,
        },
        {
            "type": "bar",
            "name": t(language, "chart.errors"),
            "x": x,
            "y": [int(v) for v in daily["errors"]],
            # Hatching tells errors apart in print and in grey as well as by colour.
            "marker": {
                "color": ERROR_COLOUR,
                "pattern": {
                    "shape": "/",
                    "fillmode": "overlay",
                    "fgcolor": "white",
                    "solidity": 0.25,
                },
            },
            "customdata": customdata,
            # The delivered bars' label already gives the day's errors.
            "hoverinfo": "skip",
        },
    ]
    layout = {
        **_base_layout(t(language, "chart.daily_title"), language),
        "barmode": "group",
        "xaxis": _axis(days, language),
        "yaxis": {
            "title": {"text": t(language, "chart.messages")},
            "rangemode": "tozero",
            "fixedrange": True,
            "gridcolor": GRID_COLOUR,
            "zerolinecolor": "#adb5bd",
        },
    }
    return {"data": bars, "layout": layout}


def pct_figure(daily: pd.DataFrame, language: str) -> dict:
    """Delivered share of each day's total, on a fixed 0-100 % axis; empty days leave a gap."""
    days = list(daily["date"])
    values = [
        float(pct) if total else None
        for pct, total in zip(daily["delivered_pct"], daily["total"], strict=True)
    ]
    customdata = [
        [
            format_date(day, language),
            format_pct(pct, language) if pct is not None else t(language, "empty_value"),
            format_count(total, language),
        ]
        for day, pct, total in zip(days, values, daily["total"], strict=True)
    ]
    hover = (
        "<b>%{customdata[0]}</b><br>"
        + t(language, "chart.delivered_pct")
        + ": %{customdata[1]}<br>"
        + t(language, "chart.total")
        + ": %{customdata[2]}<extra></extra>"
    )
    line = {
        "type": "scatter",
        "name": t(language, "chart.delivered_pct"),
        "x": [day.isoformat() for day in days],
        "y": values,
        "mode": "lines+markers",
        "line": {"color": DELIVERED_COLOUR, "width": 2},
        "marker": {"size": 7, "symbol": "circle"},
        "customdata": customdata,
        "hovertemplate": hover,
        "connectgaps": False,
    }
    layout = {
        **_base_layout(t(language, "chart.pct_title"), language),
        "showlegend": False,
        "xaxis": _axis(days, language),
        "yaxis": {
            "range": [0, 100],
            "ticksuffix": _percent_suffix(language),
            "title": {"text": t(language, "chart.delivered_pct")},
            "fixedrange": True,
            "gridcolor": GRID_COLOUR,
        },
    }
    return {"data": [line], "layout": layout}


def top_errors_table(
    frame: pd.DataFrame,
    language: str,
    channel: str | None = None,
    href: Callable[[str], str | None] | None = None,
):
    """Error reasons, most frequent first, with their share of all errors; a known code's
    meaning in the language beside the operator's text. With `href`, each code is a link to
    its messages (the detailed view with that code)."""

    def code_cell(code) -> html.Td:
        if code is None:
            return html.Td(t(language, "empty_value"))
        target = href(str(code)) if href is not None else None
        if target is None:
            return html.Td(str(code))
        return html.Td(
            dcc.Link(
                str(code),
                href=target,
                className="error-code-link",
                title=t(language, "top_errors.open", code=str(code)),
            )
        )

    if frame.empty:
        return html.P(t(language, "top_errors.none"), className="text-muted mb-0")
    header = html.Thead(
        html.Tr(
            [
                html.Th(t(language, "top_errors.code"), scope="col"),
                html.Th(t(language, "top_errors.description"), scope="col"),
                html.Th(t(language, "top_errors.count"), scope="col", className="text-end"),
                html.Th(t(language, "top_errors.share"), scope="col", className="text-end"),
            ]
        )
    )
    rows = [
        html.Tr(
            [
                code_cell(row.error_code),
                html.Td(
                    described_error(language, channel, row.error_code, row.error_description)
                    or t(language, "top_errors.no_description")
                ),
                html.Td(format_count(row.count, language), className="text-end"),
                html.Td(format_pct(row.share, language), className="text-end"),
            ]
        )
        for row in frame.itertuples(index=False)
    ]
    return dbc.Table(
        [header, html.Tbody(rows)],
        size="sm",
        hover=True,
        responsive=True,
        className="mb-0 top-errors-table",
    )


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _campaign_column(language: str, field: str, key: str) -> dict:
    # Sorted by the number, shown as the server formatted it in the language.
    return {
        "field": field,
        "headerName": t(language, key),
        "type": "numericColumn",
        "valueFormatter": {"function": f"params.data.{field}_text"},
        "sortingOrder": ["desc", "asc", None],
        "minWidth": 110,
    }


def _top_error_text(row: dict, language: str, channel: str) -> str:
    """The most frequent error: its code, its meaning in the language and the operator's
    text; a dash where the group had none."""
    if not row["top_error_count"]:
        return t(language, "empty_value")
    code = row["top_error_code"]
    parts = (
        str(code) if code is not None else "",
        described_error(language, channel, code, row["top_error_description"]),
    )
    return " · ".join(part for part in parts if part)


def _breakdown_grid(
    frame: pd.DataFrame,
    language: str,
    channel: str,
    names: Sequence[tuple[str, str, Callable[[dict], str]]],
    numbers: Sequence[tuple[str, str, Callable[..., str]]],
    class_name: str,
):
    """An AG Grid of one row per group: the group's names (field, catalog key, how a record
    names it), its figures (field, catalog key, formatter), sorted by the numbers and shown
    formatted in the language, and its most frequent error. A column header sorts the table
    (click, or Enter from the keyboard)."""
    rows = []
    for record in frame.to_dict("records"):
        # pandas keeps a missing name or code as NaN: None here.
        row = {key: None if _missing(value) else value for key, value in record.items()}
        data: dict[str, object] = {field: name_of(row) for field, _key, name_of in names}
        data["top_error"] = _top_error_text(row, language, channel)
        for field, _key, formatter in numbers:
            data[field] = row[field]
            data[f"{field}_text"] = formatter(row[field], language)
        rows.append(data)
    columns = [
        *(
            {"field": field, "headerName": t(language, key), "minWidth": 140, "flex": 2}
            for field, key, _n in names
        ),
        *(_campaign_column(language, field, key) for field, key, _f in numbers),
        {
            "field": "top_error",
            "headerName": t(language, "campaigns.top_error"),
            "minWidth": 200,
            "flex": 3,
            "tooltipField": "top_error",
        },
    ]
    return dag.AgGrid(
        columnDefs=columns,
        rowData=rows,
        defaultColDef={"sortable": True, "resizable": True, "suppressMovable": True},
        columnSize="responsiveSizeToFit",
        dashGridOptions={
            "domLayout": "autoHeight",
            "enableCellTextSelection": True,
            "ensureDomOrder": True,
            "tooltipShowDelay": 200,
        },
        className=class_name,
    )


SENT_NUMBER = ("total", N_("campaigns.total"), format_count)
DELIVERED_NUMBER = ("delivered_pct", N_("campaigns.delivered_pct"), format_pct)
READ_NUMBER = ("read_pct", N_("campaigns.read_pct"), format_pct)
ERROR_NUMBER = ("error_pct", N_("campaigns.error_pct"), format_pct)


def campaigns_table(frame: pd.DataFrame | None, language: str, channel: str):
    """Sent, delivered %, read %, error % and the most frequent error of each campaign, most
    messages first; a column header sorts the table (click, or Enter from the keyboard)."""
    if frame is None:
        return html.P(t(language, "campaigns.not_available"), className="text-muted mb-0")
    if frame.empty:
        return html.P(t(language, "campaigns.none_sent"), className="text-muted mb-0")
    numbers = [SENT_NUMBER, DELIVERED_NUMBER, READ_NUMBER, ERROR_NUMBER]
    if channel == "sms":
        numbers = [n for n in numbers if n[0] != "read_pct"]

    def campaign(row: dict) -> str:
        if row["campaign"] is None:
            return t(language, "campaigns.no_campaign")
        return row["campaign"]

    names = [("campaign", N_("campaigns.campaign"), campaign)]
    return _breakdown_grid(frame, language, channel, names, numbers, "campaigns-grid")


def countries_table(frame: pd.DataFrame | None, language: str, channel: str):
    """Sent, delivered %, error % and the most frequent error of each country, most messages
    first, the countries named in the language."""
    if frame is None:
        return html.P(t(language, "breakdowns.not_available"), className="text-muted mb-0")
    if frame.empty:
        return html.P(t(language, "campaigns.none_sent"), className="text-muted mb-0")
    names = [
        ("country", N_("countries.country"), lambda row: country_name(row["country"], language))
    ]
    numbers = [SENT_NUMBER, DELIVERED_NUMBER, ERROR_NUMBER]
    return _breakdown_grid(frame, language, channel, names, numbers, "countries-grid")


def operators_table(frame: pd.DataFrame | None, language: str, channel: str):
    """The same figures per country and operator, where the operator is known."""
    if frame is None:
        return html.P(t(language, "breakdowns.not_available"), className="text-muted mb-0")
    if frame.empty:
        return html.P(t(language, "operators.none_known"), className="text-muted mb-0")
    names = [
        ("country", N_("countries.country"), lambda row: country_name(row["country"], language)),
        ("operator", N_("operators.operator"), lambda row: row["operator"]),
    ]
    numbers = [SENT_NUMBER, DELIVERED_NUMBER, ERROR_NUMBER]
    return _breakdown_grid(frame, language, channel, names, numbers, "operators-grid")


def templates_table(frame: pd.DataFrame | None, language: str):
    """Sent, delivered %, read %, error % and the most frequent error of each WhatsApp
    template, most messages first."""
    if frame is None:
        return html.P(t(language, "breakdowns.not_available"), className="text-muted mb-0")
    if frame.empty:
        return html.P(t(language, "templates.none_sent"), className="text-muted mb-0")
    names = [("template", N_("templates.template"), lambda row: row["template"])]
    numbers = [SENT_NUMBER, DELIVERED_NUMBER, READ_NUMBER, ERROR_NUMBER]
    return _breakdown_grid(frame, language, "whatsapp", names, numbers, "templates-grid")


# The countries a chart shows at most (the table lists them all).
CHART_COUNTRIES = 12


def countries_figure(frame: pd.DataFrame | None, language: str) -> dict:
    """A bar per country, the most messages first: its delivered, failed and other sent
    messages stacked to its volume; hovering a bar gives the volume and both shares."""
    if frame is None or frame.empty:
        return EMPTY_FIGURE
    shown = frame.head(CHART_COUNTRIES)
    names = [country_name(code, language) for code in shown["country"]]
    totals = [int(v) for v in shown["total"]]
    delivered = [int(v) for v in shown["delivered"]]
    errors = [int(v) for v in shown["errors"]]
    others = [t_ - d - e for t_, d, e in zip(totals, delivered, errors, strict=True)]
    customdata = [
        [
            name,
            format_count(total, language),
            format_pct(delivered_pct, language),
            format_pct(error_pct, language),
        ]
        for name, total, delivered_pct, error_pct in zip(
            names, totals, shown["delivered_pct"], shown["error_pct"], strict=True
        )
    ]
    hover = (
        "<b>%{customdata[0]}</b><br>"
        + t(language, "chart.total")
        + ": %{customdata[1]}<br>"
        + t(language, "chart.delivered_pct")
        + ": %{customdata[2]}<br>"
        + t(language, "countries.error_pct")
        + ": %{customdata[3]}<extra></extra>"
    )
    # Biggest on top: a horizontal bar chart draws its first category at the bottom.
    y = names[::-1]
    bars = [
        {
            "type": "bar",
            "orientation": "h",
            "name": t(language, label_key),
            "y": y,
            "x": values[::-1],
            "marker": marker,
            "customdata": customdata[::-1],
            "hovertemplate": hover,
        }
        for label_key, values, marker in (
            (N_("chart.delivered"), delivered, {"color": DELIVERED_COLOUR}),
            (
                N_("chart.errors"),
                errors,
                {
                    "color": ERROR_COLOUR,
                    "pattern": {
                        "shape": "/",
                        "fillmode": "overlay",
                        "fgcolor": "white",
                        "solidity": 0.25,
                    },
                },
            ),
            (N_("countries.other_sent"), others, {"color": SENT_COLOUR}),
        )
    ]
    layout = {
        **_base_layout(t(language, "countries.chart_title"), language),
        "barmode": "stack",
        "hovermode": "closest",
        "height": max(240, 120 + 32 * len(names)),
        "margin": {"l": 140, "r": 16, "t": 72, "b": 48},
        "xaxis": {
            "title": {"text": t(language, "chart.messages")},
            "rangemode": "tozero",
            "fixedrange": True,
            "gridcolor": GRID_COLOUR,
        },
        "yaxis": {"fixedrange": True, "automargin": True},
    }
    return {"data": bars, "layout": layout}


# The breakdown sections' outputs where they do not apply (received messages).
NO_BREAKDOWNS = {
    "countries": [],
    "countries_chart": EMPTY_FIGURE,
    "countries_hidden": True,
    "operators": [],
    "operators_hidden": True,
    "templates": [],
    "templates_hidden": True,
}


def _section(language: str, title_key: str, body, section_id: str, hidden: bool, name: str):
    """A card of the view below the charts, with its title; hidden where the view has none."""
    return html.Div(
        dbc.Card(
            [
                dbc.CardHeader(html.H2(t(language, title_key), className="h6 mb-0")),
                dbc.CardBody(body),
            ],
            className=f"mb-3 {name}",
        ),
        id=section_id,
        hidden=hidden,
    )


def empty_state(language: str) -> list:
    return [
        html.Div("∅", className="empty-icon", **aria(hidden="true")),
        html.H3(t(language, "empty.title"), className="h5"),
        html.P(t(language, "empty.hint"), className="text-muted mb-0"),
    ]


def graph_card(graph_id: str, figure: dict | None) -> dbc.Card:
    return dbc.Card(
        dcc.Graph(
            id=graph_id, figure=figure or EMPTY_FIGURE, config=GRAPH_CONFIG, className="chart"
        ),
        body=True,
        className="mb-3",
    )


def view(language: str, content: dict | None = None) -> html.Div:
    """The consolidated view; `content` (the callback's outputs) fills it when the page is
    built for this view, otherwise its callback fills it when the view is opened."""
    content = content or {}
    body = html.Div(
        [
            kpi_row(language, content),
            dbc.Row(
                [
                    dbc.Col(
                        graph_card(ids.DAILY_CHART, content.get("daily")),
                        xs=12,
                        lg=7,
                        className="daily-col",
                    ),
                    dbc.Col(
                        graph_card(ids.DAILY_PCT_CHART, content.get("pct")),
                        xs=12,
                        lg=5,
                        className="pct-col",
                    ),
                ],
                className="g-3",
            ),
            dbc.Card(
                [
                    dbc.CardHeader(html.H2(t(language, "top_errors.title"), className="h6 mb-0")),
                    dbc.CardBody(html.Div(content.get("top_errors"), id=ids.TOP_ERRORS)),
                ],
                className="mb-3 top-errors-card",
            ),
            dbc.Card(
                [
                    dbc.CardHeader(
                        html.H2(t(language, "delivery_time.title"), className="h6 mb-0")
                    ),
                    dbc.CardBody(html.Div(content.get("delivery_time"), id=ids.DELIVERY_TIME)),
                ],
                className="mb-3 delivery-time-card",
            ),
            _section(
                language,
                N_("campaigns.title"),
                html.Div(content.get("campaigns"), id=ids.CAMPAIGNS),
                ids.CAMPAIGNS_CARD,
                content.get("campaigns_hidden", False),
                "campaigns-card",
            ),
            _section(
                language,
                N_("templates.title"),
                html.Div(content.get("templates"), id=ids.TEMPLATES),
                ids.TEMPLATES_CARD,
                content.get("templates_hidden", False),
                "templates-card",
            ),
            _section(
                language,
                N_("countries.title"),
                [
                    dcc.Graph(
                        id=ids.COUNTRIES_CHART,
                        figure=content.get("countries_chart", EMPTY_FIGURE),
                        config=GRAPH_CONFIG,
                        className="chart countries-chart",
                    ),
                    html.Div(content.get("countries"), id=ids.COUNTRIES),
                ],
                ids.COUNTRIES_CARD,
                content.get("countries_hidden", False),
                "countries-card",
            ),
            _section(
                language,
                N_("operators.title"),
                html.Div(content.get("operators"), id=ids.OPERATORS),
                ids.OPERATORS_CARD,
                content.get("operators_hidden", False),
                "operators-card",
            ),
        ],
        id=ids.CONSOLIDATED_BODY,
        className=content.get("body_class", BODY_CLASS),
        hidden=content.get("body_hidden", False),
    )
    return html.Div(
        [
            dcc.Store(id=ids.CONSOLIDATED_SHOWN, data=content.get("shown")),
            # The state this view is asked to show (written by the filter bar).
            dcc.Store(id=ids.CONSOLIDATED_REQUEST),
            html.Div(
                content.get("message"),
                id=ids.CONSOLIDATED_MESSAGE,
                className="field-error",
                role="alert",
            ),
            html.Div(
                content.get("empty"),
                id=ids.CONSOLIDATED_EMPTY,
                className="empty-state card card-body mb-3",
                hidden=content.get("empty_hidden", True),
            ),
            dcc.Loading(
                body,
                type="circle",
                delay_show=250,
                show_initially=False,
                overlay_style={"visibility": "visible", "opacity": 0.55},
            ),
        ]
    )
