"""Accounts in the store, the `users` command, and the session secret key."""

from __future__ import annotations

import argparse
import io
import os
import stat
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, select

import app as app_module
from commands import users as users_command
from commands.console import Console
from commands.control import _namespace_to_json
from config import SettingsError, load_settings, resolve_secret_key
from data_access import accounts, writes
from data_access.accounts.service import AccountService, Result
from data_access.tables import subaccounts, user_sessions, users
from demo.accounts import create_demo_accounts
from tests.auth_helpers import add_account, subaccount_ids

T0 = datetime(2026, 11, 20, 12, 0, 0)


def _subaccounts(engine, *names: str) -> None:
    with engine.begin() as conn:
        for name in names:
            conn.execute(subaccounts.insert().values(name=name))


# ---- passwords and accounts ----


def test_passwords_are_stored_as_argon2_hashes_and_verified():
    stored = accounts.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    account = accounts.Account(1, "ana", None, stored, "user", "es", None, True, None)
    assert accounts.verify_password(account, "correct horse battery")
    assert not accounts.verify_password(account, "correct horse batterY")
    assert not accounts.verify_password(None, "correct horse battery")
    no_password = accounts.Account(2, "bot", None, None, "user", "es", None, True, None)
    assert not accounts.verify_password(no_password, "")


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("123456789", "password_short"),
        ("x" * 257, "password_long"),
        ("Ana.Souza1", "password_is_username"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password, code):
    with pytest.raises(accounts.AccountError) as caught:
        accounts.hash_password(password, "ana.souza1")
    assert caught.value.code == code


def test_create_grant_revoke_and_scope(engine):
    _subaccounts(engine, "Brand C", "Brand A", "Brand B")
    ids = subaccount_ids(engine)
    with engine.begin() as conn:
        admin = accounts.create_account(conn, "root", "hash-a", role="admin")
        user = accounts.create_account(conn, "bia", "hash-b", display_name="  Bia  ")
        assert accounts.grant(conn, "bia", ["Brand B", "Brand A"]) == ["Brand A", "Brand B"]
        assert accounts.grant(conn, "bia", ["Brand A"]) == []
        assert accounts.scope_ids(conn, admin) == sorted(ids.values())
        assert accounts.scope_ids(conn, user) == sorted([ids["Brand A"], ids["Brand B"]])
        assert accounts.revoke(conn, "bia", ["Brand A", "Brand C"]) == ["Brand A"]
        assert accounts.scope_ids(conn, user) == [ids["Brand B"]]
        assert user.display_name == "Bia"
        with pytest.raises(accounts.AccountError, match="No subaccount named 'Brand Z'"):
            accounts.grant(conn, "bia", ["Brand Z"])
        with pytest.raises(accounts.AccountError, match="already exists"):
            accounts.create_account(conn, "bia", "hash-c")
        with pytest.raises(accounts.AccountError) as caught:
            accounts.create_account(conn, "eve", "hash-d", role="owner")
        assert caught.value.code == "bad_role"
        with pytest.raises(accounts.AccountError) as caught:
            accounts.create_account(conn, "bad name", "hash-e")
        assert caught.value.code == "bad_username"
        with pytest.raises(accounts.AccountError) as caught:
            accounts.create_account(conn, "zed", "hash-f", timezone="Nowhere/Town")
        assert caught.value.code == "bad_timezone"


def test_a_sender_from_the_files_becomes_an_account_in_place(engine):
    with engine.begin() as conn:
        conn.execute(users.insert().values(username="ana.souza"))
        sender_id = conn.execute(select(users.c.id)).scalar()
        assert accounts.list_accounts(conn) == []
        account = accounts.create_account(conn, "ana.souza", "hash-a", role="admin")
        assert account.id == sender_id
        listing = accounts.list_accounts(conn)
    assert [(item.account.username, item.account.role) for item in listing] == [
        ("ana.souza", "admin")
    ]


