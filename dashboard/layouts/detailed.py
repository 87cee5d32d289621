"""The detailed view: a server-paged message table, phone search and one message's detail."""

from __future__ import annotations

import html as html_text

import dash_bootstrap_components as dbc
import pandas as pd
from dash import dash_table, dcc, html

from dashboard import ids
from reporting.formatting import format_count, format_datetime
from reporting.i18n import label, t

PAGE_SIZE = 25
CONTENT_PREVIEW = 60
# Table columns in order; the sortable ones map to the data layer's sort keys.
COLUMNS = (
    "created_at",
    "phone",
    "direction",
    "subaccount",
    "user",
    "campaign",
    "content_type",
    "content",
    "status",
    "error_code",
    "error_description",
    "sent_at",
    "delivered_at",
    "read_at",
)
SORTABLE = {
    "created_at": "created_at",
    "phone": "phone",
    "direction": "direction",
    "subaccount": "subaccount",
    "user": "user",
    "campaign": "campaign",
    "content_type": "content_type",
    "status": "status",
    "error_code": "error_code",
}
TIME_COLUMNS = ("created_at", "sent_at", "delivered_at", "read_at")


def columns(language: str) -> list[dict]:
    return [
        {
            "name": t(language, f"column.{name}"),
            "id": name,
            **({"presentation": "markdown"} if name == "status" else {}),
        }
        for name in COLUMNS
    ]


def status_badge_html(status: str, language: str) -> str:
    """The status as a coloured badge that also carries its name (never colour alone)."""
    return (
        f'<span class="status-badge status-{html_text.escape(status)}">'
        f"{html_text.escape(label(language, 'status', status))}</span>"
    )


def shorten(text, limit: int = CONTENT_PREVIEW) -> str:
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return ""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _text(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value)


def display_phone(phone) -> str:
    digits = _text(phone)
    return f"+{digits}" if digits else ""


def table_rows(frame: pd.DataFrame, language: str) -> list[dict]:
    """One page of detailed_page() rows as the table's cells, in the language."""
    rows = []
    for record in frame.to_dict("records"):
        rows.append(
            {
                "id": record["message_id"],
                "created_at": format_datetime(record["created_at"], language),
                "phone": display_phone(record["phone"]),
                "direction": label(language, "direction_one", record["direction"]),
                "subaccount": _text(record["subaccount"]),
                "user": _text(record["user"]),
                "campaign": _text(record["campaign"]),
                "content_type": label(language, "content_type", record["content_type"]),
                "content": shorten(record["content"]),
                "status": status_badge_html(record["status"], language),
                "error_code": _text(record["error_code"]),
                "error_description": _text(record["error_description"]),
                "sent_at": format_datetime(record["sent_at"], language),
                "delivered_at": format_datetime(record["delivered_at"], language),
                "read_at": format_datetime(record["read_at"], language),
            }
        )
    return rows


def tooltips(frame: pd.DataFrame) -> list[dict]:
    """The full content of shortened cells, shown on hover."""
    return [
        {"content": {"value": _text(content), "type": "text"}}
        if len(_text(content)) > CONTENT_PREVIEW
        else {}
        for content in frame["content"]
    ]


def count_text(total: int, phone: str | None, language: str) -> str:
    if total == 1:
        return (
            t(language, "detailed.count_phone_one", phone=phone)
            if phone
            else t(language, "detailed.count_one")
        )
    if phone:
        return t(language, "detailed.count_phone", count=format_count(total, language), phone=phone)
    return t(language, "detailed.count", count=format_count(total, language))


def _event_name(language: str, status: str) -> str:
    if status in ("scheduled", "queued"):
        return t(language, "timeline.pending", status=label(language, "status", status))
    return t(language, f"timeline.{status}")


def event_timeline(record: dict, kept: list[dict], language: str) -> list[tuple[str, str]]:
    """(event, details) pairs from the message's kept events, oldest first: each status as
    its writer reported it, with its time, source and error, superseded failures included."""
    events: list[tuple[str, str]] = []
    if record["direction"] == "MT":
        events.append(
            (t(language, "timeline.created"), format_datetime(record["created_at"], language))
        )
    for event in kept:
        status = event["status"]
        if record["direction"] == "MT" and status == "received":
            continue
        when = event["event_at"]
        parts = [format_datetime(when, language)]
        if status == "error":
            parts.append(
                " · ".join(
                    v for v in (_text(event["error_code"]), _text(event["error_description"])) if v
                )
            )
        parts.append(f"({t(language, 'timeline.source.' + event['source'])})")
        events.append((_event_name(language, status), " ".join(p for p in parts if p)))
    return events


def timeline(record: dict, language: str, kept: list[dict] | None = None) -> list[tuple[str, str]]:
    """(event, time) pairs of one message in the order they happened: its kept events where
    there are any, else what the message's own times say (messages written before events
    were kept, and demo data)."""
    if kept:
        return event_timeline(record, kept, language)
    events: list[tuple[str, str]] = []
    if record["direction"] == "MO":
        events.append(
            (t(language, "timeline.received"), format_datetime(record["created_at"], language))
        )
        return events
    events.append(
        (t(language, "timeline.created"), format_datetime(record["created_at"], language))
    )
    for key in ("sent_at", "delivered_at", "read_at"):
        if _text(record.get(key)):
            events.append(
                (t(language, f"timeline.{key[:-3]}"), format_datetime(record[key], language))
            )
    status = record["status"]
    if status == "error":
        reason = " · ".join(
            v for v in (_text(record["error_code"]), _text(record["error_description"])) if v
        )
        events.append((t(language, "timeline.error"), reason))
    elif status == "cancelled":
        events.append((t(language, "timeline.cancelled"), ""))
    elif status in ("scheduled", "queued"):
        events.append(
            (t(language, "timeline.pending", status=label(language, "status", status)), "")
        )
    return events


