"""Loader settings: command-line flags first, then dlt's config providers, then documented defaults.

Every option can live in `.dlt/config.toml` under `[session_stream]`, in environment variables
(`SESSION_STREAM__LOOKBACK_DAYS=3`), and secrets in `.dlt/secrets.toml` or the environment
(`SESSION_STREAM__SFTP_PASSWORD`). Secrets have no command-line flag, so they never show up in shell
history or process listings.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dlt

from dlt_pipeline.session_stream.config import SftpCredentials
from dlt_pipeline.session_stream.coverage import VENDOR_RETENTION_DAYS
from dlt_pipeline.session_stream.options import LoadOptions

SECTION = "session_stream"
DEFAULT_DUCKDB = "session_stream.duckdb"
DESTINATIONS = ("duckdb", "postgres", "redshift")
PII_MODES = ("keep", "hash", "drop")
PII_AUTO = "auto"
"""`--pii-target-ids auto`: the ids the last metadata refresh marks personal (see metadata_refresh.py)."""
MAX_LOOKBACK_DAYS = 3650
"""Ten years: far past the vendor's retention, yet a date any calendar can subtract (a huge value overflowed)."""
MAX_WORKERS = 64
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")


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
    metadata_refresh_hours: float = 24.0
    refresh_metadata: bool = False
    metadata_only: bool = False
    check: bool = False
    """--check: compare the server's recent day folders with the ledger, load nothing (dlt_pipeline/completeness.py)."""
    completeness_days: int = 7
    retention_warn_days: int = 30
    archive: str | None = None
    """--archive DEST: keep every loaded file byte for byte in the vendor's layout (session_stream/archive.py)."""
    lock_wait_seconds: float = 60.0
    """How long to wait for a reader (a BI tool) to release the DuckDB file before stopping (duckdb_access.py)."""
    publish: str | None = None
    publish_formats: str = "hyper,parquet,csv"
    publish_schema: str = field(default_factory=lambda: os.environ.get("DBT_SCHEMA") or "analytics")
    json: bool = False
    """--json: the run summary as one JSON object on stdout, everything else on stderr (run_history.py)."""
    # secrets: only from dlt's providers
    sftp_password: str | None = field(default=None, repr=False)
    private_key_passphrase: str | None = field(default=None, repr=False)
    pii_salt: str | None = field(default=None, repr=False)


    def load_options(self) -> LoadOptions:
        """The source's options, as these settings give them."""
        return LoadOptions(**{f.name: getattr(self, f.name) for f in fields(LoadOptions)})

    def credentials(self) -> SftpCredentials:
        """The source's credentials spec, filled from these options (the command line resolved them already)."""
        creds = SftpCredentials()
        creds.url = self.source  # type: ignore[assignment]
        creds.private_key = self.private_key  # type: ignore[assignment]
        creds.private_key_passphrase = self.private_key_passphrase  # type: ignore[assignment]
        creds.password = self.sftp_password  # type: ignore[assignment]
        creds.known_hosts = self.known_hosts
        creds.trust_host_key = self.trust_host_key
        creds.timeout, creds.retries, creds.backoff = self.timeout, self.retries, self.backoff
        return creds


SECRETS = ("sftp_password", "private_key_passphrase", "pii_salt")
CLI_ONLY = ("demo", "reload", "refresh_metadata", "metadata_only", "check", "publish")
"""One-shot actions: only a command-line flag asks for them, so a stray SESSION_STREAM__DEMO=1 in a cron
environment can never turn a scheduled load into a demo or a reload."""


def _lookup(name: str, secret: bool) -> Any:
    """Ask dlt's providers (env, secrets.toml, config.toml) for `session_stream.<name>`."""
    store = dlt.secrets if secret else dlt.config
    try:
        return store.get(f"{SECTION}.{name}")
    except Exception as exc:  # noqa: BLE001 - dlt raises many types for a malformed toml; say which setting
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ValueError(f"cannot read {SECTION}.{name} from dlt's configuration (.dlt/config.toml, "
                         f".dlt/secrets.toml or the environment): {first}") from None


