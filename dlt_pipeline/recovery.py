"""Crash repair: the only code that looks inside dlt's load-package folders.

A run killed after extract, after normalize or in the middle of the load leaves a pending package in
dlt's working folder. The next run finishes it first, exactly once, before it plans anything new.

"Exactly once" needs care at every point where the warehouse has committed something dlt has not yet
recorded in its folder (the points are named in testhooks.py; tests/e2e/test_crash_points.py kills at each):

- a job's rows committed, the job still marked started: dlt would run it again. Its table's rows of the
  package are deleted and the table's jobs replayed (`replay_interrupted_jobs`).
- the load's `_dlt_loads` row committed (the load is complete in the warehouse), the package not yet
  archived: dlt would finish it again and write a second `_dlt_loads` row, which fails dbt's unique test.
  The package is archived as dlt would have, and not loaded again (`archive_committed_packages`).
- the package archived, its job files (copies of the data) not yet deleted: they are deleted
  (`remove_kept_job_files`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import dlt

from dlt_pipeline import startup_gc
from dlt_pipeline.duckdb_access import release_held
from dlt_pipeline.refusal import discard_package, refusal_reason
from dlt_pipeline.session_stream.ledger import dataset_client, table_exists
from dlt_pipeline.testhooks import arm_load_points

log = logging.getLogger("session_stream")


def finish_pending(pipeline: dlt.Pipeline) -> bool:
    """Complete a package a crashed run extracted but did not load, before deciding what is new.

    If the warehouse refuses its rows, the package is taken out again: its files have no completed ledger
    row, so this run plans them afresh and isolates the file the warehouse refuses.
    """
    remove_kept_job_files(pipeline)
    if not pipeline.has_pending_data:
        return False
    log.warning("finishing the load a previous run left pending before looking for new files")
    startup_gc.resume()  # a whole package to load: the command line's start-up pause ends here
    release_held()  # dlt's load opens the DuckDB file with its own settings (duckdb_access.py)
    pipeline.normalize()
    archive_committed_packages(pipeline)
    if not pipeline.has_pending_data:
        return True
    replay_interrupted_jobs(pipeline)
    arm_load_points(pipeline)
    try:
        pipeline.load()
    except Exception as exc:
        if refusal_reason(exc) is None:
            raise
        discard_package(pipeline, getattr(exc, "load_id", None) or pending_load_id(pipeline))
    return True


def load_storage(pipeline: dlt.Pipeline) -> Any:  # noqa: ANN401 - dlt's LoadStorage, imported lazily
    """dlt's storage of this pipeline's load packages, configured as dlt's load step configures it.

    `LOAD__DELETE_COMPLETED_JOBS` (scheduled_run.apply_run_defaults) is resolved the way the load step
    resolves it, so a package archived here keeps or deletes its job files exactly as dlt would.
    """
    from dlt.common.configuration import resolve_configuration
    from dlt.common.storages import LoadStorage, LoadStorageConfiguration

    config = LoadStorageConfiguration(load_volume_path=str(Path(pipeline.working_dir) / "load"))
    return LoadStorage(False, [], resolve_configuration(config, sections=("load",)))


def committed_load_ids(pipeline: dlt.Pipeline, load_ids: list[str]) -> set[str]:
    """Which of `load_ids` already have their `_dlt_loads` row: the load is complete in the warehouse."""
    if not load_ids:
        return set()
    with dataset_client(pipeline) as client:
        if client is None or not table_exists(client, "_dlt_loads"):
            return set()
        loads = client.make_qualified_table_name("_dlt_loads")
        marks = ", ".join(["%s"] * len(load_ids))
        rows = client.execute_sql(f"select load_id from {loads} where load_id in ({marks})", *load_ids)
    return {str(row[0]) for row in rows or []}


def archive_committed_packages(pipeline: dlt.Pipeline) -> None:
    """Archive pending packages whose load the warehouse already completed, without loading them again.

    A kill right after dlt wrote the load's `_dlt_loads` row leaves its package pending with every job
    done; dlt would complete it once more and write a second row for the same load.
    """
    storage = load_storage(pipeline)
    if not storage.is_storage_ready():
        return
    pending = list(storage.list_normalized_packages())
    for load_id in sorted(committed_load_ids(pipeline, pending)):
        log.warning("load %s had already completed in the warehouse; archiving its package", load_id)
        if storage.normalized_packages.is_package_completed(load_id):
            # killed between dlt's "loaded" marker and the move: only the move is left to do
            storage.storage.rename_tree(storage.get_normalized_package_path(load_id),
                                        storage.get_loaded_package_path(load_id))
        else:
            storage.complete_load_package(load_id, False)
        storage.maybe_remove_completed_jobs(load_id)


def remove_kept_job_files(pipeline: dlt.Pipeline) -> None:
    """Delete the job files of the newest archived package when dlt was killed before deleting them.

    With `LOAD__DELETE_COMPLETED_JOBS` they are copies of loaded data (personal data included) that
    nothing reads; only the newest package can hold them, so this costs one folder listing.
    """
    storage = load_storage(pipeline)
    if not storage.config.delete_completed_jobs or not storage.is_storage_ready():
        return
    try:
        loaded = storage.list_loaded_packages()
    except FileNotFoundError:  # no package was ever loaded from this working folder
        return
    if loaded and storage.loaded_packages.get_load_package_jobs(loaded[-1]).get("completed_jobs"):
        storage.maybe_remove_completed_jobs(loaded[-1])


def replay_interrupted_jobs(pipeline: dlt.Pipeline) -> None:
    """Make resuming a package killed mid-load exactly-once.

    dlt re-runs a job that was in flight when the process died, but the job's transaction may already
    have committed (the crash fell between the commit and dlt recording the job's outcome): its rows would
    be loaded twice. So for every table of a pending package whose jobs did not all complete, the
    package's rows are deleted and all of that table's jobs run again: append tables (dlt's state table
    included) in the dataset; merge tables (the ledger) in the staging dataset their jobs copy into, where
    PostgreSQL's unique `_dlt_id` would refuse the second copy. The merge itself (a SQL job) is idempotent
    and is left to dlt. A job whose outcome dlt recorded (a pending transition) counts as completed: dlt
    finishes it without running it. Tables of jobs that never started are untouched.
    """
    from dlt.common.schema.utils import get_write_disposition

    storage = load_storage(pipeline)
    if not storage.is_storage_ready():
        return
    schema = pipeline.default_schema
    with pipeline.sql_client() as client:
        for load_id in storage.list_normalized_packages():
            if not load_id.replace(".", "").isdigit():
                continue
            for table, jobs in _jobs_by_table(storage.normalized_packages, load_id).items():
                states = {state for state, _, _ in jobs}
                if states <= {"completed"} or states == {"new"} or table not in schema.tables:
                    continue
                disposition = get_write_disposition(schema.tables, table)
                if disposition not in ("append", "merge"):
                    continue
                _delete_rows_of_load(client, table, load_id, staging=disposition == "merge")
                log.warning("replaying %s of interrupted load %s from scratch", table, load_id)
                _requeue(storage.normalized_packages, load_id,
                         [(folder, name) for state, folder, name in jobs if state != "new"])


def _delete_rows_of_load(client: Any, table: str, load_id: str, staging: bool) -> None:  # noqa: ANN401
    """Delete the rows `load_id` wrote to `table` (in the staging dataset when `staging`)."""
    if staging:
        with client.with_staging_dataset():
            name = client.make_qualified_table_name(table)
    else:
        name = client.make_qualified_table_name(table)
    try:
        client.execute_sql(f"delete from {name} where _dlt_load_id = '{load_id}'")
    except Exception:  # noqa: BLE001 - the table was never created: nothing to undo
        pass


def _jobs_by_table(packages: Any, load_id: str) -> dict[str, list[tuple[str, str, str]]]:  # noqa: ANN401
    """Each table's jobs of a package (but its SQL jobs) as (seen state, folder, file name), from dlt's own listing.

    A started job with a recorded outcome of `completed` counts as completed.
    """
    jobs: dict[str, list[tuple[str, str, str]]] = {}
    for folder, parsed in packages.get_load_package_jobs(load_id).items():
        state = folder.removesuffix("_jobs")
        for job in parsed if state in ("new", "started", "completed") else ():
            name = job.file_name()
            if job.file_format == "sql":
                continue  # a .sql job is a merge: idempotent, dlt runs it again as it is
            pending = packages.load_pending_transition(load_id, name) if state == "started" else None
            seen = "completed" if pending is not None and pending[0] == "completed" else state
            jobs.setdefault(job.table_name, []).append((seen, folder, name))
    return jobs


def _requeue(packages: Any, load_id: str, jobs: list[tuple[str, str]]) -> None:  # noqa: ANN401
    """Move started and completed jobs back to new_jobs, dropping any outcome dlt recorded for them."""
    for folder, name in jobs:
        packages.clear_pending_transition(load_id, name)
        packages.storage.atomic_rename(packages.get_job_file_path(load_id, folder, name),
                                       packages.get_job_file_path(load_id, packages.NEW_JOBS_FOLDER, name))


def pending_load_id(pipeline: dlt.Pipeline) -> str:
    return pipeline.list_normalized_load_packages()[0]