def test_failed_attempts_block_by_name_and_by_address(engine):
    def reserve(name: str, address: str, minutes: float) -> accounts.Attempt:
        return accounts.reserve_attempt(engine, name, address, T0 + timedelta(minutes=minutes))

    def blocked(name: str, address: str, minutes: float):
        with engine.connect() as conn:
            return accounts.blocked_until(conn, name, address, T0 + timedelta(minutes=minutes))

    for i in range(accounts.MAX_FAILURES_PER_USERNAME - 1):
        assert reserve("Ana", "192.0.2.1", i).allowed
    assert blocked("ana", "192.0.2.9", 5) is None
    assert reserve(" ana ", "192.0.2.1", 5).allowed
    # Five failures at T0..T0+5m: locked until the first leaves the 15-minute window.
    refused = reserve("ana", "192.0.2.9", 6)
    assert not refused.allowed and refused.retry_at == T0 + timedelta(minutes=15)
    assert blocked("ana", "192.0.2.9", 15) is None
    for i in range(accounts.MAX_FAILURES_PER_ADDRESS - 5):
        assert reserve(f"name{i}", "192.0.2.1", 6).allowed
    assert blocked("someone", "192.0.2.1", 7) == T0 + timedelta(minutes=15)
    assert reserve("someone", "192.0.2.1", 7).retry_at == T0 + timedelta(minutes=15)
    assert blocked("someone", "192.0.2.2", 7) is None
    # Rows older than the window are dropped as new attempts arrive.
    kept = reserve("x", "192.0.2.3", 60)
    with engine.connect() as conn:
        assert accounts.failure_count(conn) == 1
    # A check that succeeded gives its attempt back.
    accounts.release_attempt(engine, kept)
    with engine.connect() as conn:
        assert accounts.failure_count(conn) == 0


def test_each_totp_step_is_claimed_once(engine):
    with engine.begin() as conn:
        account = accounts.create_account(conn, "ana", "hash-a")
        accounts.set_totp_secret(conn, account.id, "JBSWY3DPEHPK3PXP")
        assert accounts.claim_totp_step(conn, account.id, 100)
        assert not accounts.claim_totp_step(conn, account.id, 100)
        assert not accounts.claim_totp_step(conn, account.id, 99)
        assert accounts.claim_totp_step(conn, account.id, 101)
        accounts.set_totp_secret(conn, account.id, None)
        assert not accounts.claim_totp_step(conn, account.id, 102)
        assert accounts.get_account(conn, account.id).totp_secret is None


def test_sessions_end_on_sign_out_new_password_disable_and_expiry(engine):
    with engine.begin() as conn:
        account = accounts.create_account(conn, "ana", accounts.hash_password("ana-password-1"))
        hours = timedelta(hours=12)
        first = accounts.open_session(conn, account.id, T0, hours)
        second = accounts.open_session(conn, account.id, T0, hours)
        assert accounts.session_account(conn, account.id, first, T0).username == "ana"
        assert accounts.session_account(conn, account.id + 1, first, T0) is None
        assert accounts.session_account(conn, account.id, first, T0 + hours) is None
        accounts.close_session(conn, first)
        assert accounts.session_account(conn, account.id, first, T0) is None
        assert accounts.session_account(conn, account.id, second, T0) is not None
        accounts.change_password(conn, "ana", accounts.hash_password("ana-password-2"))
        assert accounts.session_count(conn, account.id) == 0
        third = accounts.open_session(conn, account.id, T0, hours)
        accounts.set_active(conn, "ana", False)
        assert accounts.session_account(conn, account.id, third, T0) is None
        assert accounts.session_count(conn, account.id) == 0


