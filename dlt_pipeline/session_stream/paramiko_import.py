"""paramiko, imported without `invoke`, which it loads only for a feature this loader never uses.

paramiko imports `invoke` (a task runner, ~30-60 ms, a fifth of paramiko's import) at start-up in case an
OpenSSH config file uses `Match exec`, and treats it as optional: `invoke = None` when the import fails. The
loader never reads OpenSSH config files (the connection comes from --source, the key and known_hosts), so
every SFTP run, including one with nothing to load, paid for a module it cannot use. `invoke` is hidden only
while paramiko imports; anything else that imports it later gets the real module.
"""

from __future__ import annotations

import sys


def _import_paramiko():  # noqa: ANN202 - returns the paramiko module
    if "paramiko" in sys.modules or "invoke" in sys.modules:
        import paramiko

        return paramiko
    sys.modules["invoke"] = None  # type: ignore[assignment] - the documented way to make an import fail
    try:
        import paramiko
    finally:
        if sys.modules.get("invoke", ...) is None:
            del sys.modules["invoke"]
    return paramiko


paramiko = _import_paramiko()
