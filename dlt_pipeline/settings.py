"""Loader settings: command-line flags first, then dlt's config providers, then documented defaults.

Every option can live in `.dlt/config.toml` under `[session_stream]`, in environment variables
(`SESSION_STREAM__LOOKBACK_DAYS=3`), and secrets in `.dlt/secrets.toml` or the environment
(`SESSION_STREAM__SFTP_PASSWORD`). Secrets have no command-line flag, so they never show up in shell
history or process listings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import dlt

SECTION = "session_stream"
DEFAULT_DUCKDB = "session_stream.duckdb"
DESTINATIONS = ("duckdb", "postgres", "redshift")


def default_duckdb_path() -> str:
    """The DuckDB file loader and dbt share: `SESSION_STREAM_DUCKDB`, else ./session_stream.duckdb."""
    return os.environ.get("SESSION_STREAM_DUCKDB") or DEFAULT_DUCKDB


@dataclass
class Settings:
    """Resolved options for one run (see `run.py --help` for what each means)."""

    source: str | None = None
    private_key: str | None = None
    known_hosts: str | None = None
    trust_host_key: str | None = None
    destination: str = "duckdb"
    duckdb_path: str = field(default_factory=default_duckdb_path)
    dataset_name: str = "monetate_raw"
    pipeline_name: str = "monetate_session_stream"
    pipelines_dir: str | None = None
    staging: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    lookback_days: int = 2
    min_file_age_seconds: int = 120
    batch_size: int = 5_000
    workers: int = 2
    max_line_bytes: int = 16 << 20
    timeout: float = 30.0
    retries: int = 5
    backoff: float = 1.0
    pii_mode: str = "keep"
    pii_target_ids: list[str] | None = None
    strict: bool = False
    retry_quarantined: bool = False
    reload: bool = False
    demo: bool = False
    # secrets: only from dlt's providers
    sftp_password: str | None = field(default=None, repr=False)
    private_key_passphrase: str | None = field(default=None, repr=False)
    pii_salt: str | None = field(default=None, repr=False)


SECRETS = ("sftp_password", "private_key_passphrase", "pii_salt")


def _lookup(name: str, secret: bool) -> Any:
    """Ask dlt's providers (env, secrets.toml, config.toml) for `session_stream.<name>`."""
    store = dlt.secrets if secret else dlt.config
    try:
        return store.get(f"{SECTION}.{name}")
    except Exception:  # noqa: BLE001 - a malformed toml is reported by dlt itself on the next access
        return None


def _coerce(name: str, value: Any, template: Any) -> Any:
    if value is None:
        return None
    if name in ("start_date", "end_date"):
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    if name == "pii_target_ids":
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return [str(v) for v in value]
    if isinstance(template, bool):
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
    if isinstance(template, int):
        return int(value)
    if isinstance(template, float):
        return float(value)
    return str(value)


def resolve(cli: dict[str, Any]) -> Settings:
    """Merge command-line values (None = not given) over dlt config over defaults."""
    settings = Settings()
    for name, default in vars(Settings()).items():
        value = cli.get(name)
        if value is None or value is False:
            found = _lookup(name, name in SECRETS)
            if found is not None:
                value = found
        if value is None:
            continue
        setattr(settings, name, _coerce(name, value, default))
    if settings.destination not in DESTINATIONS:
        raise ValueError(f"destination must be one of {', '.join(DESTINATIONS)}, not '{settings.destination}'")
    if settings.reload and not settings.start_date:
        raise ValueError("--reload needs --start-date (and optionally --end-date): it reloads that range of days")
    # absolute: dlt resolves a relative DuckDB path against the folder the pipeline was first run from
    settings.duckdb_path = str(Path(settings.duckdb_path).expanduser().resolve())
    return settings