def test_a_sign_in_that_meets_another_clearing_expired_sessions_goes_through(
    duckdb_engine, monkeypatch
):
    """Two browsers signing in at once both clear the expired sessions; DuckDB aborts the one
    that comes second, and the sign-in runs again instead of showing an error page."""
    engine = duckdb_engine
    add_account(engine, "ana", "ana-password-1")
    with engine.begin() as conn:
        account = accounts.find_account(conn, "ana")
        accounts.open_session(conn, account.id, T0 - timedelta(days=2), timedelta(hours=12))
    # The other sign-in: it has deleted the expired session and not committed yet.
    other = engine.connect()
    other_tx = other.begin()
    other.execute(delete(user_sessions).where(user_sessions.c.expires_at <= T0))
    pauses = []

    def pause(seconds: float) -> None:  # the retry's pause: the other sign-in commits then
        pauses.append(seconds)
        if other_tx.is_active:
            other_tx.commit()

    monkeypatch.setattr(writes.time, "sleep", pause)
    service = AccountService(engine, timedelta(hours=12))
    try:
        outcome = service.sign_in("ana", "ana-password-1", "198.51.100.7", T0)
    finally:
        other.close()
    assert outcome.result is Result.DONE and outcome.token
    assert len(pauses) == 1
    with engine.connect() as conn:
        assert accounts.session_count(conn, account.id) == 1
        assert accounts.session_account(conn, account.id, outcome.token, T0).username == "ana"


def test_demo_accounts_are_made_once_and_only_on_a_store_without_accounts(engine):
    _subaccounts(engine, "Zeta Shop", "Alpha Bank", "Mid Clinic")
    with engine.begin() as conn:
        made = create_demo_accounts(conn)
    assert [(d.username, d.role, d.subaccounts, d.created) for d in made] == [
        ("admin", "admin", (), True),
        ("support", "user", ("Alpha Bank", "Mid Clinic"), True),
    ]
    with engine.begin() as conn:
        again = create_demo_accounts(conn)
        assert [(d.username, d.subaccounts, d.created) for d in again] == [
            ("admin", (), False),
            ("support", ("Alpha Bank", "Mid Clinic"), False),
        ]
        support = accounts.find_account(conn, "support")
        assert accounts.verify_password(support, "support-demo-2026")


def test_demo_accounts_are_not_added_beside_real_ones(engine):
    add_account(engine, "owner", "owner-password-1", role="admin")
    with engine.begin() as conn:
        assert create_demo_accounts(conn) == []
        assert accounts.find_account(conn, "admin") is None


# ---- the `users` command ----


