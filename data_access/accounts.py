"""Sign-in accounts: argon2 password hashes, roles and grants, profile, TOTP, failed attempts."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, delete, exists, func, insert, select, update

from clock import time_zone
from data_access.tables import (
    login_failures,
    subaccounts,
    totp_steps,
    user_sessions,
    user_subaccounts,
    users,
)

ROLES = ("admin", "user")
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 256
DISPLAY_NAME_MAX_LENGTH = 200

# Throttling of failed sign-ins: past these counts within the window, sign-in is refused until
# the oldest counted failure leaves the window. The address limit is higher because several
# people may share one address (an office behind one gateway).
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USERNAME = 5
MAX_FAILURES_PER_ADDRESS = 20

# argon2-cffi's defaults follow RFC 9106's second recommended profile (64 MiB, 3 passes).
_hasher = PasswordHasher()


@functools.cache
def _unknown_user_hash() -> str:
    """Verified against when the username is unknown, so a wrong name costs as long as a wrong
    password and response times do not tell which usernames exist. Made on first use: a hash
    takes 64 MiB for a moment, which a process that never signs anyone in need not pay."""
    return _hasher.hash("no account has this password")


class AccountError(ValueError):
    """A request about accounts that cannot be done; `code` and `params` feed translations."""

    def __init__(self, code: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    display_name: str | None
    password_hash: str | None
    role: str
    language: str
    timezone: str | None
    active: bool
    totp_secret: str | None

    @property
    def can_sign_in(self) -> bool:
        return self.active and bool(self.password_hash)

    @property
    def totp_enabled(self) -> bool:
        return bool(self.totp_secret)


@dataclass(frozen=True)
class AccountListing:
    account: Account
    subaccounts: tuple[str, ...]


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    subaccounts: tuple[str, ...]
    created: bool


# Only for the demo store: `make run` prints these and the README states them.
DEMO_ACCOUNTS = (
    ("admin", "Demo administrator", "admin", "admin-demo-2026"),
    ("support", "Demo support", "user", "support-demo-2026"),
)
DEMO_USER_SUBACCOUNTS = 2

_ACCOUNT_COLUMNS = (
    users.c.id,
    users.c.username,
    users.c.display_name,
    users.c.password_hash,
    users.c.role,
    users.c.language,
    users.c.timezone,
    users.c.active,
    users.c.totp_secret,
)


def _account(row) -> Account:
    return Account(
        id=int(row.id),
        username=row.username,
        display_name=row.display_name,
        password_hash=row.password_hash,
        role=row.role,
        language=row.language,
        timezone=row.timezone,
        active=bool(row.active),
        totp_secret=row.totp_secret,
    )


# A transaction that changes an account, a session, a grant or two-step verification marks its
# connection; whoever keeps signed-in sessions (dashboard/session_cache.py) takes the mark when
# the connection returns to the pool, after the commit, and drops what it kept.
_CHANGE_MARK = "accounts_changed"


def _mark_changed(conn: Connection) -> None:
    conn.info[_CHANGE_MARK] = True


def take_change_mark(info: dict) -> bool:
    """Whether the connection whose `info` this is changed accounts; clears the mark."""
    return bool(info.pop(_CHANGE_MARK, False))


# ---- passwords ----


def check_username(username: str) -> str:
    name = (username or "").strip()
    if not USERNAME_PATTERN.fullmatch(name):
        raise AccountError(
            "bad_username",
            "A username has 1 to 64 characters: letters, digits and . _ @ - "
            "(starting with a letter or digit).",
        )
    return name


def check_password(password: str, username: str | None = None) -> None:
    """Raise AccountError when a new password is too short, too long or the username."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError(
            "password_short",
            f"A password has at least {PASSWORD_MIN_LENGTH} characters.",
            minimum=PASSWORD_MIN_LENGTH,
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise AccountError(
            "password_long",
            f"A password has at most {PASSWORD_MAX_LENGTH} characters.",
            maximum=PASSWORD_MAX_LENGTH,
        )
    if username and password.strip().lower() == username.strip().lower():
        raise AccountError("password_is_username", "A password cannot be the username.")


