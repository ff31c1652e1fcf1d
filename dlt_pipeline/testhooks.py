"""Fault-injection points for the reliability tests (`tests/e2e/test_reliability.py`, `test_no_wedge.py`,
`test_dbt_after_crash.py`, `test_crash_points.py`) and the soak; inert by default.

Nothing here does anything unless one of these environment variables is set, which no user
configuration does:

- `SESSION_STREAM_TEST_CRASH_AT=POINT[#N]`: the N-th time (default 1) the run reaches POINT, the
  process sends itself SIGKILL, exactly like `kill -9` (no `finally`, no atexit, no flush).
- `SESSION_STREAM_TEST_PAUSE_AT=POINT[#N]` with `SESSION_STREAM_TEST_PAUSE_DIR=DIR`: at that point the
  run writes its pid to `DIR/paused` and waits (up to 120 s) until `DIR/resume` exists, so a test can
  restart the server, start a second run or `kill -9` the loader at a known place.

Points of a run, in order:

- `started` (command line only): the arguments are parsed; dlt and the loader are not imported yet.
- `sftp_connected`: the SFTP connection, opened in the background, is up; nothing requested yet.
- `before_plan`: nothing listed yet (an SFTP connection may still be opening).
- `after_download`: after each file's download, before it is parsed.
- `after_extract`: the load package is written, not normalized.
- `after_normalize`: the package is ready, nothing loaded.
- `during_load` (crash only): a watcher kills the process as soon as a load job of the package has
  completed in the destination, while others are still pending.

Points inside dlt's load step (`LOAD_POINTS`; armed by :func:`arm_load_points` before every
`pipeline.load()`, also the one that finishes a killed run's package), each also as `POINT:TABLE` for
the jobs of one table (e.g. `job_committed:session_stream_files`, whose second job is the merge). `#N`
counts in one process, per name: `job_committed#3` is the third job of any table, `job_committed:sessions`
the first of `sessions`. Jobs run on dlt's worker threads, so which table is the N-th varies:

- `schema_stored`: the tables are created or migrated and the schema version row is in the warehouse;
  dlt has not yet recorded that in the package.
- `job_committed`: a job's rows are committed in the warehouse; dlt has not yet recorded it (the job is
  still `started`: a resumed load would run it again).
- `job_recorded`: dlt has recorded the job's outcome (a pending transition), the job file not moved yet.
- `loads_row_committed`: every job is done and the load's `_dlt_loads` row (its commit in the warehouse)
  is written; the package is not yet archived to `loaded/`.
- `package_archived`: the package is in `loaded/`; its job files are not yet deleted
  (`LOAD__DELETE_COMPLETED_JOBS`).
- `after_load`: `pipeline.load()` returned; earlier rows of re-loaded files not yet removed.
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


LOAD_POINTS = ("schema_stored", "job_committed", "job_recorded", "loads_row_committed", "package_archived")
"""The points inside dlt's load step (see the module docstring)."""

_load_step_wrapped = False


def arm_load_points(pipeline: Any) -> None:
    """Before `pipeline.load()`: arm `during_load`, and the points inside dlt's load step if a test names one.

    dlt has no callbacks at these moments, so when (and only when) a test variable names one of
    `LOAD_POINTS`, the few dlt methods that run right after them are wrapped to call `checkpoint` first.
    """
    global _load_step_wrapped
    if os.environ.get(CRASH_ENV) == "during_load":
        _kill_when_a_job_completed(pipeline)
    named = {os.environ.get(env, "").partition("#")[0].partition(":")[0] for env in (CRASH_ENV, PAUSE_ENV)}
    if _load_step_wrapped or not named & set(LOAD_POINTS):
        return
    _load_step_wrapped = True
    _wrap_load_step()


def _wrap_load_step() -> None:
    """Wrap the dlt methods that follow each load point; each wrapper calls `checkpoint` at the point."""
    from dlt.common.destination.client import RunnableLoadJob
    from dlt.common.storages.load_package import PackageStorage, ParsedLoadJobFileName
    from dlt.common.storages.load_storage import LoadStorage

    def job_points(point: str, table: str) -> list[str]:
        return [point, f"{point}:{table}"]

    _wrap(LoadStorage, "commit_schema_update", lambda *_: ["schema_stored"])
    _wrap(RunnableLoadJob, "_release", lambda job, state, *_: (
        job_points("job_committed", job.job_file_info().table_name) if state == "completed" else []))
    _wrap(PackageStorage, "save_pending_transition", after=True, points=lambda _s, _id, name, *_: (
        job_points("job_recorded", ParsedLoadJobFileName.parse(name).table_name)))
    _wrap(LoadStorage, "complete_load_package", lambda _s, _id, aborted=False, *_: (
        [] if aborted else ["loads_row_committed"]))
    _wrap(LoadStorage, "maybe_remove_completed_jobs", lambda *_: ["package_archived"])


def _wrap(cls: Any, name: str, points: Any, after: bool = False) -> None:
    """Replace `cls.name` by a wrapper that passes the points `points(self, *args)` before (or after) it."""
    original = getattr(cls, name)

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not after:
            for point in points(self, *args, **kwargs):
                checkpoint(point)
        result = original(self, *args, **kwargs)
        if after:
            for point in points(self, *args, **kwargs):
                checkpoint(point)
        return result

    setattr(cls, name, wrapper)


def _kill_when_a_job_completed(pipeline: Any) -> None:
    """`during_load`: kill -9 as soon as one more job of the package has moved to completed_jobs (jobs a
    killed run completed before do not count, so the run that finishes its package is killed mid-load too)."""
    normalized = Path(pipeline.working_dir) / "load" / "normalized"
    done_before = set(normalized.glob("*/completed_jobs/*"))

    def watch() -> None:
        while True:
            if set(normalized.glob("*/completed_jobs/*")) - done_before:
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(0.002)

    threading.Thread(target=watch, name="crash-during-load", daemon=True).start()
