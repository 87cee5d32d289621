"""The consolidated view's sections as exported tables: one registry, one entry per section.

The daily series is the consolidated file itself (exports.writers); each section here is one
more table of the same view, in the same scope and filters: an XLSX sheet of its own, or a CSV
file of its own in the ZIP of sections. A section is a key, the catalog key of its title (the
sheet's name), its columns (the catalog key of each header and the kind of its cells) and a
function that reads its rows from the store. Adding a section is one entry in SECTIONS and its
words in the catalogs; the writers need no change.

Column kinds: `int` (a count), `decimal` (a percentage, percentage points or seconds, rounded
half up to two places as the daily sheet's), `text`, `date` (a day; a row's label in its place,
such as the delivery times' whole period, is written as text). A section's rows come as a
DataFrame of those columns in order; `None` when the store does not answer the section yet
(ClickHouse), which the file says instead of holding a sheet.

A section is in the file where the view shows it (`shown`: received messages have none but the
previous period; SMS has no templates), and a section the view hides while it has no rows
(operators, known only where the channel reports them) is left out then too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine

from data_access import reports
from data_access.filters import AccessScope, ReportFilter
from reporting.error_codes import error_meaning
from reporting.formatting import country_name, format_picker_day
from reporting.i18n import N_, t

Bind = Engine | Connection
KINDS = ("int", "decimal", "text", "date")
_PCT_STEP = Decimal("0.01")
# The file has room for more reasons than the card's ten; the share stays of all errors.
ERROR_REASONS_LIMIT = 100


def rounded_percentage(value) -> float | None:
    """Rounded half up, as a spreadsheet's ROUND and people do (3.125 -> 3.13), from the
    shortest decimal that reads back as the float."""
    if missing(value):
        return None
    return float(Decimal(repr(float(value))).quantize(_PCT_STEP, rounding=ROUND_HALF_UP))


def missing(value) -> bool:
    return value is None or bool(pd.isna(value))


@dataclass(frozen=True)
class SectionColumn:
    header: str  # catalog key; may name {start}, {end}, {previous_start}, {previous_end}
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


RowsFn = Callable[[Bind, AccessScope, ReportFilter, str], pd.DataFrame | None]


@dataclass(frozen=True)
class SectionTable:
    """A section's rows as a file holds them: header words, kinds and typed rows (ints,
    rounded percentages, texts, days; None for an empty cell)."""

    title: str
    headers: list[str]
    kinds: list[str]
    rows: list[list]

    def row_kinds(self, row: list) -> list[str]:
        """The kinds of a row's cells: a label in a date column (the whole period's row) is
        text, as the daily sheet's Total."""
        return [
            "text" if kind == "date" and isinstance(value, str) else kind
            for value, kind in zip(row, self.kinds, strict=True)
        ]

    def runs(self) -> list[tuple[list[str], list[list]]]:
        """The rows in order, in runs of rows whose cells have the same kinds."""
        out: list[tuple[list[str], list[list]]] = []
        for row in self.rows:
            kinds = self.row_kinds(row)
            if out and out[-1][0] == kinds:
                out[-1][1].append(row)
            else:
                out.append((kinds, [row]))
        return out


