"""Signed-in sessions reused for a few seconds: one store read per page, changes still at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, insert, update

from app import create_app
from dashboard import auth, session_cache
from dashboard.services import NotSignedInError, Services
from dashboard.session_cache import SESSION_CACHE_SECONDS, ResolvedSession, SessionCache
from data_access import accounts
from data_access.store import version_and_subaccounts
from data_access.tables import subaccounts, users
from data_access.writes import bump_data_version
from tests.auth_helpers import add_account, sign_in, subaccount_ids
from tests.conftest import T0


@pytest.fixture
def reads(monkeypatch):
    """How many times a session was read from the store."""
    calls = []
    real = accounts.session_account

    def counted(conn, user_id, token, moment):
        calls.append(moment)
        return real(conn, user_id, token, moment)

    monkeypatch.setattr(accounts, "session_account", counted)
    return calls


@pytest.fixture
def app(store_settings, engine):
    return create_app(store_settings, engine)


def signed_in(client) -> bool:
    return client.get("/_dash-layout").status_code == 200


def viewer_of(app, client, store_settings, engine):
    """Who the server takes the browser's cookie for, as a callback post sees it; None if no one."""
    cookie = client.get_cookie(auth.SESSION_COOKIE).value
    services = Services(settings=store_settings, engine=engine)
    with app.server.test_request_context(
        "/_dash-update-component", headers={"Cookie": f"{auth.SESSION_COOKIE}={cookie}"}
    ):
        try:
            return services.current_viewer()
        except NotSignedInError:
            return None


def test_a_pages_requests_share_one_read_of_the_session(app, engine, clock, reads):
    add_account(engine, "ana", "ana-password-1")
    client = app.server.test_client()
    sign_in(client, "ana", "ana-password-1")
    reads.clear()
    for _ in range(5):
        assert signed_in(client)
    # Read once, asked to be live past the time it is reused for.
    assert reads == [T0 + timedelta(seconds=SESSION_CACHE_SECONDS)]
    clock.advance(seconds=SESSION_CACHE_SECONDS)
    assert signed_in(client)
    assert len(reads) == 2


def test_a_session_that_ends_within_the_window_is_read_every_time(
    app, store_settings, engine, clock, reads
):
    add_account(engine, "ana", "ana-password-1")
    client = app.server.test_client()
    sign_in(client, "ana", "ana-password-1")
    clock.advance(hours=store_settings.session_hours, seconds=-2)
    reads.clear()
    assert signed_in(client)
    assert signed_in(client)
    # Each time: live in 3 s? no; live now? yes. Nothing kept, so the end is never served late.
    assert len(reads) == 4
    clock.advance(seconds=2)
    assert not signed_in(client)


@pytest.mark.parametrize(
    "change",
    [
        lambda conn: accounts.set_active(conn, "ana", False),
        lambda conn: accounts.close_all_sessions(conn, accounts.find_account(conn, "ana").id),
        lambda conn: accounts.change_password(
            conn, "ana", accounts.hash_password("new-password-1", "ana")
        ),
    ],
    ids=["disabled", "signed-out-everywhere", "new-password"],
)
def test_an_ended_session_stops_at_once_while_reused(app, engine, clock, change):
    add_account(engine, "ana", "ana-password-1")
    client = app.server.test_client()
    sign_in(client, "ana", "ana-password-1")
    assert signed_in(client)
    with engine.begin() as conn:
        change(conn)
    assert not signed_in(client)


def test_scope_language_and_new_subaccounts_apply_at_once_while_reused(
    app, store_settings, engine, clock
):
    add_account(engine, "ana", "ana-password-1", role="admin")
    add_account(engine, "bia", "bia-password-1", subaccount_names=("Brand A", "Brand B"))
    admin = app.server.test_client()
    sign_in(admin, "ana", "ana-password-1")
    user = app.server.test_client()
    sign_in(user, "bia", "bia-password-1")
    ids = subaccount_ids(engine)

    def viewer(client):
        return viewer_of(app, client, store_settings, engine)

    assert viewer(user).scope.subaccount_ids == {ids["Brand A"], ids["Brand B"]}
    assert viewer(admin).scope.subaccount_ids == {ids["Brand A"], ids["Brand B"]}
    with engine.begin() as conn:
        accounts.revoke(conn, "bia", ["Brand B"])
    assert viewer(user).scope.subaccount_ids == {ids["Brand A"]}
    with engine.begin() as conn:
        accounts.update_profile(conn, accounts.find_account(conn, "bia").id, language="en")
    assert viewer(user).language == "en"
    # A subaccount a load brings is the admin's at the next request.
    with engine.begin() as conn:
        conn.execute(insert(subaccounts).values(name="Brand C"))
    ids = subaccount_ids(engine)
    assert viewer(admin).scope.subaccount_ids == set(ids.values())
    assert len(ids) == 3


