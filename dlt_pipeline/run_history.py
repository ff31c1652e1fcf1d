"""Run history for the command line: every run leaves one `session_stream_runs` row, and `--json` prints it.

Design (the one question this module answers): a run's row should exist atomically with its data, but the
row that travels with the data cannot know what happens after the package is written: the load's seconds,
the finish time, the exit code and its message (a metadata refresh after the load can still change it).
So a row is written in at most two steps, always under the run's `RunLock`:

1. The source yields the row as the last item of the run's load package (`session_stream/run_row.py`),
   with every figure known by then and the completion columns (`finished_at`, `load_seconds`,
   `exit_code`, `message`, `metadata_refresh`) NULL. History and data commit together, in any dlt
   pipeline, also a user's own.
2. At the end of the command line's run `finish` completes it: one `UPDATE ... WHERE run_id = ...` of all
   the row's figures (when a refused package is loaded again in parts, the first part that loads
   carries the row, so the run's totals come from here). When no row of this run is in the warehouse (nothing new, a
   failure before the load) the whole row is written by one INSERT; only into a warehouse without the
   table yet (the very first run, or a column a newer loader added) by a separate small dlt load.

Why not a dlt `merge` on run_id for step 2: every merge load builds a staging table and costs a full dlt
extract/normalize/load, about a second of dlt's configuration work even for one row, which would double a
no-op run; the UPDATE/INSERT costs 0.1-0.2 s (measured, README "Operating it"). The table stays append-only.
The price: an inserted row's `_dlt_load_id` is its run id, not a dlt load (docs/raw_tables.md says so).

A row with `finished_at` NULL therefore means "written by the source": in a user's own pipeline always;
from the command line, a run killed (or that lost the warehouse mid-load) after its package was written:
its data and row were loaded (possibly by the next run, which finishes pending packages first), its
outcome never known. While such a package is pending, the failed run writes no second row. A run stopped
by the lock (exit 5) writes no row: the pipeline belongs to the run holding it. A failure to write the
history is logged and never changes the exit code.

`print_json(obj)` writes one JSON object to stdout; `--json` uses it for the run summary and `--check`
(completeness.py) for its report. Everything else the loader says goes to stderr when `--json` is on.
The state of the current run lives in this module (one run per process), so `command.py` only needs
hooks: `begin` before the load, `loaded` after it, `note_metadata` for the refresh, `finish` at the end.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import dlt
from dlt.common.utils import uniq_id

from dlt_pipeline.exception_chain import first_line
from dlt_pipeline.exit_codes import EXIT_LOCKED, EXIT_METADATA, EXIT_USAGE
from dlt_pipeline.lock import LockBusy, RunLock
from dlt_pipeline.scheduled_run import make_pipeline
from dlt_pipeline.session_stream.ledger import close_kept, kept_client, kept_pipeline, table_exists
from dlt_pipeline.session_stream.run_row import COLUMNS, RUNS_TABLE, run_row, without_password
from dlt_pipeline.session_stream.run_stats import RunStats
from dlt_pipeline.settings import Settings

if TYPE_CHECKING:
    from dlt_pipeline.metadata_refresh import RefreshOutcome

log = logging.getLogger("session_stream")
INVOKED_AS = "run.py"


@dataclass
class _Run:
    """The command line's current run: its statistics and what its load step ended with."""

    settings: Settings
    stats: RunStats
    code: int | None = None
    message: str | None = None


_current: _Run | None = None
_metadata: RefreshOutcome | None = None


def begin(settings: Settings) -> RunStats:
    """Start recording a session load; the returned statistics fill as the run goes (also if it raises)."""
    global _current
    _current = _Run(settings, RunStats(source=without_password(settings.source)))
    return _current.stats


def loaded(code: int, message: str | None = None) -> None:
    """The load step's exit code and, when it failed, its one-line message."""
    if _current is not None:
        _current.code, _current.message = code, message


