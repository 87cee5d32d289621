"""The detailed view: a server-paged message table, phone search and one message's detail."""

from __future__ import annotations

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
from dash import dcc, html

from dashboard import ids
from dashboard.layouts.aria import aria
from reporting.error_codes import described_error
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
# Shown until a person chooses otherwise: what support staff and managers look at first, and
# what fits 1440 px without scrolling sideways. The rest are a click away in the chooser.
DEFAULT_COLUMNS = (
    "created_at",
    "phone",
    "direction",
    "subaccount",
    "campaign",
    "content",
    "status",
    "error_code",
    "error_description",
)
# Pixel widths; the two text columns share what is left (flex) and wrap nothing.
COLUMN_WIDTHS = {
    "created_at": 158,
    "phone": 142,
    "direction": 128,
    "subaccount": 170,
    "user": 110,
    "campaign": 140,
    "content_type": 112,
    "status": 118,
    "error_code": 96,
    "sent_at": 158,
    "delivered_at": 158,
    "read_at": 158,
}
FLEX_COLUMNS = {"content": 2, "error_description": 1}


def chosen_columns(chosen) -> tuple[str, ...]:
    """The known columns of a choice, in table order; no usable choice means the defaults."""
    if not isinstance(chosen, (list, tuple)):
        return DEFAULT_COLUMNS
    picked = tuple(name for name in COLUMNS if name in chosen)
    return picked or DEFAULT_COLUMNS


def column_defs(
    language: str, sort_by: list[dict], shown: tuple[str, ...] = DEFAULT_COLUMNS
) -> list[dict]:
    """The grid's columns: headers in the language, only whitelisted ones sortable, the
    applied order's arrow (`sort_by`, layouts.reports.sort_by_of) and the chosen columns."""
    arrows = {item["column_id"]: item["direction"] for item in sort_by}
    defs = []
    for name in COLUMNS:
        column = {
            "field": name,
            "colId": name,
            "headerName": t(language, f"column.{name}"),
            "sortable": name in SORTABLE,
            "hide": name not in shown,
        }
        if name in FLEX_COLUMNS:
            column.update(flex=FLEX_COLUMNS[name], minWidth=160)
        else:
            column["width"] = COLUMN_WIDTHS[name]
        if name in arrows:
            column["sort"] = arrows[name]
        if name == "status":
            # assets/dashAgGridComponentFunctions.js: the badge with the status's name.
            column["cellRenderer"] = "StatusBadge"
        if name == "content":
            column["tooltipField"] = "content_full"
        defs.append(column)
    return defs


def column_options(language: str) -> list[dict]:
    return [{"label": t(language, f"column.{name}"), "value": name} for name in COLUMNS]


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
    """One page of detailed_page() rows as the grid's cells, in the language; a shortened
    content carries its full text (`content_full`, shown on hover)."""
    rows = []
    for record in frame.to_dict("records"):
        content = _text(record["content"])
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
                "content_full": content if len(content) > CONTENT_PREVIEW else None,
                "status": record["status"],
                "status_label": label(language, "status", record["status"]),
                "error_code": _text(record["error_code"]),
                "error_description": described_error(
                    language,
                    record.get("channel"),
                    record["error_code"],
                    _text(record["error_description"]),
                ),
                "sent_at": format_datetime(record["sent_at"], language),
                "delivered_at": format_datetime(record["delivered_at"], language),
                "read_at": format_datetime(record["read_at"], language),
            }
        )
    return rows


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


