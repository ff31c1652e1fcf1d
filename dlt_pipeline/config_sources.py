"""Where a setting's value comes from: dlt's config providers, read at one exact section, never guessed.

Both the command line and the dlt sources resolve their `@configspec` classes here, with dlt's own
`resolve_configuration`, so `SESSION_STREAM__PII_MODE=hash` means the same to `run.py` and to
`session_stream(...)` in a user's own pipeline. Two things are pinned down that dlt would otherwise vary:

- the section: a spec is resolved at `session_stream` (or `session_stream.metadata_api`) whatever section
  a dlt source or pipeline has injected around the call, so a source never looks under
  `sources.session_stream.session_stream.*` and a bare `TIMEOUT` or `SOURCE` variable is never read;
- the names in messages: `label` says how the user set a value (`SESSION_STREAM__WORKERS`, or
  `workers under [session_stream] in .dlt/config.toml`), so an error names a route that works.

The routes of earlier versions (`sources.session_stream.*`, `[sources.session_stream.credentials]`) are
read as aliases with a one-line deprecation warning (`legacy_value`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.container import Container
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.configuration.specs.config_section_context import ConfigSectionContext
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

log = logging.getLogger("session_stream")
T = TypeVar("T", bound=BaseConfiguration)


def env_name(sections: tuple[str, ...], key: str) -> str:
    """dlt's environment variable for a key: sections and key upper-cased, joined by `__`."""
    return "__".join((*sections, key)).upper()


def toml_name(sections: tuple[str, ...], key: str, secret: bool) -> str:
    """Where the key goes in a toml file, for messages."""
    where = ".dlt/secrets.toml" if secret else ".dlt/config.toml or .dlt/secrets.toml"
    return f"{key} under [{'.'.join(sections)}] in {where}"


@contextmanager
def _no_injected_sections() -> Iterator[None]:
    """Resolve outside any section a dlt source or pipeline injected (`sources.<name>...`)."""
    with Container().injectable_context(ConfigSectionContext(sections=())):
        yield


def resolve_spec(spec: T, sections: tuple[str, ...] = (), explicit_value: dict[str, Any] | None = None) -> T:
    """Resolve `spec` (whose `__section__` is its own section) below `sections`, with dlt's machinery.

    Fields in `explicit_value` (flags, source arguments) are taken as they are and not looked up. Raises
    `ConfigValueCannotBeCoercedException` for a value of the wrong kind and `ValueNotSecretException` for a
    secret in config.toml; the callers turn them into one line naming the setting.
    """
    with _no_injected_sections():
        return resolve_configuration(spec, sections=sections, explicit_value=explicit_value or {})


def provider_value(sections: tuple[str, ...], key: str, secret: bool = False) -> tuple[Any, str] | None:
    """The raw value at exactly `sections.key` and how the user set it (env name or toml key), or None."""
    providers = Container()[PluggableRunContext].providers.providers
    for provider in providers:
        if provider.is_empty or (secret and not provider.supports_secrets):
            continue
        value, _ = provider.get_value(key, Any, None, *sections)  # type: ignore[arg-type]
        if value is not None:
            return value, label(sections, key, secret)
    return None


def is_set(sections: tuple[str, ...], key: str, secret: bool = False) -> bool:
    return provider_value(sections, key, secret) is not None


def label(sections: tuple[str, ...], key: str, secret: bool = False) -> str:
    """How the user set `sections.key`: its environment variable when that is set, else its toml key."""
    env = env_name(sections, key)
    return env if env in os.environ else toml_name(sections, key, secret)


def legacy_value(old: tuple[str, ...], old_key: str, new: str, secret: bool = False) -> tuple[Any, str] | None:
    """A value set under an earlier version's name, with a one-line deprecation warning naming the new one."""
    found = provider_value(old, old_key, secret)
    if found is not None:
        log.warning("%s is deprecated and will stop working: use %s instead (docs/configuration.md)", found[1], new)
    return found
