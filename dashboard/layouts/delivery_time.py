"""The consolidated view's delivery time: p50 / p90 / p99 from creation to delivered (and to
read on WhatsApp) over the range and per day, and the share delivered within 5 s, 1 min, 1 h."""

from __future__ import annotations

import math
from functools import lru_cache

import pandas as pd
from babel.numbers import format_decimal
from dash import dcc, html

from dashboard import ids
from dashboard.layouts.consolidated import GRAPH_CONFIG, GRID_COLOUR, _axis, _base_layout
from data_access import delivery_times as dt
from reporting.formatting import babel_locale, format_count, format_date, format_pct
from reporting.i18n import N_, t

# Okabe-Ito colours, and a dash pattern each, so the lines are told apart without colour too.
PERCENTILE_STYLES = {
    "p50": ("#0072B2", "solid"),
    "p90": ("#E69F00", "dash"),
    "p99": ("#CC79A7", "dot"),
}
PERCENTILE_KEYS = {
    "p50": N_("delivery_time.p50"),
    "p90": N_("delivery_time.p90"),
    "p99": N_("delivery_time.p99"),
}
WITHIN_KEYS = {
    "within_5s": N_("delivery_time.within_5s"),
    "within_1min": N_("delivery_time.within_1min"),
    "within_1h": N_("delivery_time.within_1h"),
}
# Duration units from the largest down: (seconds in one, catalog key).
UNITS = (
    (86400, N_("duration.days")),
    (3600, N_("duration.hours")),
    (60, N_("duration.minutes")),
    (1, N_("duration.seconds")),
)
# The log axis's ticks: round durations a person reads at a glance.
AXIS_TICKS = (1, 5, 15, 60, 300, 900, 3600, 21600, 86400, 604800)


