"""Settings read once from the environment; a bad value stops the program with a clear message."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from clock import time_zone

PROJECT_DIR = Path(__file__).resolve().parent


class SettingsError(ValueError):
    """A setting in the environment has a value the program cannot use."""


def _int(env: dict, name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool(env: dict, name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


# DuckDB's own units: KB, MB, GB, TB are powers of 1000; KiB, MiB, GiB, TiB of 1024.
_SIZE_UNITS = {
    "kb": ("KB", 10**3),
    "mb": ("MB", 10**6),
    "gb": ("GB", 10**9),
    "tb": ("TB", 10**12),
    "kib": ("KiB", 2**10),
    "mib": ("MiB", 2**20),
    "gib": ("GiB", 2**30),
    "tib": ("TiB", 2**40),
}
_SIZE = re.compile(r"\s*(\d{1,9})\s*([kmgt]i?b)\s*", re.IGNORECASE)
# At 10M messages with 20 users at once, 1GB is enough once at most three report queries run
# together (dashboard/services.py QUERY_SLOTS); with eight at once DuckDB refused some.
DUCKDB_MEMORY_LIMIT_DEFAULT = "1GB"
# Measured on a 3M-message store: at 128MB a detailed export sorted by phone ran out of memory;
# 256MB leaves room above the 192MB at which it still ran.
DUCKDB_MEMORY_LIMIT_MIN = 256 * 10**6


def parse_memory_limit(
    raw: str, name: str = "DUCKDB_MEMORY_LIMIT", minimum: int = DUCKDB_MEMORY_LIMIT_MIN
) -> str:
    """A DuckDB memory size such as 1GB or 512MiB, checked and spelt the way DuckDB reads it."""
    match = _SIZE.fullmatch(raw)
    if match is None:
        raise SettingsError(f"{name} must be a size such as 1GB or 512MB, got {raw!r}")
    unit, factor = _SIZE_UNITS[match.group(2).lower()]
    if int(match.group(1)) * factor < minimum:
        raise SettingsError(f"{name} must be at least 256MB (exports need that much), got {raw!r}")
    return f"{int(match.group(1))}{unit}"


# How mail reaches the SMTP server: STARTTLS after connecting, TLS from the start, or plain.
SMTP_TLS_MODES = ("starttls", "ssl", "none")

SECRET_KEY_MIN_LENGTH = 32
SECRET_KEY_FILE = "secret_key"


def _secret_key(env: dict) -> str | None:
    raw = env.get("SECRET_KEY", "").strip()
    if not raw:
        return None
    if len(raw) < SECRET_KEY_MIN_LENGTH:
        raise SettingsError(
            f"SECRET_KEY must be at least {SECRET_KEY_MIN_LENGTH} characters; make one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    return raw


def resolve_secret_key(settings: Settings) -> str:
    """The key that signs session cookies: SECRET_KEY, else one kept in DATA_DIR (mode 0600).

    The file is made once, on first use, so sessions survive restarts without a key in the
    code or the repository. Servers that share one PostgreSQL store from several hosts need
    the same SECRET_KEY on each.
    """
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / SECRET_KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting together cannot both write a different key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        key = path.read_text(encoding="ascii").strip()
        if len(key) < SECRET_KEY_MIN_LENGTH:
            raise SettingsError(
                f"{path} holds no usable key; delete it to have a new one made "
                "(everyone will have to sign in again)."
            ) from None
        return key
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


CLICKHOUSE_SCHEMES = ("clickhouse", "chdb")
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _clickhouse_url(url: str, cluster: str) -> str:
    """DATABASE_URL naming ClickHouse, with CLICKHOUSE_CLUSTER as its `cluster` (a URL that
    names one keeps its own)."""
    if not cluster:
        return url
    if not _PLAIN_NAME.fullmatch(cluster):
        raise SettingsError(f"CLICKHOUSE_CLUSTER must be a plain name, got {cluster!r}")
    if url.startswith("chdb:"):
        raise SettingsError("CLICKHOUSE_CLUSTER names a server cluster; chdb:/// is one process")
    if "cluster=" in url.partition("?")[2]:
        return url
    return url + ("&" if "?" in url else "?") + f"cluster={cluster}"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    # The relational store: accounts, sessions, audit, export jobs, API keys, the inbox and,
    # unless clickhouse_url is set, the messages.
    database_url: str
    # Messages in ClickHouse (DATABASE_URL=clickhouse://... or chdb:///...); database_url is
    # then ACCOUNTS_DATABASE_URL.
    clickhouse_url: str | None = None
    account_timezone: str = "America/Sao_Paulo"
    debug: bool = False
    secret_key: str | None = None
    secure_cookies: bool = False
    session_hours: int = 12
    trusted_proxies: int = 0
    export_dir: Path | None = None
    export_expiry_days: int = 7
    export_workers: int = 2
    export_in_server: bool = False
    xlsx_max_rows: int = 1_048_575
    duckdb_memory_limit: str = DUCKDB_MEMORY_LIMIT_DEFAULT
    whatsapp_verify_token: str | None = None
    whatsapp_app_secret: str | None = None
    sinch_webhook_token: str | None = None
    inbox_keep_days: int = 14
    pending_keep_days: int = 7
    retention_days: int = 400
    audit_keep_days: int = 365
    # Outgoing mail of alerts and scheduled reports (notify/mail.py); no host: no mail is sent.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_tls: str = "starttls"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_sender: str = "reports@localhost"
    # The address people open the dashboard at, for the links in mails.
    public_url: str = "http://127.0.0.1:8050"
    # Requests a read-API key may make per minute unless the key sets its own.
    read_api_per_minute: int = 60

    @property
    def is_duckdb(self) -> bool:
        return self.database_url.startswith("duckdb")

    @property
    def duckdb_path(self) -> Path | None:
        """The store's file when the store is an embedded DuckDB file."""
        if not self.is_duckdb:
            return None
        path = self.database_url.split(":///", 1)[1]
        return None if path in ("", ":memory:") else Path(path)

    @property
    def exports_path(self) -> Path:
        return self.export_dir or self.data_dir / "exports"


