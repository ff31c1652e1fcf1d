"""The file ledger (`session_stream_files`) lives in the warehouse, next to the data it describes.

Keeping it in the destination, written in the same load package as the rows, means the ledger and the
data can never disagree: a file counts as loaded only when its ledger row belongs to a completed dlt
load. Losing the local pipeline folder (a new machine, a wiped container) does not reload anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import dlt

from dlt_pipeline.session_stream.reshape import SESSIONS

LEDGER_TABLE = "session_stream_files"
REJECTS_TABLE = "session_stream_rejects"


LOADED, QUARANTINED, UNREADABLE = "loaded", "quarantined", "unreadable"
"""Ledger statuses: rows are in the warehouse / the file is in quarantine / the server refused to let us read it."""


@dataclass(frozen=True)
class LedgerEntry:
    """What the ledger says about one file, from a completed load."""

    status: str
    size: int | None
    modified: float | None  # Unix seconds
    load_id: str


@dataclass
class Ledger:
    """Ledger rows of completed loads: every file of the days a run lists, and every file not loaded."""

    entries: dict[str, LedgerEntry] = field(default_factory=dict)

    def not_loaded(self) -> dict[str, LedgerEntry]:
        """Quarantined and unreadable files, of any day: what a retry can reach whatever its age."""
        return {path: e for path, e in self.entries.items() if e.status != LOADED}


def table_exists(client: Any, table: str) -> bool:
    try:
        client.execute_sql(f"select 1 from {client.make_qualified_table_name(table)} where 1 = 0")
        return True
    except Exception:  # noqa: BLE001 - "relation does not exist" looks different on every destination
        return False


def completed_loads(client: Any) -> str:
    loads = client.make_qualified_table_name("_dlt_loads")
    return f"_dlt_load_id in (select load_id from {loads} where status = 0)"


def last_loaded_day(pipeline: dlt.Pipeline) -> date | None:
    """The latest day folder with a loaded file: where the next run's look-back is measured from."""
    with dataset_client(pipeline) as client:
        if client is None or not table_exists(client, LEDGER_TABLE):
            return None
        files = client.make_qualified_table_name(LEDGER_TABLE)
        rows = client.execute_sql(f"select max(day) from {files} where status = 'loaded' and {completed_loads(client)}")
        return _as_date(rows[0][0]) if rows and rows[0][0] is not None else None


def read_ledger(pipeline: dlt.Pipeline, since: date) -> Ledger:
    """Ledger rows of completed loads for day folders from `since` on, plus every file not loaded."""
    ledger = Ledger()
    with dataset_client(pipeline) as client:
        if client is None or not table_exists(client, LEDGER_TABLE):
            return ledger
        files = client.make_qualified_table_name(LEDGER_TABLE)
        query = (f"select file_path, status, size_bytes, modified_at, load_id from {files} "
                 f"where (day >= '{since.isoformat()}' or status <> '{LOADED}') and {completed_loads(client)}")
        for path, status, size, modified, load_id in client.execute_sql(query) or []:
            ledger.entries[path] = LedgerEntry(status, size, _epoch(modified), load_id)
    return ledger


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC).timestamp()


@contextmanager
def dataset_client(pipeline: dlt.Pipeline) -> Iterator[Any]:
    """A SQL client on the destination dataset, or None before the first load created it."""
    try:
        client_cm = pipeline.sql_client()
    except Exception:  # noqa: BLE001 - no destination state yet
        yield None
        return
    with client_cm as client:
        yield client


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def raw_counts(pipeline: dlt.Pipeline) -> dict[str, int]:
    """Rows of completed loads per raw table, for the run summary."""
    out: dict[str, int] = {}
    with pipeline.sql_client() as client:
        loads = client.make_qualified_table_name("_dlt_loads")
        for table in sorted(pipeline.default_schema.data_table_names()):
            if table != SESSIONS and not table.startswith(f"{SESSIONS}__"):
                continue
            name = client.make_qualified_table_name(table)
            rows = client.execute_sql(
                f"select count(*) from {name} where _dlt_load_id in (select load_id from {loads} where status = 0)")
            out[table] = int(rows[0][0])
    return out
