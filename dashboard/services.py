"""What callbacks need from outside Dash: settings, the engine, and who is asking."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from config import Settings
from data_access.filters import AccessScope
from data_access.tables import subaccounts


@dataclass(frozen=True)
class Viewer:
    """The person a request is for, resolved on the server for every request."""

    user_id: int | None
    username: str
    role: str
    scope: AccessScope
    language: str
    timezone: str


@dataclass
class Services:
    settings: Settings
    engine: Engine

    def current_viewer(self) -> Viewer:
        """The viewer of the current request. Until sign-in exists, the account as a whole."""
        with self.engine.connect() as conn:
            ids = conn.execute(select(subaccounts.c.id)).scalars().all()
        return Viewer(
            user_id=None,
            username="admin",
            role="admin",
            scope=AccessScope.of(ids),
            language="es",
            timezone=self.settings.account_timezone,
        )