@dataclass(frozen=True)
class Section:
    key: str
    title: str  # catalog key of its name (an XLSX sheet's, a CSV file's in the ZIP)
    columns: tuple[SectionColumn, ...]
    rows: RowsFn
    # Whether the view shows the section for a filter (received messages have no errors,
    # delivery or breakdowns, so the view hides those and the file leaves them out).
    shown: Callable[[ReportFilter], bool] = lambda flt: True
    # Whether the view hides the section while it has no rows (operators: only where some
    # operator is known), so the file leaves it out then too.
    hidden_when_empty: bool = False

    def headers(self, language: str, flt: ReportFilter) -> list[str]:
        previous = reports.previous_filter(flt)
        days = {
            "start": format_picker_day(flt.start, language),
            "end": format_picker_day(flt.end, language),
            "previous_start": format_picker_day(previous.start, language),
            "previous_end": format_picker_day(previous.end, language),
        }
        return [t(language, column.header, **days) for column in self.columns]

    def frame(
        self, bind: Bind, scope: AccessScope, flt: ReportFilter, language: str
    ) -> pd.DataFrame | None:
        """The section's rows with the header words of the language as column names; None
        when the store does not answer it yet."""
        found = self.rows(bind, scope, flt, language)
        if found is None:
            return None
        if len(found.columns) != len(self.columns):
            raise ValueError(f"section {self.key!r} read {len(found.columns)} columns")
        found = found.copy()
        found.columns = self.headers(language, flt)
        return found

    def table(
        self, bind: Bind, scope: AccessScope, flt: ReportFilter, language: str
    ) -> SectionTable | None:
        frame = self.frame(bind, scope, flt, language)
        if frame is None:
            return None
        kinds = [column.kind for column in self.columns]
        rows = [
            [_cell(value, kind) for value, kind in zip(record, kinds, strict=True)]
            for record in frame.itertuples(index=False, name=None)
        ]
        return SectionTable(t(language, self.title), list(frame.columns), kinds, rows)


def _cell(value, kind: str):
    if missing(value):
        return None
    if kind == "int":
        return int(value)
    if kind == "decimal":
        return rounded_percentage(value)
    if kind == "text":
        return str(value)
    return value  # a datetime.date


def _sent_messages(flt: ReportFilter) -> bool:
    return flt.direction != "MO"


def _whatsapp_sent_messages(flt: ReportFilter) -> bool:
    # SMS has no templates: the view hides their table.
    return _sent_messages(flt) and flt.channel != "sms"


# --- each KPI against the previous period ---------------------------------------------------

PERIOD_FIGURES = (
    ("total", N_("kpi.total")),
    ("sent", N_("kpi.sent")),
    ("delivered", N_("kpi.delivered")),
    ("read", N_("kpi.read")),
    ("errors", N_("kpi.errors")),
    ("received", N_("kpi.received")),
)
_VERDICTS = {
    "better": N_("section.verdict.better"),
    "worse": N_("section.verdict.worse"),
    "same": N_("section.verdict.same"),
}


def _share(totals: dict, key: str) -> float | None:
    """A figure's share of the period's total, as the cards show it (None without one)."""
    if key not in reports.SHARE_OF or totals.get(key) is None or not totals["total"]:
        return None  # no share of a period that sent nothing, as on the cards
    if key == "sent":
        return totals["sent"] * 100.0 / totals["total"]
    return totals[reports.SHARE_OF[key]]


def previous_period_rows(
    bind: Bind, scope: AccessScope, flt: ReportFilter, language: str
) -> pd.DataFrame:
    """One row per KPI: this period, the previous one of the same length, the count's change,
    both shares of the total and their change in percentage points, and whether that is
    better or worse (reports.period_changes, as the cards compare them)."""
    current = reports.range_totals(reports.daily_series(bind, scope, flt), flt.channel)
    before = reports.range_totals(
        reports.daily_series(bind, scope, reports.previous_filter(flt)), flt.channel
    )
    changes = reports.period_changes(current, before)
    rows = []
    for key, word in PERIOD_FIGURES:
        change = changes[key]
        rows.append(
            [
                t(language, word),
                current[key],
                before[key],
                change.count,
                _share(current, key),
                _share(before, key),
                change.points,
                t(language, _VERDICTS[change.verdict]) if change.verdict in _VERDICTS else None,
            ]
        )
    return pd.DataFrame(rows)


# --- error reasons ---------------------------------------------------------------------------


def error_reason_rows(
    bind: Bind, scope: AccessScope, flt: ReportFilter, language: str
) -> pd.DataFrame:
    """The error reasons of the range's sent messages, most frequent first: the code, the
    operator's text, what a known code means in the language, messages and share of errors."""
    found = reports.top_errors(bind, scope, flt, limit=ERROR_REASONS_LIMIT)
    return pd.DataFrame(
        [
            [
                None if missing(row.error_code) else str(row.error_code),
                None if missing(row.error_description) else str(row.error_description),
                error_meaning(language, flt.channel, row.error_code),
                row.count,
                row.share,
            ]
            for row in found.itertuples(index=False)
        ],
        columns=range(5),
    )