def test_an_admins_subaccounts_and_the_data_version_are_one_read_a_request(
    app, store_settings, engine, clock
):
    add_account(engine, "ana", "ana-password-1", role="admin")
    add_account(engine, "bia", "bia-password-1", subaccount_names=("Brand A", "Brand B"))
    every = sorted(subaccount_ids(engine).values())
    assert len(every) == 2
    with engine.begin() as conn:
        bump_data_version(conn)
        bump_data_version(conn)
        assert version_and_subaccounts(conn) == (2, every)
    admin = app.server.test_client()
    sign_in(admin, "ana", "ana-password-1")
    cookie = admin.get_cookie(auth.SESSION_COOKIE).value
    services = Services(settings=store_settings, engine=engine)
    statements: list[str] = []

    def seen(conn, cursor, statement, *_):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        with app.server.test_request_context(
            "/_dash-update-component", headers={"Cookie": f"{auth.SESSION_COOKIE}={cookie}"}
        ):
            viewer = services.current_viewer()
            assert viewer.scope.subaccount_ids == set(every)
            read = len(statements)
            assert services.data_version() == 2
            assert services.every_subaccount_id() == every
            # Both came with the scope's read.
            assert len(statements) == read
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert sum("subaccounts" in text for text in statements) == 1


def test_a_read_during_a_change_is_not_kept_past_its_commit(app, engine, clock):
    add_account(engine, "ana", "ana-password-1")
    client = app.server.test_client()
    sign_in(client, "ana", "ana-password-1")
    with engine.connect() as conn:
        accounts.set_active(conn, "ana", False)
        # Not committed yet: the store still says the session is live, and it may be reused...
        assert signed_in(client)
        conn.commit()
    # ... until the committed change's connection is back in the pool.
    assert not signed_in(client)


def test_a_change_made_by_another_process_arrives_within_the_window(app, engine, clock):
    add_account(engine, "ana", "ana-password-1")
    client = app.server.test_client()
    sign_in(client, "ana", "ana-password-1")
    assert signed_in(client)
    # Straight on the driver, as another process writes: this process's engine never sees it.
    statement = update(users).where(users.c.username == "ana").values(active=False)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(
            str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
        )
        cursor.close()
        raw.commit()
    finally:
        raw.close()
    assert signed_in(client)
    clock.advance(seconds=SESSION_CACHE_SECONDS)
    assert not signed_in(client)


def test_the_reused_sessions_stay_within_their_capacity(engine, monkeypatch):
    monkeypatch.setattr(session_cache, "CAPACITY", 2)
    cache = SessionCache(engine)
    account = accounts.Account(
        id=1,
        username="ana",
        display_name=None,
        password_hash="hash",
        role="user",
        language="es",
        timezone=None,
        active=True,
        totp_secret=None,
    )
    looked_up = []

    def lookup(user_id, token, moment):
        looked_up.append(token)
        return ResolvedSession(account, (1,))

    for token in ("a", "b", "a", "b"):
        cache.resolve(1, token, T0, lookup)
    assert looked_up == ["a", "b"]
    # Full: a new one pushes out the least recently used ("a"), which is read again.
    cache.resolve(1, "c", T0, lookup)
    cache.resolve(1, "a", T0, lookup)
    assert looked_up == ["a", "b", "c", "a"]
    # "c" and "a" now out of their window: read again, and never served in place of "d".
    later = T0 + timedelta(seconds=SESSION_CACHE_SECONDS)
    cache.resolve(1, "d", later, lookup)
    cache.resolve(1, "e", later, lookup)
    cache.resolve(1, "d", later, lookup)
    assert looked_up == ["a", "b", "c", "a", "d", "e"]