def _coerce(name: str, value: Any, template: Any) -> Any:
    """Turn a flag or config value into the field's type; ValueError/TypeError if it is not one."""
    if value is None:
        return None
    if name in ("start_date", "end_date"):
        return value if isinstance(value, date) else date.fromisoformat(str(value).strip())
    if name == "pii_target_ids":
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return [str(v) for v in value]
    if isinstance(template, bool):
        return _coerce_bool(value)
    if isinstance(template, int):
        return _coerce_int(value)
    if isinstance(template, float):
        if isinstance(value, bool):
            raise TypeError("a boolean is not a number")
        return float(value)
    return str(value)


def _coerce_bool(value: Any) -> bool:
    """Booleans from config files and the environment; anything but a clear yes/no is refused, not read as no."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word not in TRUE_WORDS + FALSE_WORDS:
        raise ValueError(word)
    return word in TRUE_WORDS


def _coerce_int(value: Any) -> int:
    """Whole numbers only: `2.5` days or `true` workers are refused rather than silently rounded."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a whole number")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    return int(str(value).strip()) if isinstance(value, str) else int(value)


def _kind(name: str, template: Any) -> str:
    """What a value of this option looks like, for messages."""
    if name in ("start_date", "end_date"):
        return "a date like 2026-11-01 (YYYY-MM-DD)"
    if isinstance(template, bool):
        return "true or false"
    if isinstance(template, int):
        return "a whole number"
    if isinstance(template, float):
        return "a number"
    return "text"


def option_label(name: str, from_cli: bool) -> str:
    """How the user set an option, so a message points at the right place: flag, env variable or config file."""
    if from_cli:
        return f"--{name.replace('_', '-')}"
    env = f"{SECTION}__{name}".upper()
    if env in os.environ:
        return env
    return f"{name} (set in .dlt/config.toml or .dlt/secrets.toml)"


def resolve(cli: dict[str, Any]) -> Settings:
    """Merge command-line values (None = not given) over dlt config over defaults, then check them.

    Raises ValueError with a one-line message naming the option (as the user set it) and what is
    allowed; `command.execute` turns it into exit code 2.
    """
    settings = Settings()
    given: set[str] = set()
    for name, default in vars(Settings()).items():
        value = cli.get(name)
        from_cli = not (value is None or value is False)
        if not from_cli and name not in CLI_ONLY:
            found = _lookup(name, name in SECRETS)
            if found is not None:
                value = found
        if value is None:
            continue
        try:
            setattr(settings, name, _coerce(name, value, default))
        except (TypeError, ValueError, OverflowError):
            shown = "(hidden)" if name in SECRETS else repr(value)
            raise ValueError(f"{option_label(name, from_cli)} is {shown}; it must be {_kind(name, default)}") from None
        if from_cli:
            given.add(name)

    def label(name: str) -> str:
        return option_label(name, name in given)

    validate(settings, label)
    # absolute: dlt resolves a relative DuckDB path against the folder the pipeline was first run from
    settings.duckdb_path = str(Path(settings.duckdb_path).expanduser().resolve())
    return settings