def note_metadata(outcome: RefreshOutcome) -> None:
    """The metadata refresh's outcome, for the row's `metadata_refresh` and the JSON's `metadata`."""
    global _metadata
    _metadata = outcome


def finish(settings: Settings, code: int) -> int:
    """Complete (or write) this run's row, print the JSON summary when asked; returns `code` unchanged."""
    global _current, _metadata
    row = None
    recorded = False
    try:
        if _current is not None and _current.code != EXIT_LOCKED:
            row = completed_row(_current, code)
            recorded = record(_current.settings, _current.stats, row)
        if settings.json:
            print_json(report(row, code, recorded))
    finally:
        _current = _metadata = None  # a second command in the same process starts afresh
        close_kept()
    return code


def completed_row(run: _Run, code: int) -> dict[str, Any]:
    """The run's full row: the source's figures plus the finish time, the load's seconds and the outcome."""
    stats, now = run.stats, datetime.now(UTC)
    row = run_row(stats, run.settings.load_options(), run.settings.destination, run.settings.dataset_name,
                  INVOKED_AS)
    row.update(finished_at=now, load_seconds=round(stats.load_seconds, 3),
               seconds=round((now - stats.started_at).total_seconds(), 3), exit_code=code,
               message=_message(run, code), metadata_refresh=_metadata.status if _metadata else None)
    return row


def _message(run: _Run, code: int) -> str | None:
    """One line saying why the exit code is not 0 (None when it is)."""
    if run.message:
        return run.message
    if run.stats.fatal:
        return run.stats.fatal
    if _metadata is not None and code == EXIT_METADATA:
        return f"metadata refresh failed: {_metadata.message}"
    stats = run.stats
    if stats.files_quarantined or stats.unreadable or stats.rejected_lines:
        return (f"{len(stats.files_quarantined)} file(s) quarantined, {len(stats.unreadable)} unreadable, "
                f"{stats.rejected_lines} line(s) quarantined (see session_stream_rejects)")
    return None


def record(settings: Settings, stats: RunStats, row: dict[str, Any]) -> bool:
    """Write the row: complete the one in the data's package, else insert it. False when it could not.

    A history write never changes the run's exit code: a warehouse that is down is what the run is
    reporting already, and a pending package (the load failed midway) is finished by the next run.
    """
    try:
        pipeline = _pipeline(settings)
        with RunLock(pipeline, settings):
            if stats.history_load_id is not None and _update(pipeline, row):
                return True
            if pipeline.has_pending_data:
                log.warning("this run is not in %s yet: a load package is pending (the next run loads it)",
                            RUNS_TABLE)
                return False
            if not _insert(pipeline, row):
                close_kept()  # dlt's load opens the warehouse itself
                _load(pipeline, row)
            return True
    except LockBusy:
        log.warning("this run is not recorded in %s: another run holds the lock", RUNS_TABLE)
    except Exception as exc:  # noqa: BLE001 - history must never hide the run's own outcome
        first = first_line(exc)
        log.warning("could not record this run in %s: %s", RUNS_TABLE, first)
    return False


def _pipeline(settings: Settings) -> dlt.Pipeline:
    """The run's own pipeline when dlt still has it active (making one again costs a tenth of a second).

    A run with nothing new left it with its open connection (`ledger.kept_pipeline`): taken from there, as
    `dlt.current.pipeline()` resolves dlt's pipeline configuration again before it returns the active one
    (0.03-0.05 s).
    """
    active = kept_pipeline()
    if active is None:
        try:
            active = dlt.current.pipeline()
        except Exception:  # noqa: BLE001 - no pipeline was made in this process (the run failed before)
            active = None
    if active is not None and active.pipeline_name == settings.pipeline_name and \
            active.dataset_name == settings.dataset_name:
        return active
    return make_pipeline(settings)