def message_detail(record: dict, language: str, kept: list[dict] | None = None) -> html.Div:
    """Every field of one message and its timeline."""
    empty = t(language, "empty_value")
    fields = (
        ("message_id", _text(record["message_id"])),
        ("channel", label(language, "channel", record["channel"])),
        ("direction", label(language, "direction_one", record["direction"])),
        ("phone", display_phone(record["phone"])),
        ("contact_name", _text(record["contact_name"])),
        ("subaccount", _text(record["subaccount"])),
        ("user", _text(record["user"])),
        ("campaign", _text(record["campaign"])),
        ("content_type", label(language, "content_type", record["content_type"])),
        ("correlation_id", _text(record["correlation_id"])),
    )
    status = record["status"]
    return html.Div(
        [
            html.Div(
                html.Span(
                    label(language, "status", status), className=f"status-badge status-{status}"
                ),
                className="mb-2",
            ),
            html.H3(t(language, "column.content"), className="h6"),
            html.P(_text(record["content"]) or empty, className="detail-content"),
            html.Dl(
                [
                    item
                    for key, value in fields
                    for item in (html.Dt(t(language, f"column.{key}")), html.Dd(value or empty))
                ],
                className="detail-fields",
            ),
            html.H3(t(language, "detail.timeline"), className="h6"),
            html.Ol(
                [
                    html.Li(
                        [
                            html.Span(event, className="fw-semibold"),
                            html.Span(" " + when if when else ""),
                        ]
                    )
                    for event, when in timeline(record, language, kept)
                ],
                className="timeline",
            ),
        ]
    )


def view(language: str, search, sort_by: list[dict], content: dict | None = None) -> html.Div:
    """The detailed view under its search box (`search`, layouts.search); `content` (the table
    callback's outputs) fills its first page when the page is built for this view, otherwise
    its callback does when the view is opened."""
    content = content or {}
    table = dash_table.DataTable(
        id=ids.DETAILED_TABLE,
        columns=columns(language),
        data=content.get("data", []),
        tooltip_data=content.get("tooltips", []),
        page_action="custom",
        page_current=content.get("page_current", 0),
        page_size=PAGE_SIZE,
        page_count=content.get("page_count", 1),
        sort_action="custom",
        sort_mode="single",
        sort_by=sort_by,
        markdown_options={"html": True},
        cell_selectable=True,
        row_selectable=False,
        tooltip_delay=200,
        tooltip_duration=None,
        style_table={"overflowX": "auto"},
        style_cell={
            "textAlign": "left",
            "whiteSpace": "nowrap",
            "fontSize": "0.85rem",
            "padding": "4px 8px",
            "fontFamily": "var(--bs-body-font-family)",
        },
        style_data_conditional=[
            {
                "if": {"state": "active"},
                "backgroundColor": "#e7f1f8",
                "border": "1px solid #0072b2",
            },
            {
                "if": {"state": "selected"},
                "backgroundColor": "#e7f1f8",
                "border": "1px solid #0072b2",
            },
        ],
        style_header={"fontWeight": "600", "backgroundColor": "#f1f3f5"},
        style_cell_conditional=[
            {
                "if": {"column_id": "content"},
                "maxWidth": "14rem",
                "overflow": "hidden",
                "textOverflow": "ellipsis",
            },
            {
                "if": {"column_id": "error_description"},
                "maxWidth": "14rem",
                "overflow": "hidden",
                "textOverflow": "ellipsis",
            },
        ],
        css=[{"selector": ".dash-spreadsheet td div p", "rule": "margin: 0;"}]
        + [
            # Only whitelisted columns can be sorted: hide the others' sort arrows.
            {
                "selector": f'th[data-dash-column="{name}"] .column-header--sort',
                "rule": "display: none;",
            }
            for name in COLUMNS
            if name not in SORTABLE
        ],
    )
    return html.Div(
        [
            dbc.Row(
                [
                    dbc.Col(search, xs=12, md=7, lg=5),
                    dbc.Col(
                        html.Div(
                            content.get("count"),
                            id=ids.DETAILED_COUNT,
                            className="detailed-count",
                            role="status",
                        ),
                        xs=12,
                        md=5,
                        lg=7,
                        className="d-flex align-items-end justify-content-md-end mb-2",
                    ),
                ],
                className="g-2",
            ),
            dcc.Store(id=ids.DETAILED_SHOWN, data=content.get("shown")),
            # The state this view is asked to show (written by the filter bar).
            dcc.Store(id=ids.DETAILED_REQUEST),
            html.Div(
                content.get("message"),
                id=ids.DETAILED_MESSAGE,
                className="field-error",
                role="alert",
            ),
            html.P(t(language, "detailed.hint"), className="text-muted small mb-1"),
            dcc.Loading(
                table,
                type="circle",
                delay_show=250,
                show_initially=False,
                overlay_style={"visibility": "visible", "opacity": 0.55},
            ),
            html.Button(
                id=ids.MESSAGE_DETAIL_REOPEN,
                className="reopen-detail",
                hidden=True,
                tabIndex="-1",
                **{"aria-hidden": "true"},
            ),
            dbc.Offcanvas(
                html.Div(id=ids.MESSAGE_DETAIL_BODY),
                id=ids.MESSAGE_DETAIL,
                title=t(language, "detail.title"),
                placement="end",
                is_open=False,
                scrollable=True,
                close_button=True,
            ),
        ],
        className="detailed-area",
    )