def with_error_codes(count: str, codes: tuple[str, ...], language: str) -> str:
    """The count's line, saying which error codes it is limited to (an error reason of the
    consolidated view opened it; the filter bar has no control for them)."""
    if not codes:
        return count
    note = t(language, "detailed.error_codes_note", codes=", ".join(codes))
    return f"{count} · {note}"


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
        when = format_datetime(event["event_at"], language)
        if not when and status == "error":
            # A failure reported without its time: when it was recorded, said as such.
            recorded = format_datetime(event.get("recorded_at"), language)
            when = t(language, "timeline.recorded", time=recorded) if recorded else ""
        parts = [when]
        if status == "error":
            parts.append(
                " · ".join(
                    v
                    for v in (
                        _text(event["error_code"]),
                        described_error(
                            language,
                            record.get("channel"),
                            event["error_code"],
                            _text(event["error_description"]),
                        ),
                    )
                    if v
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
        # The message keeps no time of its failure (only kept events do): say so in its place.
        reason = " · ".join(
            v
            for v in (
                t(language, "timeline.time_unknown"),
                _text(record["error_code"]),
                described_error(
                    language,
                    record.get("channel"),
                    record["error_code"],
                    _text(record["error_description"]),
                ),
            )
            if v
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


def pager(language: str, content: dict) -> html.Nav:
    """First, previous, next and last page, each a button that says so, and where we are."""

    def button(move: str, component_id: str, text: str) -> dbc.Button:
        return dbc.Button(
            text,
            id=component_id,
            color="secondary",
            outline=True,
            size="sm",
            disabled=content.get(f"{move}_disabled", True),
        )

    return html.Nav(
        [
            button("first", ids.DETAILED_PAGE_FIRST, t(language, "detailed.page_first")),
            button("previous", ids.DETAILED_PAGE_PREVIOUS, t(language, "detailed.page_previous")),
            html.Span(content.get("page_text"), id=ids.DETAILED_PAGE_TEXT, className="page-text"),
            button("next", ids.DETAILED_PAGE_NEXT, t(language, "detailed.page_next")),
            button("last", ids.DETAILED_PAGE_LAST, t(language, "detailed.page_last")),
        ],
        className="detailed-pager",
        **aria(label=t(language, "detailed.pages")),
    )


def column_chooser(language: str, shown: tuple[str, ...]) -> html.Details:
    """Which columns the table shows; the choice is kept with the person's account."""
    return html.Details(
        [
            html.Summary(
                t(language, "detailed.columns"), className="btn btn-sm btn-outline-secondary"
            ),
            dcc.Checklist(
                id=ids.DETAILED_COLUMNS,
                options=column_options(language),
                value=list(shown),
                className="column-choices",
                inputClassName="form-check-input me-1",
                labelClassName="form-check-label",
            ),
        ],
        className="column-chooser",
    )


def page_text(language: str, page_number: int, page_count: int) -> str:
    return t(
        language,
        "detailed.page_of",
        page=format_count(page_number + 1, language),
        pages=format_count(page_count, language),
    )


def view(
    language: str,
    search,
    sort_by: list[dict],
    content: dict | None = None,
    shown_columns: tuple[str, ...] = DEFAULT_COLUMNS,
) -> html.Div:
    """The detailed view under its search box (`search`, layouts.search); `content` (the table
    callback's outputs) fills its page when the page is built for this view, otherwise its
    callback does when the view is opened. `shown_columns` are the person's chosen columns."""
    content = content or {}
    grid = dag.AgGrid(
        id=ids.DETAILED_TABLE,
        columnDefs=column_defs(language, sort_by, shown_columns),
        rowData=content.get("data", []),
        # One page at a time, as the server sorted it: the grid's own (client-side) sort keeps
        # the rows in the order they came in (serverOrder, assets/dashAgGridFunctions.js), and
        # the filter bar asks the server for the order its header shows (SORT_REQUEST in
        # callbacks.detailed).
        defaultColDef={
            "resizable": True,
            "suppressMovable": True,
            "comparator": {"function": "serverOrder"},
        },
        getRowId="params.data.id",
        dashGridOptions={
            "domLayout": "autoHeight",
            # Tab leaves the grid (arrows move inside it) instead of visiting every cell.
            "tabToNextCell": {"function": "false"},
            "tabToNextHeader": {"function": "false"},
            "tooltipShowDelay": 200,
            "suppressNoRowsOverlay": True,
            "enableCellTextSelection": True,
            "ensureDomOrder": True,
        },
        className="detailed-grid",
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
            # An order chosen in the grid's header, for the filter bar (callbacks.filters).
            dcc.Store(id=ids.DETAILED_SORT),
            html.Div(
                content.get("message"),
                id=ids.DETAILED_MESSAGE,
                className="field-error",
                role="alert",
            ),
            html.Div(
                [
                    html.P(t(language, "detailed.hint"), className="text-muted small mb-0"),
                    column_chooser(language, shown_columns),
                ],
                className="detailed-toolbar",
            ),
            dcc.Loading(
                grid,
                type="circle",
                delay_show=250,
                show_initially=False,
                overlay_style={"visibility": "visible", "opacity": 0.55},
            ),
            pager(language, content),
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
