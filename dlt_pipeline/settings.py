"""Loader settings: one `@configspec` read by the command line and by the dlt sources alike.

`LoaderConfiguration` is every setting that may live in configuration: `.dlt/config.toml` /
`.dlt/secrets.toml` under `[session_stream]`, or environment variables `SESSION_STREAM__<NAME>`
(docs/configuration.md lists each once). dlt's `resolve_configuration` reads it at exactly that section
(`config_sources.py`), for `python dlt_pipeline/run.py` (`resolve`) and for `session_stream(...)` in a
user's own pipeline (`for_source`); flags and source arguments override it. Secrets have no flag, so they
never show up in shell history or process listings. One-shot actions (`Settings` adds them) come only from
flags: a stray `SESSION_STREAM__DEMO=1` in a cron environment never turns a load into a demo.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import field, fields
from datetime import date
from pathlib import Path
from typing import Any, ClassVar, Optional  # noqa: UP035 - dlt reads these hints at runtime

from dlt.common.configuration import configspec
from dlt.common.configuration.exceptions import ConfigValueCannotBeCoercedException, ValueNotSecretException
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.typing import TSecretStrValue

from dlt_pipeline import config_sources
from dlt_pipeline.exception_chain import first_line
from dlt_pipeline.session_stream.config import SftpCredentials
from dlt_pipeline.session_stream.options import LoadOptions
from dlt_pipeline.setting_checks import (  # noqa: F401 - MAX_*, PII_*, DESTINATIONS: used by importers of settings
    DESTINATIONS,
    MAX_LOOKBACK_DAYS,
    MAX_WORKERS,
    PII_AUTO,
    PII_MODES,
    coerce,
    kind,
    validate,
)

SECTION = "session_stream"
DEFAULT_DUCKDB = "session_stream.duckdb"


def default_duckdb_path() -> str:
    """The DuckDB file loader and dbt share: `SESSION_STREAM_DUCKDB`, else ./session_stream.duckdb."""
    return os.environ.get("SESSION_STREAM_DUCKDB") or DEFAULT_DUCKDB


def default_publish_schema() -> str:
    """The schema dbt builds the marts in: `DBT_SCHEMA` (what profiles.yml reads), else analytics."""
    return os.environ.get("DBT_SCHEMA") or "analytics"


@configspec
class LoaderConfiguration(BaseConfiguration):
    """Every setting of the loader and the `session_stream` source (docs/configuration.md says what each means)."""

    source: Optional[str] = None  # noqa: UP045
    private_key: Optional[str] = None  # noqa: UP045
    known_hosts: Optional[str] = None  # noqa: UP045
    trust_host_key: Optional[str] = None  # noqa: UP045
    destination: str = "duckdb"
    duckdb_path: str = field(default_factory=default_duckdb_path)
    dataset_name: str = "monetate_raw"
    pipeline_name: str = "monetate_session_stream"
    pipelines_dir: Optional[str] = None  # noqa: UP045
    staging: Optional[str] = None  # noqa: UP045
    start_date: Optional[date] = None  # noqa: UP045
    end_date: Optional[date] = None  # noqa: UP045
    lookback_days: int = 2
    min_file_age_seconds: int = 120
    batch_size: int = 5_000
    workers: int = 2
    max_line_bytes: int = 16 << 20
    timeout: float = 30.0
    retries: int = 5
    backoff: float = 1.0
    pii_mode: str = "keep"
    pii_target_ids: Optional[Any] = None  # noqa: UP045
    """A list, or text `9001,9002` (an environment variable), or `auto`; made a list by `coerce`."""
    strict: bool = False
    retry_quarantined: bool = False
    metadata_refresh_hours: float = 24.0
    completeness_days: int = 7
    retention_warn_days: int = 30
    archive: Optional[str] = None  # noqa: UP045
    """--archive DEST: keep every loaded file byte for byte in the vendor's layout (session_stream/archive.py)."""
    lock_wait_seconds: float = 60.0
    """How long to wait for a reader (a BI tool) to release the DuckDB file before stopping (duckdb_access.py)."""
    publish_formats: str = "hyper,parquet,csv"
    publish_schema: str = field(default_factory=default_publish_schema)
    json: bool = False
    """--json: the run summary as one JSON object on stdout, everything else on stderr (run_history.py)."""
    sftp_password: Optional[TSecretStrValue] = None  # noqa: UP045
    private_key_passphrase: Optional[TSecretStrValue] = None  # noqa: UP045
    pii_salt: Optional[TSecretStrValue] = None  # noqa: UP045

    __section__: ClassVar[str] = SECTION


