"""The state of one view of the reports screen, as kept in the page, the URL and export jobs.

The dashboard stores the applied state in a dcc.Store (ids.APPLIED_FILTERS) as `to_dict()`;
exports read the same dict to run the view the user sees.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

from data_access.filters import FilterError, ReportFilter

VIEWS = ("consolidated", "detailed")


@dataclass(frozen=True)
class ViewState:
    channel: str = "whatsapp"
    view: str = "consolidated"
    start: str | None = None  # YYYY-MM-DD; None means the default range
    end: str | None = None
    direction: str | None = None
    subaccounts: tuple[int, ...] = ()
    users: tuple[int, ...] = ()
    campaigns: tuple[int, ...] = ()
    countries: tuple[str, ...] = ()
    content_types: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    error_codes: tuple[str, ...] = ()
    phone: str | None = None
    # The detailed view's other searches: one message by its id, or the messages a sender
    # tagged with a correlation id (each over the whole reachable window).
    message_id: str | None = None
    correlation_id: str | None = None
    sort: str = "created_at"
    descending: bool = True
    extra: dict = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("extra")
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        return data

    @classmethod
    def from_dict(cls, data: dict | None) -> ViewState:
        """Read a state sent by the browser; anything malformed raises FilterError."""
        if data is not None and not isinstance(data, dict):
            raise FilterError("bad_state", "view", "The view is not a set of fields.")
        data = dict(data or {})
        view = data.get("view") or "consolidated"
        if view not in VIEWS:
            raise FilterError("unknown_view", "view", f"Unknown view {view!r}.", value=str(view))

        def many(key: str, kind=str) -> tuple:
            values = data.get(key) or ()
            if not isinstance(values, (list, tuple)):
                values = (values,)
            try:
                return tuple(kind(v) for v in values)
            except (TypeError, ValueError):
                raise FilterError("bad_id", key, f"{values!r} is not a valid choice.") from None

        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value in (None, "") else str(value)

        return cls(
            channel=str(data.get("channel") or "whatsapp"),
            view=view,
            start=text("start"),
            end=text("end"),
            direction=text("direction"),
            subaccounts=many("subaccounts", int),
            users=many("users", int),
            campaigns=many("campaigns", int),
            countries=many("countries"),
            content_types=many("content_types"),
            statuses=many("statuses"),
            error_codes=many("error_codes"),
            phone=text("phone"),
            message_id=text("message_id"),
            correlation_id=text("correlation_id"),
            sort=str(data.get("sort") or "created_at"),
            descending=bool(data.get("descending", True)),
        )

    def to_filter(self, timezone: str, today: date | None = None) -> ReportFilter:
        """The validated report filter of this state (raises FilterError with a user message).

        `today` pins the reachable window (a job run later keeps the day it was asked on)."""
        return ReportFilter.build(
            self.channel,
            self.start,
            self.end,
            direction=self.direction,
            subaccounts=self.subaccounts,
            users=self.users,
            campaigns=self.campaigns,
            countries=self.countries,
            content_types=self.content_types,
            statuses=self.statuses,
            error_codes=self.error_codes,
            phone=self.phone if self.view == "detailed" else None,
            message_id=self.message_id if self.view == "detailed" else None,
            correlation_id=self.correlation_id if self.view == "detailed" else None,
            timezone=timezone,
            today=today,
        )
