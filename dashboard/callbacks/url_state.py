"""The view state written to and read from the URL query string, so a link reopens a view."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

from reporting.url_query import (
    LIST_KEYS,
    MAX_QUERY_LENGTH,
    SINGLE_KEYS,
    state_from_search,
)
from reporting.view_state import ViewState

__all__ = ["page_from_search", "state_from_search", "state_to_search"]

# The detailed table's page, counted from 1 in the address; not part of the state (a new
# state starts on the first page).
PAGE_KEY = "page"
MAX_PAGE = 10_000_000


def state_to_search(state: ViewState, page_number: int = 0) -> str:
    """The query string ('?channel=sms&view=detailed...') of a state and, past the first, the
    detailed table's page (`page_number` from 0); defaults are left out."""
    default = ViewState()
    pairs: list[tuple[str, object]] = []
    for key in SINGLE_KEYS:
        value = getattr(state, key)
        if value not in (None, "") and value != getattr(default, key):
            pairs.append((key, value))
    if state.descending != default.descending:
        pairs.append(("order", "desc" if state.descending else "asc"))
    for key, attribute in LIST_KEYS.items():
        pairs.extend((key, value) for value in getattr(state, attribute))
    if page_number and state.view == "detailed":
        pairs.append((PAGE_KEY, page_number + 1))
    return "?" + urlencode(pairs) if pairs else ""


def page_from_search(search: str | None) -> int:
    """The detailed table's page (from 0) a query string names; anything else is the first."""
    if not isinstance(search, str):
        return 0
    values = parse_qs(search.lstrip("?")[:MAX_QUERY_LENGTH]).get(PAGE_KEY)
    text = values[0] if values else ""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_PAGE)):
        return 0
    return min(max(int(text) - 1, 0), MAX_PAGE)