def hash_password(password: str, username: str | None = None) -> str:
    check_password(password, username)
    return _hasher.hash(password)


def verify_password(account: Account | None, password: str) -> bool:
    """Whether the password is the account's; as slow for unknown accounts as for known ones."""
    stored = account.password_hash if account is not None else None
    try:
        _hasher.verify(stored or _unknown_user_hash(), password[:PASSWORD_MAX_LENGTH])
    except (VerificationError, InvalidHashError):
        return False
    return stored is not None


def upgrade_hash(conn: Connection, account: Account, password: str) -> None:
    """After a good sign-in, re-hash a password stored with weaker parameters than today's."""
    if account.password_hash and _hasher.check_needs_rehash(account.password_hash):
        set_password_hash(conn, account.id, _hasher.hash(password))


# ---- accounts ----


def find_account(conn: Connection, username: str) -> Account | None:
    row = conn.execute(
        select(*_ACCOUNT_COLUMNS).where(users.c.username == (username or "").strip())
    ).first()
    return _account(row) if row is not None else None


def get_account(conn: Connection, user_id: int) -> Account | None:
    row = conn.execute(select(*_ACCOUNT_COLUMNS).where(users.c.id == user_id)).first()
    return _account(row) if row is not None else None


def _require(conn: Connection, username: str) -> Account:
    account = find_account(conn, username)
    if account is None or not account.password_hash:
        raise AccountError(
            "unknown_account",
            f"There is no sign-in account {username!r}; `python app.py users list` shows them.",
            username=username,
        )
    return account


def check_timezone(timezone: str) -> str:
    if time_zone(timezone) is None:
        raise AccountError(
            "bad_timezone",
            f"{timezone!r} is not a time zone; use an IANA name such as America/Sao_Paulo.",
            value=timezone,
        )
    return timezone


def create_account(
    conn: Connection,
    username: str,
    password_hash: str,
    *,
    role: str = "user",
    display_name: str | None = None,
    language: str = "es",
    timezone: str | None = None,
) -> Account:
    """Create a sign-in account. A sender name loaded from files becomes an account in place."""
    username = check_username(username)
    if role not in ROLES:
        raise AccountError("bad_role", f"The role is admin or user, not {role!r}.", value=role)
    if timezone is not None:
        check_timezone(timezone)
    display_name = (display_name or "").strip()[:DISPLAY_NAME_MAX_LENGTH] or None
    values = dict(
        display_name=display_name,
        password_hash=password_hash,
        role=role,
        language=language,
        timezone=timezone,
        active=True,
    )
    existing = find_account(conn, username)
    if existing is not None and existing.password_hash:
        raise AccountError(
            "account_exists",
            f"The account {username!r} already exists; `users passwd` changes its password.",
            username=username,
        )
    if existing is not None:
        conn.execute(update(users).where(users.c.id == existing.id).values(**values))
    else:
        conn.execute(insert(users).values(username=username, **values))
    _mark_changed(conn)
    return find_account(conn, username)  # type: ignore[return-value]


def set_password_hash(conn: Connection, user_id: int, password_hash: str) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))
    _mark_changed(conn)


def change_password(conn: Connection, username: str, password_hash: str) -> Account:
    """Set a new password hash and end every session of the account."""
    account = _require(conn, username)
    set_password_hash(conn, account.id, password_hash)
    close_all_sessions(conn, account.id)
    return get_account(conn, account.id)  # type: ignore[return-value]


def set_active(conn: Connection, username: str, active: bool) -> Account:
    account = _require(conn, username)
    conn.execute(update(users).where(users.c.id == account.id).values(active=active))
    _mark_changed(conn)
    if not active:
        close_all_sessions(conn, account.id)
    return get_account(conn, account.id)  # type: ignore[return-value]