def format_duration(seconds: float | None, language: str) -> str:
    """'5,9 s', '2,5 min', '1,2 h', '3 d' in the language."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return t(language, "empty_value")
    return _duration_text(max(float(seconds), 0.0), language)


# A day's percentiles are the same in every range that shows the day: remembered by their
# exact value (a chart writes hundreds).
@lru_cache(maxsize=16384)
def _duration_text(value: float, language: str) -> str:
    for size, key in UNITS:
        if value >= size or size == 1:
            amount = value / size
            pattern = "#,##0.0" if amount < 10 and amount != int(amount) else "#,##0"
            number = format_decimal(round(amount, 1), format=pattern, locale=babel_locale(language))
            return t(language, key, value=number)
    raise AssertionError("unreachable: the last unit takes every value")


def format_percentile(seconds: float | None, language: str) -> str:
    """A percentile's duration; from the last bucket bound on it reads '≥ 7 d': the open
    bucket past it has no upper bound to place a percentile by."""
    text = format_duration(seconds, language)
    if seconds is not None and not math.isnan(seconds) and seconds >= dt.BUCKET_BOUNDS[-1]:
        return t(language, "duration.at_least", value=text)
    return text


def _value(frame_value) -> float | None:
    return None if frame_value is None or pd.isna(frame_value) else float(frame_value)


def _pct_text(value: float | None, language: str) -> str:
    return t(language, "empty_value") if value is None else format_pct(value, language)


def summary_table(whole: pd.Series, channel: str, language: str) -> html.Div:
    """One row per measure (to delivered; to read on WhatsApp): messages, p50, p90, p99."""
    measures = [("delivered", N_("delivery_time.to_delivered"))]
    if channel != "sms":
        measures.append(("read", N_("delivery_time.to_read")))
    header = html.Tr(
        [
            html.Th(t(language, "delivery_time.measure"), scope="col"),
            html.Th(t(language, "delivery_time.messages"), scope="col", className="text-end"),
            *(
                html.Th(t(language, key), scope="col", className="text-end")
                for key in PERCENTILE_KEYS.values()
            ),
        ]
    )
    rows = [
        html.Tr(
            [
                html.Th(t(language, key), scope="row"),
                html.Td(format_count(int(whole[name]), language), className="text-end"),
                *(
                    html.Td(
                        format_percentile(_value(whole[f"{name}_{p}"]), language),
                        className="text-end",
                    )
                    for p in PERCENTILE_KEYS
                ),
            ]
        )
        for name, key in measures
    ]
    # In a scrolling box of its own: at phone width the percentiles' columns are wider than
    # the screen, and the page itself must not scroll sideways.
    return html.Div(
        html.Table(
            [html.Thead(header), html.Tbody(rows)],
            className="table table-sm mb-0 delivery-time-table",
        ),
        className="table-responsive mb-3",
    )


def shares(whole: pd.Series, language: str) -> html.Div:
    """The share of delivered messages delivered within 5 s, 1 min and 1 h."""
    return html.Div(
        [
            html.Div(
                [
                    html.Div(
                        _pct_text(_value(whole[f"{name}_pct"]), language),
                        className="delivery-share-value fs-4 fw-semibold",
                    ),
                    html.Div(t(language, key), className="text-muted small"),
                ],
                className="delivery-share col",
            )
            for name, key in WITHIN_KEYS.items()
        ],
        className="row g-3 mb-3 delivery-shares",
    )


def time_figure(days_frame: pd.DataFrame, measure: str, title_key: str, language: str) -> dict:
    """One line per percentile over the range's days, on a logarithmic axis of seconds; a day
    without a delivery (or read) leaves a gap."""
    days = list(days_frame["date"])
    x = [day.isoformat() for day in days]
    lines = []
    for name, key in PERCENTILE_KEYS.items():
        colour, dash = PERCENTILE_STYLES[name]
        values = [_value(v) for v in days_frame[f"{measure}_{name}"]]
        lines.append(
            {
                "type": "scatter",
                "name": t(language, key),
                "x": x,
                "y": values,
                "mode": "lines+markers",
                "line": {"color": colour, "width": 2, "dash": dash},
                "marker": {"size": 6},
                "customdata": [
                    [format_date(day, language), format_percentile(v, language)]
                    for day, v in zip(days, values, strict=True)
                ],
                # The day heads the first line, as on the other daily charts.
                "hovertemplate": ("<b>%{customdata[0]}</b><br>" if name == "p50" else "")
                + t(language, key)
                + ": %{customdata[1]}<extra></extra>",
                "connectgaps": False,
            }
        )
    layout = {
        **_base_layout(t(language, title_key), language),
        "xaxis": _axis(days, language),
        "yaxis": {
            "type": "log",
            "tickvals": list(AXIS_TICKS),
            "ticktext": [format_duration(s, language) for s in AXIS_TICKS],
            "title": {"text": t(language, "delivery_time.axis")},
            "fixedrange": True,
            "gridcolor": GRID_COLOUR,
        },
    }
    return {"data": lines, "layout": layout}


def precision_note(language: str) -> html.P:
    bounds = ", ".join(format_duration(s, language) for s in dt.BUCKET_BOUNDS)
    return html.P(
        t(language, "delivery_time.precision", bounds=bounds),
        className="text-muted small mb-0 delivery-time-precision",
    )


def section(frame: pd.DataFrame | None, language: str, channel: str, direction: str | None):
    """The delivery time card's contents for a view: a line saying why there is nothing to
    show (received messages, a store that does not answer it, nothing delivered), or the
    range's table and shares, a chart per measure and how precise the percentiles are."""
    if direction == "MO":
        return html.P(t(language, "delivery_time.received"), className="text-muted mb-0")
    if frame is None:
        return html.P(t(language, "delivery_time.not_available"), className="text-muted mb-0")
    days_frame, whole = frame.iloc[:-1], frame.iloc[-1]
    if not whole["delivered"] and not (channel != "sms" and whole["read"]):
        return html.P(t(language, "delivery_time.none_delivered"), className="text-muted mb-0")
    charts = [("delivered", ids.DELIVERY_TIME_CHART, N_("delivery_time.chart_delivered"))]
    if channel != "sms":
        charts.append(("read", ids.READ_TIME_CHART, N_("delivery_time.chart_read")))
    return [
        summary_table(whole, channel, language),
        shares(whole, language),
        html.Div(
            [
                html.Div(
                    dcc.Graph(
                        id=graph_id,
                        figure=time_figure(days_frame, measure, title, language),
                        config=GRAPH_CONFIG,
                        className="chart",
                    ),
                    className="col-12 col-lg-6",
                )
                for measure, graph_id, title in charts
            ],
            className="row g-3 mb-2",
        ),
        precision_note(language),
    ]
