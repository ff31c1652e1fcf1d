"""Checking resolved settings: values of the right kind, within what the loader can honour.

Every refusal is one line naming the setting the way the user set it (`label(name)`: a flag, a source
argument, an environment variable or a toml key) and what is allowed; the command line exits 2 on it.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from dlt_pipeline.session_stream.coverage import VENDOR_RETENTION_DAYS

if TYPE_CHECKING:
    from dlt_pipeline.settings import Settings

SECTION = "session_stream"
DESTINATIONS = ("duckdb", "postgres", "redshift")
PII_MODES = ("keep", "hash", "drop")
PII_AUTO = "auto"
"""`--pii-target-ids auto`: the ids the last metadata refresh marks personal (see metadata_refresh.py)."""
MAX_LOOKBACK_DAYS = 3650
"""Ten years: far past the vendor's retention, yet a date any calendar can subtract (a huge value overflowed)."""
MAX_WORKERS = 64
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")


def coerce(name: str, value: Any, template: Any) -> Any:
    """Turn a flag, argument or alias value into the field's type; ValueError/TypeError if it is not one."""
    if value is None:
        return None
    if name in ("start_date", "end_date"):
        if isinstance(value, datetime):
            raise TypeError("a date, not a time")
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


def kind(name: str, template: Any) -> str:
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


def validate(settings: Settings, label: Callable[[str], str]) -> None:
    """Refuse values that would lose data, hang or crash later, with a message the user can act on."""
    if settings.destination not in DESTINATIONS:
        raise ValueError(f"{label('destination')} must be one of {', '.join(DESTINATIONS)}, "
                         f"not '{settings.destination}'")
    if settings.pii_mode not in PII_MODES:
        raise ValueError(f"{label('pii_mode')} must be one of {', '.join(PII_MODES)}, not '{settings.pii_mode}'")
    if settings.pii_mode == "hash" and not settings.pii_salt:
        raise ValueError(f"{label('pii_mode')} hash needs a secret salt: set SESSION_STREAM__PII_SALT in the "
                         f"environment or pii_salt under [{SECTION}] in .dlt/secrets.toml")
    _check_host_key(settings, label)
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


def _check_host_key(settings: Settings, label: Callable[[str], str]) -> None:
    """A pinned fingerprint in the form OpenSSH prints, checked before connecting (a typo would only show later)."""
    pinned = settings.trust_host_key
    if pinned is None:
        return
    text = pinned.strip().rstrip("=")
    digest = text.removeprefix("SHA256:")
    try:
        ok = text.startswith("SHA256:") and len(base64.b64decode(digest + "=", validate=True)) == 32
    except (binascii.Error, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{label('trust_host_key')} is {pinned!r}; it must be a SHA256 fingerprint like "
                         "SHA256:<43 base64 characters>, as `ssh-keygen -lf` or the vendor prints it")
    settings.trust_host_key = text


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
