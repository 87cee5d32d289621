"""What every callback does alike: who is asking, in which language, and reading the view."""

from __future__ import annotations

import logging

from dash import set_props

from dashboard import ids
from dashboard.services import Services, Viewer
from reporting.languages import normalize_language
from reporting.view_state import ViewState

logger = logging.getLogger("dashboard")


def language_of(stored, viewer: Viewer) -> str:
    """The language chosen in this browser, else the one of the viewer's profile.

    A choice is stored with the profile language of its moment, so changing the language in
    the profile later wins over an older choice in the browser.
    """
    if isinstance(stored, dict):
        if stored.get("profile") == viewer.language and stored.get("language"):
            return normalize_language(stored["language"])
        return normalize_language(viewer.language)
    return normalize_language(stored or viewer.language)


def language_choice(language: str | None, viewer: Viewer) -> dict:
    """What the language store keeps for a choice made in the language switch."""
    return {"language": normalize_language(language), "profile": viewer.language}


def viewer_and_language(services: Services, stored_language) -> tuple[Viewer, str]:
    # Resolved on every request: sign-in decides the viewer, never the browser.
    viewer = services.current_viewer()
    return viewer, language_of(stored_language, viewer)


def applied_state(data: dict | None) -> ViewState:
    """The applied view from the page's store (FilterError when the browser sent nonsense)."""
    return ViewState.from_dict(data)


def on_callback_error(error: Exception) -> None:
    """The app's last guard: log the failure here, show only a generic notice on the page."""
    logger.exception("callback failed", exc_info=error)
    set_props(ids.ERROR_ALERT, {"is_open": True})
