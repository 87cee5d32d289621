"""Sign-in: the Flask-Login session and the gate in front of every page and callback; the
sign-in, two-step, sign-out and profile pages are the blueprint in views.py, their templates in
templates/auth/, their flows data_access.accounts.service."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import dash
from flask import redirect, request
from flask_login import LoginManager, UserMixin, current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from clock import utcnow as now
from config import resolve_secret_key
from dashboard.request_guard import install_request_guards
from dashboard.security import error_response, install_security, wants_json
from dashboard.services import Services
from dashboard.session_cache import ResolvedSession, SessionCache
from data_access import accounts
from data_access.accounts.service import AccountService

LOGIN_PATH = "/login"
TOTP_PATH = "/login/verify"
LOGOUT_PATH = "/logout"
PROFILE_PATH = "/profile"
# The session key of the language the dashboard showed when its profile link was followed.
PROFILE_LANGUAGE_KEY = "profile_lang"

# Reachable without a session: the sign-in pages, static files, and the machine interfaces,
# which authenticate each request with an API key or a webhook signature of their own.
PUBLIC_PATHS = frozenset({LOGIN_PATH, TOTP_PATH, LOGOUT_PATH, "/_favicon.ico"})
PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/api/v1/", "/webhooks/")

SESSION_COOKIE = "reports_session"
TOTP_ISSUER = "Delivery reports"
TOTP_PENDING_SECONDS = 300
TOTP_SETUP_SECONDS = 900


class SignedInUser(UserMixin):
    """The session's user for one request: the account, its session token and the
    subaccounts it may see."""

    def __init__(
        self,
        account: accounts.Account,
        token: str,
        scope_ids: Sequence[int] | None = (),
        every_subaccount: Callable[[], list[int]] = list,
    ) -> None:
        self.account = account
        self.token = token
        self._scope_ids = None if scope_ids is None else list(scope_ids)
        self._every_subaccount = every_subaccount

    @property
    def scope_ids(self) -> list[int]:
        """The granted subaccounts; for an admin every subaccount, read once per request when
        first asked, so one a load has just added is seen at once."""
        if self._scope_ids is None:
            self._scope_ids = self._every_subaccount()
        return self._scope_ids

    def get_id(self) -> str:
        return f"{self.account.id}:{self.token}"

    @property
    def is_active(self) -> bool:
        return self.account.can_sign_in


def safe_next(value: str | None) -> str:
    """A local path to return to after sign-in; anything else (another site) becomes "/"."""
    value = (value or "").strip()
    parts = urlsplit(value)
    if (
        not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or parts.scheme
        or parts.netloc
        or len(value) > 2000
        or parts.path in PUBLIC_PATHS
    ):
        return "/"
    return value


def install_auth(app: dash.Dash, services: Services) -> None:
    """Put sign-in in front of the whole app and add the sign-in and profile pages."""
    settings = services.settings
    engine = services.engine
    server = app.server
    server.secret_key = resolve_secret_key(settings)
    server.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
    )
    if settings.trusted_proxies:
        count = settings.trusted_proxies
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=count, x_proto=count, x_host=count)

    manager = LoginManager()
    manager.init_app(server)
    manager.session_protection = "basic"

    sessions = SessionCache(engine)

    def _lookup(user_id: int, token: str, moment: datetime) -> ResolvedSession | None:
        with engine.connect() as conn:
            account = accounts.session_account(conn, user_id, token, moment)
            if account is None:
                return None
            if account.role == "admin":
                return ResolvedSession(account, None)
            return ResolvedSession(account, tuple(accounts.scope_ids(conn, account)))

    def every_subaccount() -> list[int]:
        return services.every_subaccount_id()

    @manager.user_loader
    def _load_user(session_id: str) -> SignedInUser | None:
        user_id, _, token = str(session_id).partition(":")
        if not user_id.isdigit() or not token:
            return None
        # Read from the store, or reused for a few seconds (session_cache.py): signing out, a
        # new password or a disabled account ends the session at its next request, copies of
        # the cookie too, because those changes drop the reused sessions.
        resolved = sessions.resolve(int(user_id), token, now(), _lookup)
        if resolved is None:
            return None
        return SignedInUser(resolved.account, token, resolved.scope_ids, every_subaccount)

    @server.before_request
    def _require_sign_in():
        path = request.path
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return None
        if current_user.is_authenticated:
            return None
        if wants_json():
            return error_response(401)
        query = request.query_string.decode("utf-8", "replace")
        target = path + ("?" + query if query else "")
        return redirect(f"{LOGIN_PATH}?next={quote(target, safe='/')}")

    # Here, not at the top: the views read this module's clock and paths at each request.
    from dashboard.auth.views import blueprint

    server.extensions["auth"] = AuthPages(app, services)
    server.register_blueprint(blueprint)
    install_security(app, settings)
    install_request_guards(app)


class AuthPages:
    """What the auth views need of the app they serve: its stylesheets, settings and the
    account flows on its store."""

    def __init__(self, app: dash.Dash, services: Services) -> None:
        self.app = app
        self.settings = services.settings
        self.engine = services.engine
        self.accounts = AccountService(
            services.engine, timedelta(hours=services.settings.session_hours)
        )

    def stylesheets(self) -> list[str]:
        """The dashboard's own stylesheets, so the sign-in pages look like the rest."""
        urls = []
        for item in self.app.config.external_stylesheets or ():
            href = item.get("href") if isinstance(item, dict) else item
            if href:
                urls.append(str(href))
        assets = Path(self.app.config.assets_folder)
        if assets.is_dir():
            for css in sorted(assets.rglob("*.css")):
                urls.append(self.app.get_asset_url(css.relative_to(assets).as_posix()))
        return urls