def load_settings(env: dict | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    data_dir = Path(env.get("DATA_DIR") or PROJECT_DIR / "data").resolve()
    database_url = env.get("DATABASE_URL", "").strip() or f"duckdb:///{data_dir / 'reports.duckdb'}"
    clickhouse_url = None
    if database_url.split("://", 1)[0] in CLICKHOUSE_SCHEMES:
        clickhouse_url = _clickhouse_url(database_url, env.get("CLICKHOUSE_CLUSTER", "").strip())
        database_url = (
            env.get("ACCOUNTS_DATABASE_URL", "").strip()
            or f"duckdb:///{data_dir / 'accounts.duckdb'}"
        )
    if not (database_url.startswith("duckdb:///") or database_url.startswith("postgresql")):
        raise SettingsError(
            "DATABASE_URL must be duckdb:///PATH, postgresql+psycopg://USER@HOST/DB, "
            "clickhouse://HOST:PORT/DB or chdb:///PATH (ACCOUNTS_DATABASE_URL: one of the "
            f"first two), got {database_url.split('://')[0]}://..."
        )
    timezone = env.get("ACCOUNT_TIMEZONE", "").strip() or "America/Sao_Paulo"
    if time_zone(timezone) is None:
        raise SettingsError(f"ACCOUNT_TIMEZONE {timezone!r} is not an IANA time zone")
    export_dir = env.get("EXPORT_DIR", "").strip()
    sinch_token = env.get("SINCH_WEBHOOK_TOKEN", "").strip() or None
    # The token is the whole credential of the Sinch webhook (Sinch signs nothing).
    if sinch_token is not None and len(sinch_token) < 24:
        raise SettingsError(
            "SINCH_WEBHOOK_TOKEN must be at least 24 characters; make one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    smtp_tls = env.get("SMTP_TLS", "").strip().lower() or "starttls"
    if smtp_tls not in SMTP_TLS_MODES:
        raise SettingsError(
            f"SMTP_TLS must be one of {', '.join(SMTP_TLS_MODES)}, got {smtp_tls!r}"
        )
    public_url = env.get("PUBLIC_URL", "").strip().rstrip("/") or "http://127.0.0.1:8050"
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", public_url):
        raise SettingsError(f"PUBLIC_URL must be an http(s) address, got {public_url!r}")
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        clickhouse_url=clickhouse_url,
        account_timezone=timezone,
        debug=_bool(env, "DEBUG"),
        secret_key=_secret_key(env),
        secure_cookies=_bool(env, "SECURE_COOKIES"),
        session_hours=_int(env, "SESSION_HOURS", 12),
        trusted_proxies=_int(env, "TRUSTED_PROXIES", 0, minimum=0),
        export_dir=Path(export_dir).resolve() if export_dir else None,
        export_expiry_days=_int(env, "EXPORT_EXPIRY_DAYS", 7),
        export_workers=_int(env, "EXPORT_WORKERS", 2),
        export_in_server=_bool(env, "EXPORT_IN_SERVER"),
        xlsx_max_rows=_int(env, "XLSX_MAX_ROWS", 1_048_575),
        duckdb_memory_limit=parse_memory_limit(
            env.get("DUCKDB_MEMORY_LIMIT", "").strip() or DUCKDB_MEMORY_LIMIT_DEFAULT
        ),
        whatsapp_verify_token=env.get("WHATSAPP_VERIFY_TOKEN", "").strip() or None,
        whatsapp_app_secret=env.get("WHATSAPP_APP_SECRET", "").strip() or None,
        sinch_webhook_token=sinch_token,
        inbox_keep_days=_int(env, "INBOX_KEEP_DAYS", 14),
        pending_keep_days=_int(env, "PENDING_KEEP_DAYS", 7),
        retention_days=_int(env, "RETENTION_DAYS", 400, minimum=90),
        audit_keep_days=_int(env, "AUDIT_KEEP_DAYS", 365),
        smtp_host=env.get("SMTP_HOST", "").strip() or None,
        smtp_port=_int(env, "SMTP_PORT", 465 if smtp_tls == "ssl" else 587),
        smtp_tls=smtp_tls,
        smtp_user=env.get("SMTP_USER", "").strip() or None,
        smtp_password=env.get("SMTP_PASSWORD", "") or None,
        smtp_sender=env.get("SMTP_SENDER", "").strip() or "reports@localhost",
        public_url=public_url,
        read_api_per_minute=_int(env, "READ_API_PER_MINUTE", 60),
    )
