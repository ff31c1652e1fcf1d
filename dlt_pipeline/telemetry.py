"""dlt's anonymous telemetry: off for the command line unless the user turned it on.

dlt sends usage events (destination type, hashed pipeline names, no data) unless `runtime.dlthub_telemetry`
is false. The shipped `.dlt/config.toml` says false, but dlt reads `.dlt/` from the current folder only, so a
cron job started elsewhere would not see it. The command line therefore applies the project's default itself,
and only when none of dlt's providers (environment, `.dlt/*.toml` of the current or the global folder) has a
value: a user's explicit `dlthub_telemetry = true` still wins.

It must run before anything asks dlt for configuration: dlt resolves its runtime settings, and starts the
telemetry, the first time its configuration is touched. So the providers are asked directly, through the run
context dlt would plug, without activating it.
"""

from __future__ import annotations

import os
from typing import Any

TELEMETRY_ENV = "RUNTIME__DLTHUB_TELEMETRY"


def explicit_setting() -> Any:  # noqa: ANN401 - whatever the provider holds (bool or text)
    """The user's `runtime.dlthub_telemetry` from dlt's providers, or None when nobody set it."""
    from dlt.common.configuration import plugins

    context = plugins.manager().hook.plug_run_context(run_dir=None, runtime_kwargs=None)
    for provider in context.initial_providers():
        value, _ = provider.get_value("dlthub_telemetry", bool, None, "runtime")
        if value is not None:
            return value
    return None


def apply_project_default() -> None:
    """Turn dlt's telemetry off for this process unless some config provider sets it explicitly."""
    try:
        explicit = explicit_setting()
    except Exception:  # noqa: BLE001 - a broken .dlt/*.toml is reported, naming the file, when settings resolve
        explicit = None
    if explicit is None:
        os.environ[TELEMETRY_ENV] = "false"