def validate(settings: Settings, label: Callable[[str], str]) -> None:
    """Refuse values that would lose data, hang or crash later, with a message the user can act on."""
    if settings.destination not in DESTINATIONS:
        raise ValueError(f"{label('destination')} must be one of {', '.join(DESTINATIONS)}, "
                         f"not '{settings.destination}'")
    if settings.pii_mode not in PII_MODES:
        raise ValueError(f"{label('pii_mode')} must be one of {', '.join(PII_MODES)}, not '{settings.pii_mode}'")
    if settings.pii_mode == "hash" and not settings.pii_salt:
        raise ValueError(f"{label('pii_mode')} hash needs a secret salt: set SESSION_STREAM__PII_SALT in the "
                         "environment or pii_salt in .dlt/secrets.toml")
    ids = settings.pii_target_ids or []
    if PII_AUTO in ids and len(ids) > 1:
        raise ValueError(f"{label('pii_target_ids')} is either '{PII_AUTO}' or a list of ids, not both")
    _check_numbers(settings, label)
    _check_dates(settings, label)
    if settings.reload and not settings.start_date:
        raise ValueError("--reload needs --start-date (and optionally --end-date): it reloads that range of days")
    if settings.archive and settings.source:
        from dlt_pipeline.session_stream.archive import ArchiveConfigError, account_prefix

        try:
            account_prefix(settings.source)
        except ArchiveConfigError as exc:
            raise ValueError(str(exc).replace("--archive", label("archive"), 1)) from None


def _check_numbers(s: Settings, label: Callable[[str], str]) -> None:
    """Every numeric option within what the loader can honour."""

    def need(name: str, ok: bool, rule: str) -> None:
        if not ok:
            raise ValueError(f"{label(name)} is {getattr(s, name)!r}; it must be {rule}")

    need("lookback_days", 0 <= s.lookback_days <= MAX_LOOKBACK_DAYS,
         f"a whole number of days from 0 to {MAX_LOOKBACK_DAYS:,} (a negative look-back would skip days; "
         f"the vendor keeps files for {VENDOR_RETENTION_DAYS} days, and --start-date backfills a range)")
    need("min_file_age_seconds", s.min_file_age_seconds >= 0, "0 or more seconds (0 loads files at once)")
    need("batch_size", s.batch_size >= 1, "at least 1 session per batch (default 5000)")
    need("workers", 0 <= s.workers <= MAX_WORKERS,
         f"0 to {MAX_WORKERS} parser processes (0 parses in the main process; default 2)")
    need("max_line_bytes", s.max_line_bytes >= 1, "at least 1 byte (default 16777216)")
    need("timeout", math.isfinite(s.timeout) and s.timeout > 0, "a number of seconds above 0 (default 30)")
    need("retries", s.retries >= 0, "0 or more (default 5)")
    need("backoff", math.isfinite(s.backoff) and s.backoff >= 0, "a number of seconds, 0 or more (default 1)")
    need("lock_wait_seconds", math.isfinite(s.lock_wait_seconds) and s.lock_wait_seconds >= 0,
         "a number of seconds, 0 or more (default 60; 0 stops at once when a reader holds the DuckDB file)")
    need("completeness_days", 0 <= s.completeness_days <= VENDOR_RETENTION_DAYS,
         f"0 to {VENDOR_RETENTION_DAYS} days (default 7; 0 turns the hourly scan beyond the look-back off)")
    need("retention_warn_days", 0 <= s.retention_warn_days < VENDOR_RETENTION_DAYS,
         f"0 to {VENDOR_RETENTION_DAYS - 1} days (default 30; 0 turns the retention warning off)")
    need("metadata_refresh_hours", math.isfinite(s.metadata_refresh_hours) and s.metadata_refresh_hours >= 0,
         "a number of hours, 0 or more (default 24; 0 refreshes on every run)")


def _check_dates(s: Settings, label: Callable[[str], str]) -> None:
    """A day range that exists: not reversed, not in the future (file names and day folders are in UTC)."""
    today = datetime.now(UTC).date()
    for name in ("start_date", "end_date"):
        day = getattr(s, name)
        if day is not None and day > today:
            raise ValueError(f"{label(name)} {day} is in the future (today is {today} in UTC, the time zone of the "
                             "vendor's day folders)")
    if s.start_date and s.end_date and s.start_date > s.end_date:
        raise ValueError(f"{label('start_date')} {s.start_date} is after {label('end_date')} {s.end_date}: "
                         "the range would hold no days")
