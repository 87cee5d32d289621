"""Settings read once from the environment; a bad value stops the program with a clear message."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    account_timezone: str = "America/Sao_Paulo"
    debug: bool = False
    secret_key: str | None = None
    export_dir: Path | None = None
    export_expiry_days: int = 7
    export_workers: int = 2
    xlsx_max_rows: int = 1_048_575
    cache_entries: int = 256
    extra: dict = field(default_factory=dict)

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
    if not (database_url.startswith("duckdb:///") or database_url.startswith("postgresql")):
        raise SettingsError(
            "DATABASE_URL must be duckdb:///PATH or postgresql+psycopg://USER@HOST/DB, "
            f"got {database_url.split('://')[0]}://..."
        )
    timezone = env.get("ACCOUNT_TIMEZONE", "").strip() or "America/Sao_Paulo"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"ACCOUNT_TIMEZONE {timezone!r} is not an IANA time zone") from None
    export_dir = env.get("EXPORT_DIR", "").strip()
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        account_timezone=timezone,
        debug=_bool(env, "DEBUG"),
        secret_key=env.get("SECRET_KEY") or None,
        export_dir=Path(export_dir).resolve() if export_dir else None,
        export_expiry_days=_int(env, "EXPORT_EXPIRY_DAYS", 7),
        export_workers=_int(env, "EXPORT_WORKERS", 2),
        xlsx_max_rows=_int(env, "XLSX_MAX_ROWS", 1_048_575),
        cache_entries=_int(env, "CACHE_ENTRIES", 256, minimum=0),
    )
