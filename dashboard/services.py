"""What callbacks need from outside Dash: settings, the engine, and who is asking."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from flask import current_app, has_request_context
from flask_login import current_user
from sqlalchemy import Engine

from config import Settings
from data_access.filters import AccessScope


class NotSignedInError(PermissionError):
    """No one is signed in for this request, so nothing may be read."""


@dataclass(frozen=True)
class Viewer:
    """The person a request is for, resolved on the server for every request."""

    user_id: int | None
    username: str
    role: str
    scope: AccessScope
    language: str
    timezone: str
    display_name: str = ""


# Set only by code that runs on a user's behalf outside a web request (a background job
# with the scope it was requested with, a test); a web request never sets it.
_acting_viewer: ContextVar[Viewer | None] = ContextVar("acting_viewer", default=None)


@dataclass
class Services:
    settings: Settings
    engine: Engine

    def current_viewer(self) -> Viewer:
        """The signed-in user of the current request: an admin sees every subaccount, a user
        the subaccounts granted to them; language and time zone come from their profile.

        Raises NotSignedInError when no one is signed in (the sign-in gate answers such
        requests with 401 before any callback runs, so this is the second line of defence).
        """
        acting = _acting_viewer.get()
        if acting is not None:
            return acting
        if not has_request_context() or getattr(current_app, "login_manager", None) is None:
            raise NotSignedInError("Sign in to see the reports.")
        if not current_user.is_authenticated:
            raise NotSignedInError("Sign in to see the reports.")
        account = current_user.account
        return Viewer(
            user_id=account.id,
            username=account.username,
            role=account.role,
            scope=AccessScope.of(current_user.scope_ids),
            language=account.language,
            timezone=account.timezone or self.settings.account_timezone,
            display_name=account.display_name or account.username,
        )

    @contextmanager
    def acting_as(self, viewer: Viewer) -> Iterator[Viewer]:
        """Run code outside a web request on behalf of `viewer` (its scope, language, zone)."""
        token = _acting_viewer.set(viewer)
        try:
            yield viewer
        finally:
            _acting_viewer.reset(token)