def update_profile(
    conn: Connection,
    user_id: int,
    *,
    language: str | None = None,
    timezone: str | None = None,
) -> None:
    """Store the language and time zone a user chose; the dashboard reads them per request."""
    values: dict[str, str] = {}
    if language is not None:
        if not language or len(language) > 8:
            raise AccountError("bad_language", f"{language!r} is not a language code.")
        values["language"] = language
    if timezone is not None:
        values["timezone"] = check_timezone(timezone)
    if values:
        conn.execute(update(users).where(users.c.id == user_id).values(**values))
        _mark_changed(conn)


def _subaccount_ids_by_name(conn: Connection, names: list[str]) -> dict[str, int]:
    rows = conn.execute(
        select(subaccounts.c.name, subaccounts.c.id).where(subaccounts.c.name.in_(names))
    ).all()
    found = {row.name: int(row.id) for row in rows}
    missing = [name for name in names if name not in found]
    if missing:
        raise AccountError(
            "unknown_subaccount",
            "No subaccount named " + ", ".join(repr(n) for n in missing) + ".",
            names=", ".join(missing),
        )
    return found


def grant(conn: Connection, username: str, subaccount_names: list[str]) -> list[str]:
    """Let the user see these subaccounts; returns the names that were not granted before."""
    account = _require(conn, username)
    wanted = _subaccount_ids_by_name(conn, subaccount_names)
    held = set(
        conn.execute(
            select(user_subaccounts.c.subaccount_id).where(user_subaccounts.c.user_id == account.id)
        ).scalars()
    )
    added = []
    for name, subaccount_id in sorted(wanted.items()):
        if subaccount_id not in held:
            conn.execute(
                insert(user_subaccounts).values(user_id=account.id, subaccount_id=subaccount_id)
            )
            added.append(name)
    if added:
        _mark_changed(conn)
    return added


def revoke(conn: Connection, username: str, subaccount_names: list[str]) -> list[str]:
    """Take these subaccounts away from the user; returns the names that were granted."""
    account = _require(conn, username)
    wanted = _subaccount_ids_by_name(conn, subaccount_names)
    removed = []
    for name, subaccount_id in sorted(wanted.items()):
        result = conn.execute(
            delete(user_subaccounts).where(
                user_subaccounts.c.user_id == account.id,
                user_subaccounts.c.subaccount_id == subaccount_id,
            )
        )
        if result.rowcount:
            removed.append(name)
    if removed:
        _mark_changed(conn)
    return removed


def scope_ids(conn: Connection, account: Account) -> list[int]:
    """The subaccounts the account may see: all of them for an admin, the granted ones else."""
    if account.role == "admin":
        return every_subaccount_id(conn)
    query = select(user_subaccounts.c.subaccount_id).where(user_subaccounts.c.user_id == account.id)
    return sorted(int(i) for i in conn.execute(query).scalars())


def every_subaccount_id(conn: Connection) -> list[int]:
    return sorted(int(i) for i in conn.execute(select(subaccounts.c.id)).scalars())


def list_accounts(conn: Connection) -> list[AccountListing]:
    """Every sign-in account (senders named in files have no password and are left out)."""
    rows = conn.execute(
        select(*_ACCOUNT_COLUMNS)
        .where(users.c.password_hash.is_not(None))
        .order_by(users.c.username)
    ).all()
    granted = conn.execute(
        select(user_subaccounts.c.user_id, subaccounts.c.name)
        .join(subaccounts, subaccounts.c.id == user_subaccounts.c.subaccount_id)
        .order_by(subaccounts.c.name)
    ).all()
    names: dict[int, list[str]] = {}
    for row in granted:
        names.setdefault(int(row.user_id), []).append(row.name)
    return [AccountListing(_account(row), tuple(names.get(int(row.id), ()))) for row in rows]


def has_sign_in_accounts(conn: Connection) -> bool:
    return bool(conn.execute(select(exists().where(users.c.password_hash.is_not(None)))).scalar())


