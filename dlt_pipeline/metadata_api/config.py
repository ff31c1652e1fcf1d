"""Where the Metadata API is and who we are to it: a dlt `@configspec`, read from `session_stream.metadata_api`.

Environment variables (dlt's spelling): `SESSION_STREAM__METADATA_API__BASE_URL` (default
`https://api.monetate.net`), `..._RETAILER`, `..._API_USERNAME`, `..._PRIVATE_KEY` (PEM text, a secret) or
`..._PRIVATE_KEY_PATH`; or the same keys under `[session_stream.metadata_api]` in `.dlt/config.toml` /
`.dlt/secrets.toml` (docs/configuration.md). The command line and the `monetate_metadata` source resolve
it the same way, with dlt's `resolve_configuration` (`config_sources.py`).

The spec's own section is `metadata_api` below `session_stream`, so dlt never falls back to
`SESSION_STREAM__PRIVATE_KEY` (the *SFTP* key of the session loader) or a bare `PRIVATE_KEY`, which would
sign API tokens with the wrong key or pick up an unrelated variable.
"""

from __future__ import annotations

import ipaddress
from dataclasses import fields
from pathlib import Path
from typing import Any, ClassVar, Optional  # noqa: UP035 - dlt reads these hints at runtime
from urllib.parse import urlsplit

from dlt.common.configuration import configspec
from dlt.common.configuration.exceptions import ConfigValueCannotBeCoercedException, ValueNotSecretException
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.typing import TSecretStrValue

from dlt_pipeline import config_sources

SECTION = "session_stream.metadata_api"
SECTIONS = ("session_stream", "metadata_api")
ENV_PREFIX = "SESSION_STREAM__METADATA_API__"
DEFAULT_BASE_URL = "https://api.monetate.net"
SECRET_FIELDS = ("private_key",)
IDENTITY_FIELDS = ("retailer", "api_username")


class MetadataConfigError(ValueError):
    """The API's configuration is incomplete or unsafe; the message names the setting (never a secret's value)."""


@configspec
class MetadataApiConfig(BaseConfiguration):
    """The API host, the retailer's shortname, the API user and its RSA private key, and HTTP behaviour.

    `private_key` is the PEM text (secret); `private_key_path` a file holding it. `token_ttl` is what the
    client asks the refresh endpoint for (the API allows 10 min to 12 h). `retries`/`backoff`/`timeout` feed
    dlt's retrying HTTP client (429 and 5xx are retried with exponential backoff).
    """

    __section__: ClassVar[str] = "metadata_api"

    base_url: str = DEFAULT_BASE_URL
    retailer: Optional[str] = None  # noqa: UP045
    api_username: Optional[str] = None  # noqa: UP045
    private_key: Optional[TSecretStrValue] = None  # noqa: UP045
    private_key_path: Optional[str] = None  # noqa: UP045
    token_ttl: int = 3600
    page_size: int = 1000
    timeout: float = 30.0
    retries: int = 5
    backoff: float = 1.0

    def __repr__(self) -> str:  # never print the key, whatever prints the config
        shown = {f.name: ("(hidden)" if f.name in SECRET_FIELDS and getattr(self, f.name) else getattr(self, f.name))
                 for f in fields(self) if not f.name.startswith("_")}
        return f"MetadataApiConfig({shown})"

    __str__ = __repr__

    @property
    def configured(self) -> bool:
        """True when any identity or key is set: the user means to use the API (then all of them must be)."""
        return any(getattr(self, n) for n in (*IDENTITY_FIELDS, "private_key", "private_key_path"))

    def check(self) -> None:
        """Refuse an incomplete or unsafe configuration with one line naming the setting to fix."""
        missing = [n for n in IDENTITY_FIELDS if not getattr(self, n)]
        if not (self.private_key or self.private_key_path):
            missing.append("private_key (or private_key_path)")
        if missing:
            names = ", ".join(f"{ENV_PREFIX}{m.split(' ')[0].upper()}" for m in missing)
            raise MetadataConfigError(f"the Metadata API is partly configured: also set {names} (or the same keys "
                                      f"under [{SECTION}] in .dlt/config.toml / .dlt/secrets.toml)")
        check_base_url(self.base_url)
        if not 600 <= self.token_ttl <= 43200:
            raise MetadataConfigError(f"{ENV_PREFIX}TOKEN_TTL is {self.token_ttl}; the API allows 600 to 43200 s")
        if not 1 <= self.page_size <= 1000:
            raise MetadataConfigError(f"{ENV_PREFIX}PAGE_SIZE is {self.page_size}; it must be 1 to 1000")

    def private_key_pem(self) -> bytes:
        """The private key's PEM bytes, from the secret or the file (MetadataConfigError, never the text)."""
        if self.private_key:
            return str(self.private_key).strip().encode() + b"\n"
        path = Path(str(self.private_key_path)).expanduser()
        try:
            return path.read_bytes()
        except OSError as exc:
            raise MetadataConfigError(f"{ENV_PREFIX}PRIVATE_KEY_PATH: cannot read {path}: {exc.strerror}") from None


def check_base_url(url: str) -> None:
    """https only, except on loopback (the local stand-in server): the JWT and tokens must not cross in clear."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MetadataConfigError(f"{ENV_PREFIX}BASE_URL is {url!r}; it must be an https:// URL such as "
                                  f"{DEFAULT_BASE_URL}")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise MetadataConfigError(f"{ENV_PREFIX}BASE_URL is {url!r}: plain http would send the signed JWT and the "
                                  "API token unencrypted; use https:// (http is allowed only for localhost)")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_config(defaults: dict[str, Any] | None = None, **overrides: Any) -> MetadataApiConfig:  # noqa: ANN401
    """The configuration from dlt's providers at `session_stream.metadata_api.*`; `overrides` (not None) win.

    `defaults` replace the built-in defaults of fields no provider sets (the command line passes its general
    `retries`, `backoff` and `timeout`, so one setting governs both sources).
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        config = config_sources.resolve_spec(MetadataApiConfig(), SECTIONS[:1], explicit_value=given)
    except ConfigValueCannotBeCoercedException as exc:
        shown = "(hidden)" if exc.field_name in SECRET_FIELDS else repr(exc.field_value)
        raise MetadataConfigError(f"{config_sources.label(SECTIONS, exc.field_name)} is {shown}; it must be "
                                  "a number") from None
    except ValueNotSecretException as exc:
        raise MetadataConfigError(f"{exc.key} is a secret and is not read from .dlt/config.toml: move it to "
                                  ".dlt/secrets.toml or the environment") from None
    except Exception as exc:  # noqa: BLE001 - a malformed toml: say which section, never a value
        raise MetadataConfigError(f"cannot read [{SECTION}] from dlt's configuration: {type(exc).__name__}") from None
    for name, value in (defaults or {}).items():
        if value is not None and name not in given and not config_sources.is_set(SECTIONS, name):
            setattr(config, name, value)
    return config