# --- delivery times --------------------------------------------------------------------------


def delivery_time_rows(
    bind: Bind, scope: AccessScope, flt: ReportFilter, language: str
) -> pd.DataFrame | None:
    """The delivery times (reports.delivery_times): a row per day of the range, then the whole
    period's row, labelled in the language where the day would be. Percentiles in seconds,
    estimated from the buckets of data_access/delivery_times.py as the screen's are (the last
    bucket has no upper bound: a percentile there is its lower bound, a week); the read cells
    are empty on SMS, which has no read receipts."""
    found = reports.delivery_times(bind, scope, flt)
    if found is None:
        return None
    rows = [
        [t(language, "section.whole_period") if missing(day) else day, *figures]
        for day, *figures in found.itertuples(index=False, name=None)
    ]
    return pd.DataFrame(rows, columns=range(len(reports.DELIVERY_TIME_COLUMNS)))


# --- campaigns, templates, countries and operators -------------------------------------------


def _figure_cells(row, flt: ReportFilter, language: str) -> list:
    """A group's figures (reports.FIGURE_COLUMNS) as the file holds them: counts, shares, and
    its most frequent error with the code's meaning beside the operator's text; SMS has no read
    receipts, so its read cells are empty, not 0."""
    sms = flt.channel == "sms"
    has_error = bool(row.top_error_count)
    return [
        row.total,
        row.sent,
        row.delivered,
        None if sms else row.read,
        row.errors,
        row.delivered_pct,
        None if sms else row.read_pct,
        row.error_pct,
        row.top_error_code if has_error and not missing(row.top_error_code) else None,
        row.top_error_description if has_error and not missing(row.top_error_description) else None,
        error_meaning(language, flt.channel, row.top_error_code) if has_error else None,
        row.top_error_count if has_error else None,
    ]


def _breakdown_rows(
    found: pd.DataFrame | None,
    names: Callable[[Any], list],
    name_cells: int,
    flt: ReportFilter,
    language: str,
) -> pd.DataFrame | None:
    """One row per group of a breakdown table: its `name_cells` names (`names` of a row), then
    its figures; None when the store does not answer it."""
    if found is None:
        return None
    rows = [names(row) + _figure_cells(row, flt, language) for row in found.itertuples(index=False)]
    return pd.DataFrame(rows, columns=range(name_cells + len(FIGURE_HEADERS)))


def campaign_rows(
    bind: Bind, scope: AccessScope, flt: ReportFilter, language: str
) -> pd.DataFrame | None:
    """The campaigns table (reports.campaign_table); the messages without a campaign in a row
    of their own, named in the language."""

    def names(row) -> list:
        return [t(language, "campaigns.no_campaign") if missing(row.campaign) else row.campaign]

    return _breakdown_rows(reports.campaign_table(bind, scope, flt), names, 1, flt, language)


def template_rows(
    bind: Bind, scope: AccessScope, flt: ReportFilter, language: str
) -> pd.DataFrame | None:
    """The WhatsApp templates table (reports.template_table)."""
    found = reports.template_table(bind, scope, flt)
    return _breakdown_rows(found, lambda row: [row.template], 1, flt, language)


def country_rows(
    bind: Bind, scope: AccessScope, flt: ReportFilter, language: str
) -> pd.DataFrame | None:
    """The countries table (reports.country_table), each country named in the language as the
    screen names it (ZZ, a number of no known country, in the catalog's words)."""
    found = reports.country_table(bind, scope, flt)
    return _breakdown_rows(
        found, lambda row: [country_name(row.country, language)], 1, flt, language
    )


