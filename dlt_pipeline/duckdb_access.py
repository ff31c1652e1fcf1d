"""Wait, within a bound, for the DuckDB file to be free before a load, a dbt build or a publish.

DuckDB lets one process write a database file, or any number of processes read it, never both. A BI tool
with a live connection to the file (a Tableau data source over JDBC, a notebook, the DuckDB CLI) holds such a
read lock for as long as it stays connected, and a loader started meanwhile used to fail deep inside dlt with
"Could not set lock on file … Conflicting lock is held in <program> (PID n)". Here the run first tries to open
the file the way it will use it, retries for `lock_wait_seconds`, and then stops with one line naming the
holder and what to do, before anything was read from the source or written: nothing is lost, the next run
loads the same files.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

POLL_SECONDS = 0.5
_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")
_LOCK_WORDS = ("Could not set lock on file", "Conflicting lock is held")


class DuckDBLocked(Exception):
    """Another process holds the DuckDB file in a way that excludes this run; the message says who and what to do."""


def is_lock_error(exc: BaseException) -> bool:
    """True when `exc` is DuckDB refusing to open the file because another process holds it."""
    return any(word in str(exc) for word in _LOCK_WORDS)


def holder(message: str) -> str:
    """`<program> (PID n)` from DuckDB's lock error, or a generic phrase when DuckDB does not say."""
    found = _HOLDER.search(message)
    if not found:
        return "another process"
    return f"{found['program']} (PID {found['pid']})"


def locked_message(path: str | Path, error: str, waited: float, purpose: str,
                   outcome: str = "nothing was loaded or changed") -> str:
    """The one line the user sees: which file, who holds it, for how long we waited, what to do."""
    return (f"DuckDB file {path} is held by {holder(error)}; waited {waited:.0f} s, then stopped before {purpose} "
            f"({outcome}). Close that connection (a BI tool, notebook or DuckDB CLI connected "
            "to the file) and run again; for BI tools use the extracts of `run.py --publish DIR` or a PostgreSQL "
            "warehouse (README, 'Connect your BI tool').")


_HELD: list[duckdb.DuckDBPyConnection] = []
"""The probe's connection `wait_for_file(..., hold=True)` left open, until `release_held()`; at most one."""
_OTHER_CONFIG = "different configuration than existing connections"


def try_open(path: str | Path, read_only: bool, hold: bool = False) -> str | None:
    """Open the file once and close it again (keep it open with `hold`); None when that worked, else DuckDB's
    lock error text.

    Errors that are not about a lock (a corrupt file, a missing folder) are raised: waiting would not help.
    """
    try:
        conn = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        if is_lock_error(exc):
            return str(exc)
        raise
    if hold:
        release_held()
        _HELD.append(conn)
    else:
        conn.close()
    return None


def wait_for_file(path: str | Path, wait_seconds: float, purpose: str, read_only: bool = False,
                  notify: Callable[[str], None] | None = None, hold: bool = False) -> None:
    """Return once the file can be opened (read-write unless `read_only`), or raise DuckDBLocked after the wait.

    A file that does not exist yet is free (the load creates it). `notify` is told once when waiting starts,
    so an interactive user knows why the run pauses. With `hold` the probe's connection stays open until
    `release_held()`: DuckDB serves the run's next connection to the file (dlt's, opened the same way) from
    that open database instead of reading the file again, and closing it then costs nothing (an open and a
    close, 0.05-0.1 s of a run with nothing new).
    """
    if not read_only and not Path(path).exists():
        return
    if read_only and not Path(path).exists():
        raise FileNotFoundError(f"DuckDB file {path} does not exist: load (and build the dbt project) first")
    start = time.monotonic()
    error = try_open(path, read_only, hold)
    if error is None:
        return
    if notify is not None and wait_seconds > 0:
        notify(f"DuckDB file {path} is held by {holder(error)}; waiting up to {wait_seconds:g} s for it to be "
               "released (--lock-wait-seconds)")
    while time.monotonic() - start < wait_seconds:
        time.sleep(min(POLL_SECONDS, max(0.0, wait_seconds - (time.monotonic() - start))))
        error = try_open(path, read_only, hold)
        if error is None:
            return
    raise DuckDBLocked(locked_message(path, error, time.monotonic() - start, purpose))


def release_held() -> None:
    """Close the probe's connection `wait_for_file(..., hold=True)` kept, if any (safe to call any number of times).

    Once another connection to the file is open this only drops our reference; otherwise it closes the file.
    """
    while _HELD:
        _HELD.pop().close()


def released_for(exc: BaseException) -> bool:
    """When DuckDB refused a connection because the held probe opened the file with other settings, release the
    probe's connection and return True: connecting again then works as if it had never been held.

    dlt connects with the settings of its configuration, which may differ from the probe's (a
    `custom_user_agent`, read-only credentials); DuckDB serves one open file with one set of settings.
    """
    if not (_HELD and _OTHER_CONFIG in str(exc)):
        return False
    release_held()
    return True
