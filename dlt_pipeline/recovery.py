"""Crash repair: the only code that looks inside dlt's load-package folders.

A run killed after extract, after normalize or in the middle of the load leaves a pending package in
dlt's working folder. The next run finishes it first, exactly once, before it plans anything new.
"""

from __future__ import annotations

import logging
from pathlib import Path

import dlt

from dlt_pipeline import startup_gc
from dlt_pipeline.duckdb_access import release_held
from dlt_pipeline.refusal import discard_package, refusal_reason

log = logging.getLogger("session_stream")


def finish_pending(pipeline: dlt.Pipeline) -> bool:
    """Complete a package a crashed run extracted but did not load, before deciding what is new.

    If the warehouse refuses its rows, the package is taken out again: its files have no completed ledger
    row, so this run plans them afresh and isolates the file the warehouse refuses.
    """
    if not pipeline.has_pending_data:
        return False
    log.warning("finishing the load a previous run left pending before looking for new files")
    startup_gc.resume()  # a whole package to load: the command line's start-up pause ends here
    release_held()  # dlt's load opens the DuckDB file with its own settings (duckdb_access.py)
    pipeline.normalize()
    replay_interrupted_jobs(pipeline)
    try:
        pipeline.load()
    except Exception as exc:
        if refusal_reason(exc) is None:
            raise
        discard_package(pipeline, getattr(exc, "load_id", None) or pending_load_id(pipeline))
    return True


def replay_interrupted_jobs(pipeline: dlt.Pipeline) -> None:
    """Make resuming a package killed mid-load exactly-once for append tables.

    dlt re-runs a job that was in flight when the process died, but the job's transaction may already
    have committed (the crash fell between the commit and dlt marking the job done): its rows would be
    loaded twice. So for every append table of a pending package whose jobs did not all complete, the
    package's rows are deleted and all of that table's jobs run again. Merge tables (the ledger) are
    idempotent already; tables of jobs that never started are untouched.
    """
    from dlt.common.schema.utils import get_write_disposition

    normalized = Path(pipeline.working_dir) / "load" / "normalized"
    packages = sorted(p for p in normalized.glob("*") if p.is_dir()) if normalized.is_dir() else []
    if not packages:
        return
    schema = pipeline.default_schema
    with pipeline.sql_client() as client:
        for package in packages:
            load_id = package.name
            jobs: dict[str, list[Path]] = {}
            for folder in ("new_jobs", "started_jobs", "completed_jobs"):
                for job in (package / folder).glob("*"):
                    if job.is_file() and not job.name.startswith("."):
                        jobs.setdefault(job.name.split(".", 1)[0], []).append(job)
            for table, files in jobs.items():
                states = {f.parent.name for f in files}
                if states == {"completed_jobs"} or states == {"new_jobs"} or table.startswith("_dlt"):
                    continue
                if table not in schema.tables or get_write_disposition(schema.tables, table) != "append":
                    continue
                if not load_id.replace(".", "").isdigit():
                    continue
                name = client.make_qualified_table_name(table)
                try:
                    client.execute_sql(f"delete from {name} where _dlt_load_id = '{load_id}'")
                except Exception:  # noqa: BLE001 - the table was never created: nothing to undo
                    pass
                log.warning("replaying %s of interrupted load %s from scratch", table, load_id)
                for job in files:
                    if job.parent.name != "new_jobs":
                        job.rename(package / "new_jobs" / job.name)


def pending_load_id(pipeline: dlt.Pipeline) -> str:
    return pipeline.list_normalized_load_packages()[0]
