"""Fault-injection points for the reliability tests (`tests/e2e/test_reliability.py`, `test_no_wedge.py`,
`test_dbt_after_crash.py`); inert by default.

Nothing here does anything unless one of these environment variables is set, which no user
configuration does:

- `SESSION_STREAM_TEST_CRASH_AT=POINT[#N]`: the N-th time (default 1) the run reaches POINT, the
  process sends itself SIGKILL, exactly like `kill -9` (no `finally`, no atexit, no flush).
- `SESSION_STREAM_TEST_PAUSE_AT=POINT[#N]` with `SESSION_STREAM_TEST_PAUSE_DIR=DIR`: at that point the
  run writes its pid to `DIR/paused` and waits (up to 120 s) until `DIR/resume` exists, so a test can
  restart the server, start a second run or `kill -9` the loader at a known place.

Points: `sftp_connected` (the SFTP connection, opened in the background, is up; nothing requested yet),
`before_plan` (nothing listed yet; an SFTP connection may still be opening), `after_download` (after each
file's download, before it is parsed), `after_extract` (the load package is written, not normalized),
`after_normalize` (package ready, nothing loaded), `after_load` (loaded, earlier rows of re-loaded files not yet
removed) and `during_load` (crash only: a watcher kills the process as soon as
the first load job of the package has completed in the destination, while others are still pending).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

CRASH_ENV = "SESSION_STREAM_TEST_CRASH_AT"
PAUSE_ENV = "SESSION_STREAM_TEST_PAUSE_AT"
PAUSE_DIR_ENV = "SESSION_STREAM_TEST_PAUSE_DIR"

_counts: dict[str, int] = {}


def _matches(env: str, point: str) -> bool:
    spec = os.environ.get(env)
    if not spec:
        return False
    name, _, nth = spec.partition("#")
    return name == point and _counts[point] == int(nth or 1)


def checkpoint(point: str) -> None:
    """Called by the loader at each named point; a no-op unless a test variable names this point."""
    if not (os.environ.get(CRASH_ENV) or os.environ.get(PAUSE_ENV)):
        return
    _counts[point] = _counts.get(point, 0) + 1
    if _matches(CRASH_ENV, point):
        os.kill(os.getpid(), signal.SIGKILL)
    if _matches(PAUSE_ENV, point):
        folder = Path(os.environ[PAUSE_DIR_ENV])
        (folder / "paused").write_text(str(os.getpid()))
        deadline = time.monotonic() + 120
        while not (folder / "resume").exists() and time.monotonic() < deadline:
            time.sleep(0.02)


def arm_during_load(pipeline: Any) -> None:
    """Before `pipeline.load()`: with CRASH_AT=during_load, kill -9 once one job of the package completed."""
    if os.environ.get(CRASH_ENV) != "during_load":
        return
    normalized = Path(pipeline.working_dir) / "load" / "normalized"

    def watch() -> None:
        while True:
            if any(normalized.glob("*/completed_jobs/*")):
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(0.002)

    threading.Thread(target=watch, name="crash-during-load", daemon=True).start()
