"""A file loaded again (`--reload`, a retried quarantine) replaces its earlier rows; it never adds to them.

Rows keep the `_dlt_id` derived from file path and line, so two copies of a line would break every
grain test downstream. The new copy is loaded first, in its own package, and the ledger row of the file
says `cleanup_pending`. After that load completed, rows of the file that belong to any other load are
deleted (child rows first, by their root session), then the flag is cleared. A crash in between leaves
the flag set and the next run finishes the cleanup before it plans anything, so the raw tables hold
exactly one copy of each line, and never zero: the old copy goes only once the new one is in.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import dlt

from dlt_pipeline.session_stream.ledger import (
    LEDGER_TABLE,
    REJECTS_TABLE,
    completed_loads,
    dataset_client,
    table_exists,
)

log = logging.getLogger("session_stream")
CLEANUP_COLUMN = "cleanup_pending"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def remove_superseded_rows(pipeline: dlt.Pipeline) -> int:
    """Delete rows of re-loaded files that belong to an older load; return how many files were cleaned."""
    with dataset_client(pipeline) as client:
        if client is None or not table_exists(client, LEDGER_TABLE):
            return 0
        ledger = client.make_qualified_table_name(LEDGER_TABLE)
        try:
            pending = client.execute_sql(f"select file_path, load_id from {ledger} where {CLEANUP_COLUMN} "
                                         f"and {completed_loads(client)}") or []
        except Exception:  # noqa: BLE001 - a ledger from before this column existed has nothing pending
            return 0
        by_load: dict[str, list[str]] = defaultdict(list)
        for path, load_id in pending:
            by_load[load_id].append(path)
        for load_id, paths in by_load.items():
            _delete_older_copies(client, pipeline, load_id, paths)
            client.execute_sql(f"update {ledger} set {CLEANUP_COLUMN} = false "
                               f"where file_path in ({', '.join(map(_quote, paths))})")
        if pending:
            log.info("replaced the earlier rows of %d re-loaded file(s)", len(pending))
        return len(pending)


def _delete_older_copies(client: Any, pipeline: dlt.Pipeline, load_id: str, paths: list[str]) -> None:
    """Rows of `paths` from loads other than `load_id`, in every raw table: children, sessions, rejects."""
    from dlt_pipeline.session_stream.reshape import SESSIONS  # Arrow: only after a reload, not on every run

    in_paths = ", ".join(map(_quote, paths))
    keep = _quote(load_id)
    tables = set(pipeline.default_schema.data_table_names())
    sessions = client.make_qualified_table_name(SESSIONS)
    older = f"select _dlt_id from {sessions} where _source_path in ({in_paths}) and _dlt_load_id <> {keep}"
    for table in sorted(t for t in tables if t.startswith(f"{SESSIONS}__")):
        if table_exists(client, table):
            name = client.make_qualified_table_name(table)
            client.execute_sql(f"delete from {name} where _dlt_load_id <> {keep} and _dlt_root_id in ({older})")
    if SESSIONS in tables and table_exists(client, SESSIONS):
        client.execute_sql(f"delete from {sessions} where _source_path in ({in_paths}) and _dlt_load_id <> {keep}")
    if REJECTS_TABLE in tables and table_exists(client, REJECTS_TABLE):
        rejects = client.make_qualified_table_name(REJECTS_TABLE)
        client.execute_sql(f"delete from {rejects} where file_path in ({in_paths}) and load_id <> {keep}")
