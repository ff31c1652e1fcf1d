"""The file ledger (`session_stream_files`) lives in the warehouse, next to the data it describes.

Keeping it in the destination, written in the same load package as the rows, means the ledger and the
data can never disagree: a file counts as loaded only when its ledger row belongs to a completed dlt
load. Losing the local pipeline folder (a new machine, a wiped container) does not reload anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import dlt

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
    return _read_entries(pipeline, f"(day >= '{since.isoformat()}' or status <> '{LOADED}')")


def ledger_between(pipeline: dlt.Pipeline | None, first: date, last: date) -> Ledger:
    """Ledger rows of completed loads for the day folders first..last, whatever their status.

    For `--check` and the retention guard, which compare a few day folders with the server; an empty
    ledger before the first load.
    """
    return _read_entries(pipeline, f"day between '{first.isoformat()}' and '{last.isoformat()}'")


def _read_entries(pipeline: dlt.Pipeline | None, where: str) -> Ledger:
    """Ledger rows of completed loads matching `where` (dates only, never user text); empty before the first load."""
    ledger = Ledger()
    with dataset_client(pipeline) as client:
        if client is None or not table_exists(client, LEDGER_TABLE):
            return ledger
        files = client.make_qualified_table_name(LEDGER_TABLE)
        query = (f"select file_path, status, size_bytes, modified_at, load_id from {files} "
                 f"where {where} and {completed_loads(client)}")
        for path, status, size, modified, load_id in client.execute_sql(query) or []:
            ledger.entries[path] = LedgerEntry(status, size, _epoch(modified), load_id)
    return ledger


def ledger_sources(pipeline: dlt.Pipeline) -> list[tuple[Any, Any]] | None:
    """Distinct (source_account, source_location) of the ledger's completed rows; None before the first load.

    A ledger written before these columns existed gives one (None, None) pair when it has rows (identity.py).
    """
    with dataset_client(pipeline) as client:
        if client is None or not table_exists(client, LEDGER_TABLE):
            return None
        files = client.make_qualified_table_name(LEDGER_TABLE)
        try:
            return list(client.execute_sql(f"select distinct source_account, source_location from {files} "
                                           f"where {completed_loads(client)}") or [])
        except Exception:  # noqa: BLE001 - no identity columns yet: a ledger of an earlier version
            rows = client.execute_sql(f"select count(*) from {files} where {completed_loads(client)}")
            return [(None, None)] if rows and rows[0][0] else []


def ledger_digests(pipeline: dlt.Pipeline, paths: set[str]) -> dict[str, str]:
    """The sha256 the ledger recorded for these files (completed loads), so a re-download can be compared.

    Empty for a ledger written before the column existed (the query then fails; nothing to compare).
    """
    out: dict[str, str] = {}
    wanted = sorted(paths)
    with dataset_client(pipeline) as client:
        if client is None or not wanted or not table_exists(client, LEDGER_TABLE):
            return out
        files = client.make_qualified_table_name(LEDGER_TABLE)
        for start in range(0, len(wanted), 500):
            listed = ", ".join("'" + p.replace("'", "''") + "'" for p in wanted[start:start + 500])
            try:
                rows = client.execute_sql(f"select file_path, sha256 from {files} where file_path in ({listed}) "
                                          f"and sha256 is not null and {completed_loads(client)}") or []
            except Exception:  # noqa: BLE001 - no sha256 column yet
                return out
            out.update({path: digest for path, digest in rows})
    return out


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC).timestamp()


_SHARED: ContextVar[tuple[Any, Any, Any] | None] = ContextVar("session_stream_shared_client", default=None)


class _Keep:
    """A `shared_client` block's request to leave its connection open after the block (`keep_shared`)."""

    def __init__(self) -> None:
        self.wanted = False


_KEPT: list[tuple[Any, Any, Any]] = []
"""(pipeline, context manager, client) of a connection `shared_client` left open; at most one."""


@contextmanager
def shared_client(pipeline: dlt.Pipeline,
                  retry_if: Callable[[BaseException], bool] | None = None) -> Iterator[None]:
    """Inside this block every `dataset_client(pipeline)` is one and the same connection.

    Each `pipeline.sql_client()` resolves dlt's destination configuration and opens the database anew,
    ~40-60 ms; planning a run asks the ledger five or six times (cleanup, retention guard, last loaded day,
    ledger rows, ...), which was most of a run with nothing new (docs/benchmark.md). Only for phases that
    read and write through SQL: dlt's own extract and load run outside it.

    When `keep_shared` was called inside the block (the command line's run with nothing to load, see
    `head_start.py`), the connection stays open after it for the run's history row (`kept_client`) until
    `close_kept()`. Opening it is tried once more when `retry_if(error)` says so (it settled the cause).
    """
    close_kept()
    client_cm, client = _open(pipeline, retry_if)
    keep = _Keep()
    token = _SHARED.set((pipeline, client, keep))
    try:
        yield
    except BaseException as exc:
        _SHARED.reset(token)
        if client_cm is not None:
            client_cm.__exit__(type(exc), exc, exc.__traceback__)
        raise
    _SHARED.reset(token)
    if client_cm is None:
        return
    if keep.wanted:
        _KEPT.append((pipeline, client_cm, client))
    else:
        client_cm.__exit__(None, None, None)


def _open(pipeline: dlt.Pipeline, retry_if: Callable[[BaseException], bool] | None) -> tuple[Any, Any]:
    """dlt's SQL client of the pipeline and its open connection; (None, None) before the destination exists."""
    try:
        client_cm = pipeline.sql_client()
    except Exception:  # noqa: BLE001 - no destination state yet
        return None, None
    try:
        return client_cm, client_cm.__enter__()
    except Exception as exc:
        if retry_if is None or not retry_if(exc):
            raise
    client_cm = pipeline.sql_client()  # `retry_if` settled the cause: once more
    return client_cm, client_cm.__enter__()


def keep_shared(pipeline: dlt.Pipeline) -> None:
    """Ask the current `shared_client` block of this pipeline to leave its connection open (none: no effect)."""
    shared = _SHARED.get()
    if shared is not None and shared[0] is pipeline and shared[1] is not None:
        shared[2].wanted = True


def kept_client(pipeline: dlt.Pipeline) -> Any | None:
    """The connection a `shared_client` block of this pipeline left open, or None."""
    return _KEPT[0][2] if _KEPT and _KEPT[0][0] is pipeline else None


def kept_pipeline() -> Any | None:
    """The pipeline whose connection a `shared_client` block left open, or None."""
    return _KEPT[0][0] if _KEPT else None


def close_kept() -> None:
    """Close the connection `shared_client` left open, if any (safe to call any number of times)."""
    while _KEPT:
        _pipeline, client_cm, _client = _KEPT.pop()
        client_cm.__exit__(None, None, None)


@contextmanager
def dataset_client(pipeline: dlt.Pipeline) -> Iterator[Any]:
    """A SQL client on the destination dataset, or None before the first load created it."""
    shared = _SHARED.get()
    if shared is not None and shared[0] is pipeline:
        yield shared[1]
        return
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
    from dlt_pipeline.session_stream.reshape import SESSIONS  # Arrow: only when counting, not on every run

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
