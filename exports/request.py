"""What an export asks for: the view state, format, language and time zone, validated once."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date

from clock import time_zone
from data_access.filters import FilterError, ReportFilter, today_in
from data_access.reports import SORT_COLUMNS
from reporting.i18n import t
from reporting.languages import normalize_language
from reporting.view_state import ViewState

# `zip`: the consolidated view's daily CSV as the `csv` format writes it, with one CSV per
# section of the view beside it (exports.sections; README, "Exports").
FORMATS = ("csv", "xlsx", "zip")
MEDIA_TYPES = {
    "csv": "text/csv",
    "zip": "application/zip",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class ExportError(ValueError):
    """An export request that cannot run; the message says what to change."""


def check_timezone(timezone: str) -> str:
    if time_zone(timezone) is None:
        raise ExportError(f"{timezone!r} is not an IANA time zone (for example America/Sao_Paulo).")
    return str(timezone)


@dataclass(frozen=True)
class ExportRequest:
    """A validated export. `state` holds absolute dates, so running it later gives the same rows.

    `today` is the day the request was made in its time zone: the filter's 90-day window is
    checked against it, so a job picked up after midnight or a restart still runs.
    """

    state: ViewState
    format: str
    language: str
    timezone: str
    today: date

    @classmethod
    def build(
        cls,
        state: ViewState | dict | None,
        format: str,
        language: str | None,
        timezone: str,
        today: date | None = None,
    ) -> ExportRequest:
        """Validate every part; raises ExportError or FilterError with a message for the user."""
        if format not in FORMATS:
            raise ExportError(f"The format must be csv, xlsx or zip, got {format!r}.")
        timezone = check_timezone(timezone)
        if not isinstance(state, ViewState):
            state = ViewState.from_dict(state)
        if format == "zip" and state.view != "consolidated":
            raise ExportError(
                "The zip format holds the consolidated view's sections: ask for the"
                " consolidated view, or csv or xlsx for the detailed one."
            )
        if state.sort not in SORT_COLUMNS:
            raise FilterError("unknown_sort", "sort", f"Cannot sort by {state.sort!r}.")
        today = today or today_in(timezone)
        draft = cls(state, format, normalize_language(language), timezone, today)
        flt = draft.report_filter()
        resolved = ViewState(
            channel=flt.channel,
            view=state.view,
            start=flt.start.isoformat(),
            end=flt.end.isoformat(),
            direction=flt.direction,
            subaccounts=flt.subaccounts,
            users=flt.users,
            campaigns=flt.campaigns,
            countries=flt.countries,
            content_types=flt.content_types,
            statuses=flt.statuses,
            error_codes=flt.error_codes,
            phone=state.phone if state.view == "detailed" and flt.phone else None,
            message_id=flt.message_id,
            correlation_id=flt.correlation_id,
            sort=state.sort if state.view == "detailed" else "created_at",
            descending=state.descending if state.view == "detailed" else True,
        )
        return cls(resolved, format, draft.language, timezone, today)

    @property
    def view(self) -> str:
        return self.state.view

    @property
    def channel(self) -> str:
        return self.state.channel

    def report_filter(self) -> ReportFilter:
        return self.state.to_filter(self.timezone, today=self.today)

    def filters_json(self) -> str:
        return json.dumps(self.state.to_dict(), sort_keys=True)

    def identity(self) -> str:
        """Everything that makes two requests produce the same file (for de-duplication)."""
        return json.dumps(
            {
                "state": self.state.to_dict(),
                "format": self.format,
                "language": self.language,
                "timezone": self.timezone,
            },
            sort_keys=True,
        )

    def fingerprint(self) -> str:
        """Six hex digits that tell apart the files of different filters (or languages)."""
        content = json.loads(self.identity())
        del content["format"]  # the extension tells the formats apart
        digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
        return digest[:6]

    def file_name(self) -> str:
        """The name a person sees: report, channel, dates, the time zone of its times and the
        fingerprint of everything else chosen, so two exports of one period with different
        filters never share a name in a downloads folder."""
        zone = re.sub(r"[^A-Za-z0-9_+-]+", "-", self.timezone).strip("-")
        assert self.state.start and self.state.end  # build() names both dates
        words = (
            t(self.language, f"file.{self.view}"),
            self.channel,
            self.state.start,
            self.state.end,
            zone,
            self.fingerprint(),
        )
        return "_".join(words) + "." + self.format