# ---- sessions ----


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(conn: Connection, user_id: int, now: datetime, lifetime: timedelta) -> str:
    """Record a new signed-in browser; returns the token its session cookie carries."""
    conn.execute(delete(user_sessions).where(user_sessions.c.expires_at <= now))
    token = secrets.token_urlsafe(32)
    conn.execute(
        insert(user_sessions).values(
            token_hash=_token_hash(token),
            user_id=user_id,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return token


def session_account(conn: Connection, user_id: int, token: str, now: datetime) -> Account | None:
    """The account of a live session token, or None (signed out, expired, disabled, unknown)."""
    row = conn.execute(
        select(*_ACCOUNT_COLUMNS)
        .join(user_sessions, user_sessions.c.user_id == users.c.id)
        .where(
            users.c.id == user_id,
            user_sessions.c.token_hash == _token_hash(token),
            user_sessions.c.expires_at > now,
        )
    ).first()
    if row is None:
        return None
    account = _account(row)
    return account if account.can_sign_in else None


def close_session(conn: Connection, token: str) -> None:
    conn.execute(delete(user_sessions).where(user_sessions.c.token_hash == _token_hash(token)))
    _mark_changed(conn)


def close_all_sessions(conn: Connection, user_id: int) -> None:
    conn.execute(delete(user_sessions).where(user_sessions.c.user_id == user_id))
    _mark_changed(conn)


def session_count(conn: Connection, user_id: int) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(user_sessions)
            .where(user_sessions.c.user_id == user_id)
        ).scalar()
    )


# ---- two-step verification ----


def set_totp_secret(conn: Connection, user_id: int, secret: str | None) -> None:
    """Turn two-step verification on with a new secret, or off with None."""
    conn.execute(update(users).where(users.c.id == user_id).values(totp_secret=secret))
    _mark_changed(conn)
    conn.execute(delete(totp_steps).where(totp_steps.c.user_id == user_id))
    if secret is not None:
        # The row exists from the start, so claiming a step is one conditional UPDATE that
        # two simultaneous sign-ins with the same code cannot both win.
        conn.execute(insert(totp_steps).values(user_id=user_id, last_step=0))


def reset_totp(conn: Connection, username: str) -> Account:
    account = _require(conn, username)
    set_totp_secret(conn, account.id, None)
    return get_account(conn, account.id)  # type: ignore[return-value]


def claim_totp_step(conn: Connection, user_id: int, step: int) -> bool:
    """Record that the code of this time step was used; False if it (or a later one) was."""
    result = conn.execute(
        update(totp_steps)
        .where(totp_steps.c.user_id == user_id, totp_steps.c.last_step < step)
        .values(last_step=step)
    )
    return result.rowcount == 1


# ---- failed attempts ----


def throttle_key(username: str) -> str:
    """Attempts count per typed name, case and spaces aside, so variants do not multiply them."""
    return (username or "").strip().lower()[:200]


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt: the reserved row when it may be checked, or when to try again."""

    id: int | None
    retry_at: datetime | None = None

    @property
    def allowed(self) -> bool:
        return self.id is not None


# Reserving an attempt reads the counts and then writes; on DuckDB (one process writes the
# file) this lock makes the two one step, and it keeps this process's deletes of attempt rows
# from colliding (DuckDB refuses two transactions deleting one row). PostgreSQL serves several
# processes, so there the reservation also takes a transaction-scoped advisory lock per name and
# per address.
_attempts_lock = threading.Lock()


def _advisory_key(kind: str, value: str) -> int:
    """A signed 64-bit key for pg_advisory_xact_lock, one per throttled name or address."""
    digest = hashlib.blake2b(f"login-{kind}:{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def _attempts_transaction(engine: Engine) -> Iterator[Connection]:
    with _attempts_lock, engine.begin() as conn:
        yield conn


def reserve_attempt(engine: Engine, username: str, address: str, now: datetime) -> Attempt:
    """Count and take one attempt of the name and the address in one atomic step, before the
    password or code is checked.

    The reserved row counts as a failure until the check succeeds (`release_attempt`, or
    `clear_failures` on sign-in), so however many requests arrive at once, at most
    MAX_FAILURES_PER_USERNAME checks run per name and MAX_FAILURES_PER_ADDRESS per address in
    the window. Runs its own transaction: the lock must cover its commit.
    """
    name, where = throttle_key(username), (address or "")[:64]
    expired = login_failures.c.failed_at < now - FAILURE_WINDOW
    with _attempts_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            # Always in the same order, so two reservations never wait on each other in a cycle.
            for key in sorted({_advisory_key("name", name), _advisory_key("address", where)}):
                conn.execute(select(func.pg_advisory_xact_lock(key)))
            # Rows another reservation is deleting right now are left to it, not waited for.
            expired = login_failures.c.id.in_(
                select(login_failures.c.id).where(expired).with_for_update(skip_locked=True)
            )
        conn.execute(delete(login_failures).where(expired))
        until = blocked_until(conn, username, address, now)
        if until is not None:
            return Attempt(None, until)
        attempt_id = conn.execute(
            insert(login_failures)
            .values(username=name, address=where, failed_at=now)
            .returning(login_failures.c.id)
        ).scalar_one()
    return Attempt(int(attempt_id))


def release_attempt(engine: Engine, attempt: Attempt) -> None:
    """The check succeeded: the reserved attempt no longer counts as a failure."""
    if attempt.id is None:
        return
    with _attempts_transaction(engine) as conn:
        conn.execute(delete(login_failures).where(login_failures.c.id == attempt.id))


def clear_failures(engine: Engine, username: str) -> None:
    """A sign-in succeeded: forget the name's failed attempts."""
    with _attempts_transaction(engine) as conn:
        conn.execute(
            delete(login_failures).where(login_failures.c.username == throttle_key(username))
        )