def operator_rows(
    bind: Bind, scope: AccessScope, flt: ReportFilter, language: str
) -> pd.DataFrame | None:
    """The operators table (reports.operator_table): country, as the screen names it, and
    operator."""
    found = reports.operator_table(bind, scope, flt)
    return _breakdown_rows(
        found, lambda row: [country_name(row.country, language), row.operator], 2, flt, language
    )


# The figures' headers of each breakdown (campaigns, templates, countries, operators), in the
# order of _figure_cells.
FIGURE_HEADERS = (
    (N_("kpi.total"), "int"),
    (N_("kpi.sent"), "int"),
    (N_("kpi.delivered"), "int"),
    (N_("kpi.read"), "int"),
    (N_("kpi.errors"), "int"),
    (N_("campaigns.delivered_pct"), "decimal"),
    (N_("campaigns.read_pct"), "decimal"),
    (N_("campaigns.error_pct"), "decimal"),
    (N_("section.top_error_code"), "text"),
    (N_("section.top_error_description"), "text"),
    (N_("section.top_error_meaning"), "text"),
    (N_("section.top_error_count"), "int"),
)


def _columns(*pairs: tuple[str, str]) -> tuple[SectionColumn, ...]:
    return tuple(SectionColumn(header, kind) for header, kind in pairs)


SECTIONS = (
    Section(
        "previous_period",
        N_("section.previous_period"),
        _columns(
            (N_("section.figure"), "text"),
            (N_("section.this_period"), "int"),
            (N_("section.previous_period_days"), "int"),
            (N_("section.change"), "int"),
            (N_("section.this_share"), "decimal"),
            (N_("section.previous_share"), "decimal"),
            (N_("section.change_points"), "decimal"),
            (N_("section.verdict"), "text"),
        ),
        previous_period_rows,
    ),
    Section(
        "error_reasons",
        N_("section.error_reasons"),
        _columns(
            (N_("top_errors.code"), "text"),
            (N_("column.error_description"), "text"),
            (N_("column.error_meaning"), "text"),
            (N_("top_errors.count"), "int"),
            (N_("section.share_of_errors"), "decimal"),
        ),
        error_reason_rows,
        _sent_messages,
    ),
    Section(
        "delivery_times",
        N_("delivery_time.title"),
        _columns(
            (N_("chart.day"), "date"),
            (N_("kpi.delivered"), "int"),
            (N_("section.delivered_p50"), "decimal"),
            (N_("section.delivered_p90"), "decimal"),
            (N_("section.delivered_p99"), "decimal"),
            (N_("section.within_5s"), "decimal"),
            (N_("section.within_1min"), "decimal"),
            (N_("section.within_1h"), "decimal"),
            (N_("kpi.read"), "int"),
            (N_("section.read_p50"), "decimal"),
            (N_("section.read_p90"), "decimal"),
            (N_("section.read_p99"), "decimal"),
        ),
        delivery_time_rows,
        _sent_messages,
    ),
    Section(
        "campaigns",
        N_("campaigns.title"),
        _columns((N_("campaigns.campaign"), "text"), *FIGURE_HEADERS),
        campaign_rows,
        _sent_messages,
    ),
    Section(
        "templates",
        N_("templates.title"),
        _columns((N_("templates.template"), "text"), *FIGURE_HEADERS),
        template_rows,
        _whatsapp_sent_messages,
    ),
    Section(
        "countries",
        N_("countries.title"),
        _columns((N_("countries.country"), "text"), *FIGURE_HEADERS),
        country_rows,
        _sent_messages,
    ),
    Section(
        "operators",
        N_("operators.title"),
        _columns(
            (N_("countries.country"), "text"), (N_("operators.operator"), "text"), *FIGURE_HEADERS
        ),
        operator_rows,
        _sent_messages,
        hidden_when_empty=True,
    ),
)
SECTION_KEYS = tuple(section.key for section in SECTIONS)


def shown_sections(flt: ReportFilter) -> list[Section]:
    """The sections the view shows for a filter, in its order (a section it hides while empty
    is left out by the writer once its rows are read)."""
    return [section for section in SECTIONS if section.shown(flt)]
