"""One scheduled run around the `session_stream` source: lock, crash repair, load, and warehouse refusals.

This is what `run.py` adds to the source for a loader that runs unattended every 15 minutes: a lock so
two runs never overlap, the repair of what a killed run left, one load package per run, the removal of
superseded rows after a reload, and the isolation of a file the warehouse refuses.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import dlt

from dlt_pipeline import startup_gc
from dlt_pipeline.duckdb_access import release_held, released_for
from dlt_pipeline.lock import RunLock
from dlt_pipeline.recovery import finish_pending, pending_load_id
from dlt_pipeline.refusal import discard_package, refusal_reason
from dlt_pipeline.session_stream.ledger import shared_client
from dlt_pipeline.session_stream.plan import Plan, plan_files
from dlt_pipeline.session_stream.run_stats import RunStats, StrictModeFailure
from dlt_pipeline.session_stream.supersede import remove_superseded_rows
from dlt_pipeline.session_stream.transport import Transport
from dlt_pipeline.settings import Settings
from dlt_pipeline.testhooks import arm_load_points, checkpoint

log = logging.getLogger("session_stream")

def apply_run_defaults() -> None:
    """dlt settings a scheduled run wants unless the user set them (environment or .dlt/config.toml wins).

    Applied when a pipeline is made, never at import, so importing the source changes nothing for a
    user's own pipeline.
    """
    # dlt otherwise keeps a parquet copy of every loaded package under the pipelines dir forever: unbounded
    # disk use for a loader that runs every 15 minutes, and a second copy of the data outside the warehouse.
    os.environ.setdefault("LOAD__DELETE_COMPLETED_JOBS", "true")
    # DuckDB's default memory_limit is 80% of RAM: inserting a 1M-session run's parquet files peaked at 2.2 GB
    # RSS. 512 MB caps the load step near 800 MB (bench/benchmark.py --rss-only); DuckDB spills if it must.
    os.environ.setdefault("DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG", '{"memory_limit": "512MB"}')


def make_pipeline(settings: Settings) -> dlt.Pipeline:
    """The dlt pipeline for the chosen destination; credentials for postgres/redshift come from dlt config."""
    apply_run_defaults()
    if settings.destination == "duckdb":
        Path(settings.duckdb_path).parent.mkdir(parents=True, exist_ok=True)
        destination: Any = dlt.destinations.duckdb(credentials=settings.duckdb_path)
    else:
        destination = settings.destination
    kwargs: dict[str, Any] = {}
    if settings.pipelines_dir:
        kwargs["pipelines_dir"] = settings.pipelines_dir
    elif settings.destination == "duckdb":
        # keep dlt's working state beside its database: two DuckDB files on one machine never share it
        kwargs["pipelines_dir"] = str(Path(settings.duckdb_path).parent / ".dlt_pipelines")
    if settings.staging:
        kwargs["staging"] = settings.staging
    return dlt.pipeline(pipeline_name=settings.pipeline_name, destination=destination,
                        dataset_name=settings.dataset_name, **kwargs)


def loader_file_format(settings: Settings) -> str | None:
    """Parquet wherever the destination can take it directly; otherwise let dlt pick (INSERT statements).

    Redshift loads parquet only through a staging bucket (`staging = "filesystem"` plus dlt's
    `[destination.filesystem] bucket_url`); without one dlt converts our Arrow tables to INSERTs.
    """
    if settings.destination in ("duckdb", "postgres") or settings.staging:
        return "parquet"
    return None


def run_load(settings: Settings, transport: Transport, progress_factory: Any = None,
             stats: RunStats | None = None) -> RunStats:
    """Load every new file once; return the run's statistics (raises on fatal configuration errors).

    `stats` (filled as the run goes) lets the caller record a run that raised (run_history.py).
    """
    started = time.perf_counter()
    stats = stats if stats is not None else RunStats()
    stats.source = transport.description
    pipeline = make_pipeline(settings)
    with RunLock(pipeline, settings):
        finish_pending(pipeline)
        # one connection for the cleanup and every ledger query of the plan; DuckDB opens it from the lock probe's
        with shared_client(pipeline, retry_if=released_for):
            release_held()  # the probe's connection (command.load_once) is not needed once this one is open
            remove_superseded_rows(pipeline)  # a re-load whose cleanup a crash (or the package above) left to do
            for stale in Path(pipeline.working_dir).glob("spool-*"):
                shutil.rmtree(stale, ignore_errors=True)  # downloads left by a killed run
            checkpoint("before_plan")
            listing = time.perf_counter()
            plan = plan_files(transport, pipeline, settings.load_options(), stats)
            stats.list_seconds += time.perf_counter() - listing
        if plan.files:
            startup_gc.resume()  # the command line paused the collector for its start-up (startup_gc.py)
            _load_plan(pipeline, plan, transport, settings, stats, progress_factory)
    stats.seconds = time.perf_counter() - started
    return stats


def _load_plan(pipeline: dlt.Pipeline, plan: Plan, transport: Transport, settings: Settings, stats: RunStats,
               progress_factory: Any) -> None:
    """Extract, normalize and load the plan as one package; if the warehouse refuses rows, isolate the file.

    A refused package is taken out again and its files are loaded in halves, recursively, so every file
    the warehouse accepts loads and each file it refuses is quarantined with the database's message.
    """
    before = copy.deepcopy(stats)
    _extract_and_normalize(pipeline, plan, transport, settings, stats, progress_factory)
    # a failure from here on leaves the package pending; the next run finishes it first
    arm_load_points(pipeline)
    try:
        info = pipeline.load()
    except Exception as exc:
        reason = refusal_reason(exc)
        if reason is None or all(cand.problem for cand in plan.files):
            raise  # not a refusal of data, or even the quarantine rows alone were refused
        discard_package(pipeline, getattr(exc, "load_id", None) or pending_load_id(pipeline))
        if settings.strict:
            raise StrictModeFailure(f"the warehouse refused rows: {reason}") from None
        vars(stats).update(vars(before))
        _isolate(pipeline, plan, reason, transport, settings, stats, progress_factory)
        return
    if info.started_at and info.finished_at:  # dlt's own figure for the load step
        stats.load_seconds += (info.finished_at - info.started_at).total_seconds()
    checkpoint("after_load")
    remove_superseded_rows(pipeline)


def _isolate(pipeline: dlt.Pipeline, plan: Plan, reason: str, transport: Transport, settings: Settings,
             stats: RunStats, progress_factory: Any) -> None:
    """Load the halves of a refused plan; a single refused file is quarantined with the warehouse's reason."""
    if len(plan.files) == 1:
        problem = (f"the warehouse refused its rows ({reason}); the other files loaded. Fix the cause in the "
                   "warehouse, then run with --retry-quarantined")
        plan = Plan([replace(plan.files[0], problem=problem)], plan.known)
        log.warning("%s: %s", plan.files[0].path, problem)
    else:
        log.warning("the warehouse refused rows (%s); loading the %d files in smaller groups to find the file",
                    reason, len(plan.files))
    middle = (len(plan.files) + 1) // 2
    for part in (plan.files[:middle], plan.files[middle:]):
        if part:
            _load_plan(pipeline, Plan(part, plan.known & {c.path for c in part}), transport, settings, stats,
                       progress_factory)


def _extract_and_normalize(pipeline: dlt.Pipeline, plan: Plan, transport: Transport, settings: Settings,
                           stats: RunStats, progress_factory: Any) -> None:
    """Write the run's one load package: every planned file's rows, rejects and ledger row."""
    from dlt_pipeline.session_stream.source import session_stream_resource  # Arrow, parser: only with files to load

    progress = progress_factory(plan.files) if progress_factory else None
    resource = session_stream_resource(lambda: transport, settings.load_options(), stats, plan,
                                       progress.advance if progress else None, loader_file_format(settings),
                                       close=False)
    try:
        pipeline.extract(resource)
        checkpoint("after_extract")
        pipeline.normalize()
        checkpoint("after_normalize")
    except BaseException:
        # nothing reached the warehouse yet: never leave a half-made package for the next run
        pipeline.abort_packages()
        raise
    finally:
        if progress:
            progress.close()