def _retry_at(conn: Connection, condition, limit: int, now: datetime) -> datetime | None:
    recent = (
        conn.execute(
            select(login_failures.c.failed_at)
            .where(condition, login_failures.c.failed_at >= now - FAILURE_WINDOW)
            .order_by(login_failures.c.failed_at.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    if len(recent) < limit:
        return None
    return recent[-1] + FAILURE_WINDOW


def blocked_until(conn: Connection, username: str, address: str, now: datetime) -> datetime | None:
    """When sign-in may be tried again for this name or address, or None when it may now."""
    times = [
        _retry_at(
            conn,
            login_failures.c.username == throttle_key(username),
            MAX_FAILURES_PER_USERNAME,
            now,
        ),
        _retry_at(
            conn, login_failures.c.address == (address or "")[:64], MAX_FAILURES_PER_ADDRESS, now
        ),
    ]
    later = [t for t in times if t is not None and t > now]
    return max(later) if later else None


def failure_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(login_failures)).scalar())


# ---- demo ----


def create_demo_accounts(conn: Connection) -> list[DemoAccount]:
    """The demo store's admin and a user limited to its first two subaccounts.

    Only on a store without sign-in accounts, so running it against a real store adds no
    account with a published password. Run again, it reports the demo accounts it made before.
    """
    if not has_sign_in_accounts(conn):
        first_names = tuple(
            conn.execute(
                select(subaccounts.c.name).order_by(subaccounts.c.name).limit(DEMO_USER_SUBACCOUNTS)
            ).scalars()
        )
        made = []
        for username, display_name, role, password in DEMO_ACCOUNTS:
            create_account(
                conn,
                username,
                hash_password(password, username),
                role=role,
                display_name=display_name,
            )
            granted: tuple[str, ...] = ()
            if role == "user" and first_names:
                granted = tuple(grant(conn, username, list(first_names)))
            made.append(DemoAccount(username, password, role, granted, created=True))
        return made
    found = []
    for username, _display, _role, password in DEMO_ACCOUNTS:
        account = find_account(conn, username)
        if account is None or not verify_password(account, password):
            continue
        names = tuple(
            conn.execute(
                select(subaccounts.c.name)
                .join(user_subaccounts, user_subaccounts.c.subaccount_id == subaccounts.c.id)
                .where(user_subaccounts.c.user_id == account.id)
                .order_by(subaccounts.c.name)
            ).scalars()
        )
        found.append(DemoAccount(username, password, account.role, names, created=False))
    return found