def _insert(pipeline: dlt.Pipeline, row: dict[str, Any]) -> bool:
    """One INSERT of the row into the existing table; False when the table (or a column) is not there yet.

    A dlt load of one row costs about a second of configuration and bookkeeping, most of a no-op run; a
    plain INSERT costs milliseconds. The row's `_dlt_load_id` is then the run id: no dlt load wrote it.
    """
    try:
        kept = kept_client(pipeline)  # a run with nothing new left its plan's connection open for this
        if kept is not None:
            return _insert_with(kept, row)
        with pipeline.sql_client() as client:
            return _insert_with(client, row)
    except Exception as exc:  # noqa: BLE001 - e.g. a column a newer loader added: the dlt load below adds it
        log.info("the run history row needs a dlt load (%s)", first_line(exc, 200))
        return False


def _insert_with(client: Any, row: dict[str, Any]) -> bool:
    if not table_exists(client, RUNS_TABLE):
        return False
    values = {**row, "_dlt_load_id": row["run_id"], "_dlt_id": uniq_id()}
    names = ", ".join(client.escape_column_name(name) for name in values)
    client.execute_sql(f"insert into {client.make_qualified_table_name(RUNS_TABLE)} ({names}) "
                       f"values ({', '.join(['%s'] * len(values))})", *values.values())
    return True


def _load(pipeline: dlt.Pipeline, row: dict[str, Any]) -> None:
    """The row as its own small dlt load: creates (or widens) the table, in the source's own dlt schema."""
    schema = pipeline.default_schema if pipeline.default_schema_name else dlt.Schema("session_stream")
    pipeline.run(dlt.resource([row], name=RUNS_TABLE, write_disposition="append", columns=COLUMNS), schema=schema)


def _update(pipeline: dlt.Pipeline, row: dict[str, Any]) -> bool:
    """Overwrite this run's row (written with its data) with the final figures; False if it is not there."""
    with pipeline.sql_client() as client:
        if not table_exists(client, RUNS_TABLE):  # the package never loaded (e.g. failed in normalize)
            return False
        table = client.make_qualified_table_name(RUNS_TABLE)
        names = [name for name in row if name != "run_id"]
        assignments = ", ".join(f"{client.escape_column_name(name)} = %s" for name in names)
        client.execute_sql(f"update {table} set {assignments} where run_id = %s",
                           *[row[name] for name in names], row["run_id"])
        found = client.execute_sql(f"select count(*) from {table} where run_id = %s", row["run_id"])
    return bool(found and found[0][0])


def report(row: dict[str, Any] | None, code: int, recorded: bool) -> dict[str, Any]:
    """The `--json` object: the history row's fields, the lists behind its counts, and the metadata refresh."""
    failed = _metadata.message if _metadata is not None and code != 0 else ""
    out: dict[str, Any] = dict(row) if row else {"exit_code": code, "message": failed or None}
    out["recorded"] = recorded
    if _current is not None:
        stats = _current.stats
        out["quarantined"] = [{"file": path, "reason": reason} for path, reason in stats.files_quarantined]
        out["unreadable"] = [{"file": path, "reason": reason} for path, reason in stats.unreadable]
        out["waiting"] = list(stats.waiting)
        out["changed"] = list(stats.changed)
        out["odd_names"] = list(stats.odd_names)
        out["rejected_line_examples"] = [{"file": path, "line": line, "reason": reason}
                                         for path, line, reason in stats.reject_examples]
    out["metadata"] = None if _metadata is None else {
        "status": _metadata.status, "message": _metadata.message or None, "tables": dict(_metadata.counts),
        "seconds": round(_metadata.seconds, 3), "last_ok": _metadata.last_ok}
    return out


def usage_error(message: str) -> dict[str, Any]:
    """The `--json` object of a run stopped by bad options (exit 2): nothing ran, nothing was recorded."""
    return {"exit_code": EXIT_USAGE, "message": message, "recorded": False}


def _jsonable(value: Any) -> Any:  # noqa: ANN401
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def print_json(obj: Any) -> None:  # noqa: ANN401
    """Print `obj` as one line of JSON on stdout (dates as ISO 8601), for schedulers and alerting."""
    sys.stdout.write(json.dumps(obj, default=_jsonable) + "\n")
    sys.stdout.flush()