@configspec
class Settings(LoaderConfiguration):
    """Resolved options for one command-line run: the configuration plus the one-shot actions of its flags."""

    demo: bool = False
    reload: bool = False
    refresh_metadata: bool = False
    metadata_only: bool = False
    check: bool = False
    """--check: compare the server's recent day folders with the ledger, load nothing (dlt_pipeline/completeness.py)."""
    publish: Optional[str] = None  # noqa: UP045

    def load_options(self) -> LoadOptions:
        """The source's options, as these settings give them."""
        return LoadOptions(**{f.name: getattr(self, f.name) for f in fields(LoadOptions)})

    def credentials(self) -> SftpCredentials:
        """The transport's credentials, from these settings (already resolved and checked)."""
        creds = SftpCredentials()
        for name, attr in CREDENTIAL_FIELDS.items():
            setattr(creds, name, getattr(self, attr))
        return creds


CONFIGURABLE = tuple(LoaderConfiguration.get_resolvable_fields())
SECRETS = ("sftp_password", "private_key_passphrase", "pii_salt")
HIDDEN = (*SECRETS, "private_key")
"""Values never quoted in a message (a private key may be given as its PEM text)."""
CLI_ONLY = ("demo", "reload", "refresh_metadata", "metadata_only", "check", "publish")
"""One-shot actions: only a command-line flag asks for them (not part of `LoaderConfiguration`)."""
NEEDS_NO_SOURCE = ("demo", "metadata_only", "publish")
CREDENTIAL_FIELDS = {"url": "source", "private_key": "private_key", "private_key_passphrase": "private_key_passphrase",
                     "password": "sftp_password", "known_hosts": "known_hosts", "trust_host_key": "trust_host_key",
                     "timeout": "timeout", "retries": "retries", "backoff": "backoff"}
"""`SftpCredentials` field -> setting. Earlier versions read them under `[sources.session_stream.credentials]`."""
SOURCE_ARGUMENTS = ("private_key", "known_hosts", "trust_host_key", "start_date", "end_date", "lookback_days",
                    "min_file_age_seconds", "retry_quarantined", "pii_mode", "pii_target_ids", "pii_salt", "workers",
                    "batch_size", "completeness_days", "retention_warn_days", "archive")
"""Arguments of `session_stream(...)`; earlier versions also read them under `[sources.session_stream]`."""
LEGACY_ROUTES: tuple[tuple[tuple[str, ...], str, str], ...] = (
    *((("sources", SECTION, "credentials"), old, new) for old, new in CREDENTIAL_FIELDS.items()),
    *((("sources", SECTION), name, name) for name in SOURCE_ARGUMENTS),
)
"""(old sections, old key, setting): routes of earlier versions, read as deprecated aliases."""


def _from_providers(given: dict[str, Any]) -> tuple[LoaderConfiguration, dict[str, str]]:
    """The configuration from dlt's providers (fields in `given` are not looked up), plus deprecated aliases.

    Returns it with the labels of the settings an alias set, so a message names the route the user used.
    """
    try:
        config = config_sources.resolve_spec(LoaderConfiguration(), explicit_value=dict(given))
    except ConfigValueCannotBeCoercedException as exc:
        raise ValueError(_wrong_kind(exc.field_name, exc.field_value,
                                     config_sources.label((SECTION,), exc.field_name, exc.field_name in SECRETS))
                         ) from None
    except ValueNotSecretException as exc:
        raise ValueError(f"{exc.key} is a secret and is not read from .dlt/config.toml: move it to "
                         ".dlt/secrets.toml or the environment") from None
    except Exception as exc:  # noqa: BLE001 - dlt raises many types for a malformed toml: one line, no value
        first = first_line(exc, 200)
        raise ValueError(f"cannot read [{SECTION}] from dlt's configuration (.dlt/config.toml, .dlt/secrets.toml "
                         f"or the environment): {first}") from None
    config.pii_target_ids = coerce("pii_target_ids", config.pii_target_ids, None)
    aliased: dict[str, str] = {}
    for sections, old, name in LEGACY_ROUTES:
        if name in given or name in aliased or config_sources.is_set((SECTION,), name, name in SECRETS):
            continue
        new = f"{config_sources.env_name((SECTION,), name)} (or {name} under [{SECTION}])"
        found = config_sources.legacy_value(sections, old, new, name in SECRETS)
        if found is not None:
            value, aliased[name] = found
            try:
                setattr(config, name, coerce(name, value, getattr(LoaderConfiguration(), name)))
            except (TypeError, ValueError, OverflowError):
                raise ValueError(_wrong_kind(name, value, aliased[name])) from None
    return config, aliased


