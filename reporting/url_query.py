"""The view state written to and read from a URL query string: the screen's address (a link
reopens a view), the read API's parameters and scheduled reports parse it the same way."""

from __future__ import annotations

from urllib.parse import parse_qs

from data_access.filters import FilterError
from reporting.view_state import ViewState

# query key -> ViewState field, for the fields that hold several values.
LIST_KEYS = {
    "subaccount": "subaccounts",
    "user": "users",
    "campaign": "campaigns",
    "country": "countries",
    "content_type": "content_types",
    "status": "statuses",
    "error_code": "error_codes",
}
SINGLE_KEYS = (
    "channel",
    "view",
    "start",
    "end",
    "direction",
    "phone",
    "message_id",
    "correlation_id",
    "sort",
)
MAX_QUERY_LENGTH = 4096


def state_from_search(search: str | None) -> ViewState:
    """The state a query string describes; a malformed one raises FilterError."""
    if search is not None and not isinstance(search, str):
        raise FilterError("url", "search", "The address's query is not text.")
    text = (search or "").lstrip("?")[:MAX_QUERY_LENGTH]
    query = parse_qs(text, keep_blank_values=False)
    data: dict[str, object] = {key: query[key][0] for key in SINGLE_KEYS if key in query}
    if "order" in query:
        data["descending"] = query["order"][0] != "asc"
    for key, attribute in LIST_KEYS.items():
        if key in query:
            data[attribute] = query[key]
    return ViewState.from_dict(data)