@pytest.fixture
def run_users(store_settings, engine, monkeypatch, capsys):
    """Run `python app.py users ...` against the test store; returns (code, out, err)."""
    monkeypatch.setenv("DATA_DIR", str(store_settings.data_dir))
    monkeypatch.setenv("DATABASE_URL", store_settings.database_url)
    monkeypatch.setenv("ACCOUNT_TIMEZONE", store_settings.account_timezone)

    def run(*argv: str, stdin: str = ""):
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = app_module.main(["users", *argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_users_command_manages_accounts(run_users, engine):
    _subaccounts(engine, "Brand A", "Brand B", "Brand C")
    assert run_users("add", "root", "--role", "admin", stdin="root-password-1\n")[:2] == (
        0,
        "Added admin 'root'.\n",
    )
    code, out, _ = run_users(
        "add",
        "bia",
        "--name",
        "Bia Souza",
        "--lang",
        "pt-BR",
        "--tz",
        "America/Manaus",
        "--subaccount",
        "Brand B",
        "--subaccount",
        "Brand A",
        stdin="bia-password-1\n",
    )
    assert (code, out) == (0, "Added user 'bia' with Brand A, Brand B.\n")
    assert run_users("grant", "bia", "Brand C")[:2] == (0, "'bia' now also sees Brand C.\n")
    assert run_users("revoke", "bia", "Brand A")[:2] == (0, "'bia' no longer sees Brand A.\n")
    assert run_users("disable", "bia")[:2] == (
        0,
        "'bia' can no longer sign in; its sessions ended.\n",
    )
    code, out, _ = run_users("list")
    assert code == 0
    assert out.splitlines() == [
        "username  name       role   status    2-step  lang   time zone       sees",
        "bia       Bia Souza  user   disabled  off     pt-BR  America/Manaus  Brand B, Brand C",
        "root                 admin  active    off     es     (account's)     all subaccounts",
    ]
    assert run_users("enable", "bia")[:2] == (0, "'bia' can sign in again.\n")
    assert run_users("passwd", "bia", stdin="bia-password-2\n")[:2] == (
        0,
        "New password set for 'bia'; its sessions ended.\n",
    )
    with engine.connect() as conn:
        bia = accounts.find_account(conn, "bia")
    assert accounts.verify_password(bia, "bia-password-2")
    assert (bia.display_name, bia.language, bia.timezone, bia.active) == (
        "Bia Souza",
        "pt-BR",
        "America/Manaus",
        True,
    )


def test_users_command_errors_are_clear(run_users, engine):
    _subaccounts(engine, "Brand A")
    code, out, err = run_users("add", "bia", stdin="short\n")
    assert (code, out, err) == (2, "", "A password has at least 10 characters.\n")
    code, _, err = run_users("passwd", "nobody", stdin="long-enough-1\n")
    assert code == 2
    assert err == "There is no sign-in account 'nobody'; `python app.py users list` shows them.\n"
    run_users("add", "bia", stdin="bia-password-1\n")
    code, _, err = run_users("grant", "bia", "Brand Z")
    assert (code, err) == (2, "No subaccount named 'Brand Z'.\n")
    code, _, err = run_users("add", "bia", stdin="bia-password-1\n")
    assert code == 2
    assert "already exists" in err
    code, _, err = run_users("add", "two words", stdin="bia-password-1\n")
    assert code == 2
    assert err.startswith("A username has 1 to 64 characters")


def test_users_demo_prints_the_demo_sign_in(run_users, engine):
    _subaccounts(engine, "Brand B", "Brand A", "Brand C")
    code, out, _ = run_users("demo")
    assert code == 0
    assert out.splitlines() == [
        "Demo sign-in:",
        "  admin / admin-demo-2026   (admin: every subaccount)",
        "  support / support-demo-2026   (user: Brand A, Brand B)",
    ]
    assert run_users("demo")[1] == out


def test_the_password_never_leaves_the_terminal_process(monkeypatch):
    """What is handed to a running server carries the hash, never the password."""
    monkeypatch.setattr("sys.stdin", io.StringIO("secret-password-1\n"))
    args = argparse.Namespace(command="users", users_command="add", username="bia")
    assert users_command.prepare(args, Console(), None) == 0
    sent = _namespace_to_json(args)
    assert "secret-password-1" not in repr(sent)
    assert sent["password_hash"].startswith("$argon2id$")


# ---- the session secret key ----


def test_the_secret_key_is_made_once_beside_the_store_and_kept_private(tmp_path):
    settings = load_settings({"DATA_DIR": str(tmp_path / "data")})
    key = resolve_secret_key(settings)
    path = tmp_path / "data" / "secret_key"
    assert len(key) >= 48
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resolve_secret_key(settings) == key
    os.chmod(path, 0o644)
    assert resolve_secret_key(settings) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_secret_key_from_the_environment_wins_and_must_be_long(tmp_path):
    env = {"DATA_DIR": str(tmp_path / "data"), "SECRET_KEY": "k" * 40}
    assert resolve_secret_key(load_settings(env)) == "k" * 40
    assert not (tmp_path / "data" / "secret_key").exists()
    with pytest.raises(SettingsError, match="at least 32 characters"):
        load_settings({**env, "SECRET_KEY": "short"})


def test_cookie_and_proxy_settings_are_read(tmp_path):
    settings = load_settings(
        {
            "DATA_DIR": str(tmp_path),
            "SECURE_COOKIES": "true",
            "SESSION_HOURS": "8",
            "TRUSTED_PROXIES": "1",
        }
    )
    assert (settings.secure_cookies, settings.session_hours, settings.trusted_proxies) == (
        True,
        8,
        1,
    )
    with pytest.raises(SettingsError, match="SESSION_HOURS must be at least 1"):
        load_settings({"DATA_DIR": str(tmp_path), "SESSION_HOURS": "0"})