def _wrong_kind(name: str, value: Any, shown_as: str) -> str:
    shown = "(hidden)" if name in HIDDEN else repr(value)
    return f"{shown_as} is {shown}; it must be {kind(name, getattr(Settings(), name, None))}"


def build(given: dict[str, Any], given_as: Callable[[str], str]) -> Settings:
    """Settings from `given` values (flags or source arguments; None = not given) over the configuration.

    Raises ValueError with a one-line message naming the setting the way the user set it (`given_as(name)`
    for given values: a flag or an argument) and what is allowed.
    """
    given = {k: v for k, v in given.items() if v is not None}
    coerced: dict[str, Any] = {}
    for name, value in given.items():
        try:
            coerced[name] = coerce(name, value, getattr(Settings(), name))
        except (TypeError, ValueError, OverflowError):
            raise ValueError(_wrong_kind(name, value, given_as(name))) from None
    config, aliased = _from_providers({k: v for k, v in coerced.items() if k in CONFIGURABLE})
    settings = Settings(**{name: getattr(config, name) for name in CONFIGURABLE})
    for name, value in coerced.items():
        setattr(settings, name, value)

    def label(name: str) -> str:
        if name in coerced:
            return given_as(name)
        return aliased.get(name) or config_sources.label((SECTION,), name, name in SECRETS)

    validate(settings, label)
    # absolute: dlt resolves a relative DuckDB path against the folder the pipeline was first run from
    settings.duckdb_path = str(Path(settings.duckdb_path).expanduser().resolve())
    return settings


def flag(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def resolve(cli: dict[str, Any]) -> Settings:
    """The command line's settings: flags (None or False = not given) over the configuration, then checked.

    Raises ValueError with a one-line message naming the option (as the user set it) and what is allowed;
    `command.execute` turns it into exit code 2.
    """
    given = {k: v for k, v in cli.items() if k in CONFIGURABLE + CLI_ONLY and v is not None and v is not False}
    return build(given, flag)


def require_source(settings: Settings) -> None:
    """A load or `--check` needs the account folder; the demo, `--metadata-only` and `--publish` do not."""
    if not settings.source and not any(getattr(settings, a) for a in NEEDS_NO_SOURCE):
        raise ValueError("no source given: pass --source sftp://USER@HOST[:PORT]/ACCOUNT/raw_data/session_stream (or "
                         f"a local folder), or set {config_sources.env_name((SECTION,), 'source')} or source under "
                         f"[{SECTION}] in .dlt/config.toml")


def for_source(credentials: SftpCredentials | str | None, arguments: dict[str, Any]) -> Settings:
    """The `session_stream` source's settings: its arguments (None = not given) over the same configuration.

    `credentials` is the account folder's URL or an `SftpCredentials` whose set fields count as arguments.
    """
    given = dict(arguments)
    if isinstance(credentials, str):
        given["source"] = credentials
    elif isinstance(credentials, SftpCredentials):
        defaults = SftpCredentials()
        for name, attr in CREDENTIAL_FIELDS.items():
            value = getattr(credentials, name)
            if value is not None and value != getattr(defaults, name) and given.get(attr) is None:
                given[attr] = value
    elif credentials is not None:
        raise ValueError(f"session_stream(credentials=...) is a {type(credentials).__name__}; it must be the "
                         "account folder's URL (sftp://USER@HOST/ACCOUNT/raw_data/session_stream) or SftpCredentials")
    settings = build(given, lambda name: "session_stream(credentials=...)" if name == "source"
                     else f"session_stream({name}=...)")
    if not settings.source:
        raise ValueError("session_stream() needs the account folder: pass its URL (sftp://USER@HOST/ACCOUNT/raw_data/"
                         f"session_stream) or a local folder as the first argument, or set "
                         f"{config_sources.env_name((SECTION,), 'source')} or source under [{SECTION}] in "
                         ".dlt/config.toml")
    return settings
